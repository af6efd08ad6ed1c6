"""Writes notebooks/01-04 from the cell sources below (outputs empty, `parameters` tag set).

Edit the cells here, then run `python scripts/build_notebooks.py`; tests/test_notebooks.py checks
that the committed notebooks match this script and carry no outputs.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = "vdiff-notebooks/vdiff-notebooks"  # GitHub owner/name; change it in a fork
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def badge(name: str) -> str:
    url = f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


SETUP = """# Setup. In Colab: install the project from INSTALL_FROM with pip, holding every package Colab
# preinstalled at its version (a changed ipykernel, tornado or pyzmq can crash the runtime,
# googlecolab/colabtools#2837). Elsewhere: use this checkout.
import subprocess, sys, tempfile
from pathlib import Path

IN_COLAB = "google.colab" in sys.modules
if IN_COLAB and INSTALL_FROM:
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    def installed(names):
        found = {}
        for name in names:
            try:
                found[name] = version(name)
            except PackageNotFoundError:
                found[name] = None
        return found

    # Packages this runtime has imported already: should pip replace one (numpy is the usual one,
    # googlecolab/colabtools#5205), the old copy stays in memory and fails later with a binary error.
    owners = packages_distributions()
    loaded = installed({d for m in list(sys.modules) for d in owners.get(m.partition(".")[0], [])})
    keep = []
    for name in ("torch", "torchvision", "numpy", "ipython", "ipykernel", "ipywidgets", "notebook",
                 "jupyter-client", "tornado", "pyzmq", "traitlets"):
        try:
            keep.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pass
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("\\n".join(keep))
    if INSTALL_FROM.startswith("/content/drive/"):  # a checkout on Drive: mount Drive first
        from google.colab import drive
        drive.mount("/content/drive")
    source = INSTALL_FROM if "://" in INSTALL_FROM else str(Path(INSTALL_FROM).expanduser())
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-c", constraints.name, source],
                         capture_output=True, text=True)  # Colab does not show a subprocess's output
    if pip.returncode != 0:
        print("\\n".join((pip.stdout + pip.stderr).splitlines()[-30:]))
        raise RuntimeError(f"pip could not install the project from INSTALL_FROM = {INSTALL_FROM!r}: if its last "
                           "lines above say the URL or path cannot be reached, fix INSTALL_FROM (a private "
                           "repository needs a token in the URL; or give the path of a checkout on Drive) and run "
                           "this cell again; if they name a conflict with Colab's packages, please report them") from None
    import importlib
    importlib.invalidate_caches()
    replaced = [f"{name} {was} -> {now}" for name, now in installed(loaded).items() if now != (was := loaded[name])]
    if replaced:
        class RestartRuntime(Exception):
            def _render_traceback_(self):  # IPython shows this one line
                return [str(self)]
        raise RestartRuntime(f"Restart the runtime (Runtime > Restart session), then run all cells again: the install "
                             f"replaced {', '.join(replaced)}, which this runtime had already imported")
elif not IN_COLAB:
    repo_root = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "vdiff").is_dir()), None)
    if repo_root is not None and str(repo_root) not in sys.path:
        sys.path.insert(0, str(repo_root))

from vdiff.colab import NotebookStop, resolve, show_gifs, storage_root
ROOT = storage_root(USE_DRIVE)
print("folders live under", ROOT)"""

ENV = """from vdiff.env import env_report
print(env_report())"""


# Every notebook's form ends with these: Drive storage, where the Colab install comes from, CI's small run.
COMMON_PARAMS = [
    "#@markdown In Colab each notebook runs in its own runtime: keep the folders on Google Drive so the next notebook finds them.",
    "USE_DRIVE = True  #@param {type:\"boolean\"}",
    "#@markdown Where the setup cell installs this project from in Colab: a pip-installable git URL (your fork) or a path, e.g. a checkout on Drive.",
    f"INSTALL_FROM = \"git+https://github.com/{REPO}\"  #@param {{type:\"string\"}}",
    "SMOKE = False  #@param {type:\"boolean\"}",
]


def params(lines: list[str]) -> nbformat.NotebookNode:
    cell = new_code_cell("#@title Parameters\n" + "\n".join(lines + COMMON_PARAMS))
    cell.metadata["tags"] = ["parameters"]
    return cell


def notebook(out_dir: Path, name: str, title: str, about: str, cells: list, *, gpu: bool) -> None:
    """Write one notebook; ``gpu`` asks Colab for a GPU runtime (a T4, which the free tier has)."""
    nb = new_notebook(cells=[new_markdown_cell(f"# {title}\n\n{badge(name)}\n\n{about}"), *cells])
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # stable ids: rebuilding leaves an unchanged notebook byte for byte
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["colab"] = {"provenance": []}
    if gpu:
        nb.metadata["accelerator"] = "GPU"
        nb.metadata["colab"]["gpuType"] = "T4"
    nbformat.write(nb, out_dir / name)


def build(out_dir: Path = NOTEBOOKS) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook(
        out_dir,
        "01_prepare_data.ipynb",
        "01 · Prepare a text-video dataset",
        "Turns a dataset source into the folder of `<name>.gif` + `<name>.txt` pairs that training reads "
        "(plus `manifest.jsonl` and `prepare_report.json`), validates it and shows a grid of clips with "
        "their captions. The default source, labeled moving digits, is generated locally with true captions "
        "(\"digit 5 moving left\") and needs no network; MSR-VTT and canonical Moving MNIST are downloaded "
        "on request. Any runtime works: this notebook needs no GPU.\n\n"
        "The clips get the size and frame count of the preset notebook 02 will train (`PRESET`); in Colab "
        "they land on your Drive, where 02 finds them in its own runtime.",
        [
            params([
                'SOURCE = "labeled_digits"  #@param ["labeled_digits", "moving_mnist", "msrvtt_hf", "msrvtt_kaggle", "msrvtt_path", "gif_folder", "gif_zip", "videos"]',
                'DATA_DIR = "data/digits"  #@param {type:"string"}',
                'SRC_PATH = ""  #@param {type:"string"}',
                "NUM_CLIPS = 4000  #@param {type:\"integer\"}",
                "#@markdown The preset notebook 02 will train: `auto` is what 02's `auto` picks on this runtime (moving_mnist, 64x64 and 16 frames, on a GPU with 20 GB or more; else tiny, 32x32 and 8 frames). Preparing here for an A100/L4 runtime of 02? Choose moving_mnist.",
                'PRESET = "auto"  #@param ["auto", "tiny", "moving_mnist", "msrvtt"]',
                'SIZE = "auto"  #@param ["auto", "32", "64"]',
                'FRAMES = "auto"  #@param ["auto", "8", "16"]',
                'CAPTION = "auto"  #@param ["auto", "txt", "filename", "model", "none"]',
            ]),
            new_code_cell(SETUP),
            new_code_cell(ENV),
            new_code_cell(
                "from vdiff.colab import clip_shape, suggest_preset\n\n"
                "# The clips match what notebook 02 trains, so they are never upscaled or their frames repeated.\n"
                "preset = \"smoke\" if SMOKE else suggest_preset() if PRESET == \"auto\" else PRESET\n"
                "size, frames = clip_shape(preset)\n"
                "size, frames = size if SIZE == \"auto\" else int(SIZE), frames if FRAMES == \"auto\" else int(FRAMES)\n"
                "if SMOKE:  # CI runs the notebook in about a minute on a CPU\n"
                "    NUM_CLIPS = 24\n"
                "data_dir = resolve(ROOT, DATA_DIR)\n"
                "print(f\"{NUM_CLIPS} clips of {size}x{size}, {frames} frames into {data_dir}: \"\n"
                "      f\"what preset {preset} trains (notebook 02 with PRESET = {preset!r} or 'auto' on this runtime)\")"
            ),
            new_code_cell(
                "import data_prep\n\n"
                "if SOURCE == \"labeled_digits\":\n"
                "    report = data_prep.prepare_moving_mnist(data_dir, num=NUM_CLIPS, size=size, frames=frames)\n"
                "elif SOURCE == \"moving_mnist\":  # downloads mnist_test_seq.npy (~800 MB) unless SRC_PATH names it\n"
                "    report = data_prep.prepare_moving_mnist(data_dir, canonical=True, num=NUM_CLIPS, size=size, frames=frames,\n"
                "                                            canonical_path=SRC_PATH or None, download=not SRC_PATH)\n"
                "elif SOURCE.startswith(\"msrvtt\"):\n"
                "    source = {\"msrvtt_hf\": \"hf\", \"msrvtt_kaggle\": \"kaggle\"}.get(SOURCE, SRC_PATH)\n"
                "    report = data_prep.prepare_msrvtt(data_dir, source=source, limit=NUM_CLIPS, size=size, frames=frames)\n"
                "elif SOURCE in (\"gif_folder\", \"gif_zip\"):\n"
                "    src = Path(SRC_PATH)\n"
                "    if SOURCE == \"gif_zip\":  # a zip of GIFs, e.g. uploaded to Colab's file pane\n"
                "        import zipfile\n"
                "        src = data_dir.parent / (data_dir.name + \"_unzipped\")\n"
                "        zipfile.ZipFile(SRC_PATH).extractall(src)\n"
                "    report = data_prep.prepare_gif_folder(src, data_dir, caption=CAPTION, size=size, frames=frames)\n"
                "elif SOURCE == \"videos\":\n"
                "    report = data_prep.prepare_videos(Path(SRC_PATH), data_dir, caption=CAPTION, size=size, frames=frames)\n"
                "else:\n"
                "    raise NotebookStop(f\"unknown SOURCE {SOURCE!r}: choose one from the form's list\")\n"
                "print(report)"
            ),
            new_code_cell(
                "summary = data_prep.validate(data_dir)\n"
                "print(summary)"
            ),
            new_code_cell(
                "from IPython.display import Image, display\n\n"
                "sheet = data_prep.preview(data_dir)\n"
                "display(Image(filename=str(sheet)))\n"
                "gifs = sorted(data_dir.glob(\"*.gif\"))[:8]\n"
                "show_gifs(gifs, [g.with_suffix(\".txt\").read_text(encoding=\"utf-8\").strip() for g in gifs])"
            ),
        ],
        gpu=False,
    )

    notebook(
        out_dir,
        "02_train.ipynb",
        "02 · Train the video diffusion model",
        "Trains vdiff's improved 3D UNet (AdaGN text/time conditioning, temporal attention, EMA with "
        "warm-up, optional perceptual loss) on a folder of GIF + caption pairs made by notebook 01, from "
        "scratch or, with `INIT_FROM`, from a run you trained before (fine-tuning on your own clips). One "
        "trainer run shows a live loss plot, the newest sample GIFs from the EMA and online models and one "
        "strip per sample step (the same prompts and seeds each time); the run folder holds checkpoints "
        "that resume exactly, so after a Colab disconnect you run this notebook again and training "
        "continues with the run's own preset.\n\n"
        "In Colab the data is copied from Drive to the runtime's disk once, training reads and writes "
        "there, and each checkpoint is copied to Drive as it is written (`LOCAL_FIRST`): a Drive that "
        "drops out mid-run no longer ends it.\n\n"
        "Runtime: a GPU. A free T4 works (it trains in fp16; `auto` picks `tiny` there); an A100 or L4 "
        "(bf16) trains `moving_mnist`. The `tiny` preset also learns on a CPU in about 20 minutes.",
        [
            params([
                'DATA_DIR = "data/digits"  #@param {type:"string"}',
                'RUN_DIR = "runs/digits"  #@param {type:"string"}',
                'PRESET = "auto"  #@param ["auto", "tiny", "moving_mnist", "msrvtt"]',
                "#@markdown Fine-tune: a trained run folder (or saved folder) whose model and EMA weights a new run starts from, with a fresh optimizer; `auto` then takes its config. Empty: from scratch.",
                'INIT_FROM = ""  #@param {type:"string"}',
                "#@markdown Train on clips of another size or length than the preset's (resized, frames dropped or repeated) instead of stopping:",
                "RESIZE_DATA = False  #@param {type:\"boolean\"}",
                "MAX_MINUTES = 60  #@param {type:\"number\"}",
                "MAX_STEPS = 0  #@param {type:\"integer\"}",
                'LOG_WITH = "none"  #@param ["none", "tensorboard", "wandb"]',
                "#@markdown In Colab: copy the data to the runtime's disk, train and checkpoint there, copy each checkpoint to Drive.",
                "LOCAL_FIRST = True  #@param {type:\"boolean\"}",
                "#@markdown Share the trained model on the Hugging Face Hub (a private repo; token from Colab's Secrets as HF_TOKEN, or a login prompt):",
                "PUSH_TO_HUB = False  #@param {type:\"boolean\"}",
                'HUB_REPO_ID = ""  #@param {type:"string"}',
            ]),
            new_code_cell(SETUP),
            new_code_cell(ENV),
            new_code_cell(
                "import vdiff\n"
                "from vdiff.checkpoint import run_disk_estimate\n"
                "from vdiff.colab import free_space_note, training_config\n\n"
                "data_dir, run_dir = resolve(ROOT, DATA_DIR), resolve(ROOT, RUN_DIR)\n"
                "init_from = resolve(ROOT, INIT_FROM) if INIT_FROM else None\n"
                "# Stops with one sentence when notebook 01's data is missing or does not fit the preset; a run\n"
                "# started before keeps its own config, whatever `auto` picks on today's GPU; a new run with\n"
                "# INIT_FROM starts from that run's weights (its config with PRESET = \"auto\").\n"
                "config = training_config(\"smoke\" if SMOKE else PRESET, data_dir, run_dir, resize=RESIZE_DATA,\n"
                "                         init_from=init_from)\n"
                "if SMOKE:  # CI: seconds on a CPU\n"
                "    MAX_STEPS, MAX_MINUTES, LOG_WITH = MAX_STEPS or 20, 5, \"none\"\n"
                "config = config.replace(log_with=None if LOG_WITH == \"none\" else LOG_WITH)\n"
                "print(\"steps:\", MAX_STEPS or config.max_steps, \"| minutes:\", MAX_MINUTES or \"no limit\")\n"
                "print(config.to_json())\n"
                "# Drive's free space, and a warning when the run's checkpoints and weights will not fit\n"
                "print(free_space_note(run_dir, run_disk_estimate(config)))"
            ),
            new_code_cell(
                "# In Colab, Drive is read once: the data is copied to the runtime's disk (checked complete; kept\n"
                "# while Drive's copy is unchanged), the run trains and saves there, and each checkpoint goes to\n"
                "# Drive as it is written, whole or not at all. When Drive drops out, training goes on and the newest\n"
                "# checkpoint follows when it answers. Running this notebook again resumes from the newest complete\n"
                "# checkpoint, on this runtime's disk or on Drive.\n"
                "from vdiff.apps.drive_sync import RunMirror\n"
                "from vdiff.apps.local_first import cache_dataset, prepare_local_run\n"
                "from vdiff.colab import local_root\n\n"
                "train_data, train_run, mirror = data_dir, run_dir, None\n"
                "if LOCAL_FIRST and IN_COLAB and USE_DRIVE:\n"
                "    train_data = cache_dataset(data_dir, local_root() / \"data\")\n"
                "    train_run = prepare_local_run(run_dir, local_root() / \"runs\")\n"
                "    mirror = RunMirror(train_run, run_dir)\n"
                "    print(free_space_note(train_run, run_disk_estimate(config)))\n"
                "print(\"training from\", train_data, \"into\", train_run)"
            ),
            new_code_cell(
                "# Optional: TensorBoard in the notebook (LOG_WITH = \"tensorboard\"); it follows the run live.\n"
                "# The same as the magics `%load_ext tensorboard` and `%tensorboard --logdir RUN_DIR/tensorboard`.\n"
                "if config.log_with == \"tensorboard\":\n"
                "    get_ipython().run_line_magic(\"load_ext\", \"tensorboard\")\n"
                "    get_ipython().run_line_magic(\"tensorboard\", f\"--logdir '{train_run / 'tensorboard'}'\")"
            ),
            new_code_cell(
                "# One trainer run for the whole budget: the bar counts every step of the run, the loss plot is\n"
                "# redrawn at least every 30 s, the newest samples replace the last ones and the strips below them\n"
                "# gain a row per sample step. Checkpoints resume exactly (model, EMA, optimizer, RNG): after a\n"
                "# Colab disconnect, run this notebook again.\n"
                "from vdiff.colab import live_progress\n"
                "from vdiff.train import TrainingStopped\n\n"
                "trainer = vdiff.Trainer(config, train_data, train_run, max_steps=MAX_STEPS or None,\n"
                "                        max_minutes=MAX_MINUTES or None, progress_every_s=30,\n"
                "                        callbacks=[live_progress(every_s=0 if SMOKE else 30), *([mirror] if mirror else [])])\n"
                "try:\n"
                "    trainer.fit()\n"
                "except TrainingStopped as exc:  # out of memory or non-finite losses: the last weights are kept\n"
                "    if mirror:\n"
                "        mirror.finish()\n"
                "    raise NotebookStop(str(exc)) from None\n"
                "print(f\"trained to step {trainer.step} of {trainer.end_step}; run folder: {run_dir}\"\n"
                "      + (f\" (Drive has step {mirror.remote_step})\" if mirror else \"\"))"
            ),
            new_code_cell(
                "# Share on the Hugging Face Hub (PUSH_TO_HUB): a private model repo with the EMA weights,\n"
                "# config and a model card. In Colab put a write token in the Secrets pane (key icon) as HF_TOKEN.\n"
                "if PUSH_TO_HUB and not SMOKE:\n"
                "    if not HUB_REPO_ID:\n"
                "        raise NotebookStop(\"set HUB_REPO_ID (e.g. 'your-name/vdiff-digits') to push the model\")\n"
                "    token = None\n"
                "    if IN_COLAB:\n"
                "        from google.colab import userdata\n"
                "        try:\n"
                "            token = userdata.get(\"HF_TOKEN\")\n"
                "        except (userdata.SecretNotFoundError, userdata.NotebookAccessError):\n"
                "            token = None\n"
                "    if token is None:\n"
                "        from huggingface_hub import login\n"
                "        login()\n"
                "    print(\"pushed:\", vdiff.load_pipeline(train_run).push_to_hub(HUB_REPO_ID, private=True, token=token))"
            ),
        ],
        gpu=True,
    )
    notebook(
        out_dir,
        "03_generate.ipynb",
        "03 · Generate videos from text",
        "Loads a run trained by notebook 02 (EMA or online weights) and turns prompts into GIFs with a fast "
        "sampler (20-step DDIM or DPM-Solver++, classifier-free guidance, x0 clipping or dynamic "
        "thresholding); every sampling option left at `config` takes the run's own value. It also shows "
        "the model's predicted clean clip (x_start) at a few steps, and times 20-step DDIM against "
        "1000-step DDPM on one prompt. The GIFs land in `OUT_DIR` (on Drive in Colab), where notebook 04 "
        "finds them.\n\n"
        "Runtime: a GPU; a free T4 works (fp16). A CPU works for small presets.",
        [
            params([
                'RUN_DIR = "runs/digits"  #@param {type:"string"}',
                'OUT_DIR = "outputs/generated"  #@param {type:"string"}',
                'PROMPTS = "digit 3 moving left; digit 7 moving up"  #@param {type:"string"}',
                "#@markdown `config` (and 0 steps) use the run's own sampling settings:",
                'SAMPLER = "config"  #@param ["config", "ddim", "dpm++", "ddpm"]',
                "STEPS = 0  #@param {type:\"integer\"}",
                'GUIDANCE = "config"  #@param ["config", "1.0", "2.0", "4.0"] {allow-input: true}',
                'X0_CLIP = "config"  #@param ["config", "none", "static", "dynamic"]',
                "SEED = 0  #@param {type:\"integer\"}",
                "NUM_PER_PROMPT = 2  #@param {type:\"integer\"}",
                "#@markdown Frames per clip: 0 = the model's own window; more continues each clip window by window:",
                "NUM_FRAMES = 0  #@param {type:\"integer\"}",
                "USE_EMA = True  #@param {type:\"boolean\"}",
                "COMPARE_DDPM = True  #@param {type:\"boolean\"}",
            ]),
            new_code_cell(SETUP),
            new_code_cell(ENV),
            new_code_cell(
                "import time\n"
                "import vdiff\n"
                "from vdiff.colab import require_run\n"
                "from vdiff.video import contact_sheet, save_gif\n\n"
                "run_dir, out_dir = resolve(ROOT, RUN_DIR), resolve(ROOT, OUT_DIR)\n"
                "require_run(run_dir)  # stops with one sentence when notebook 02 has not trained RUN_DIR\n"
                "out_dir.mkdir(parents=True, exist_ok=True)\n"
                "prompts = [p.strip() for p in PROMPTS.split(\";\") if p.strip()]\n"
                "if SMOKE:\n"
                "    STEPS, NUM_PER_PROMPT = 4, 1\n"
                "# None = the run's config value (its Config.sampling)\n"
                "options = dict(steps=STEPS or None, sampler=None if SAMPLER == \"config\" else SAMPLER,\n"
                "               guidance=None if GUIDANCE == \"config\" else float(GUIDANCE),\n"
                "               x0_clip=None if X0_CLIP == \"config\" else X0_CLIP)\n"
                "pipe = vdiff.load_pipeline(run_dir, use_ema=USE_EMA)\n"
                "clips = pipe(prompts, num=NUM_PER_PROMPT, seed=SEED, num_frames=NUM_FRAMES or None, **options)\n"
                "captions = [p for p in prompts for _ in range(NUM_PER_PROMPT)]\n"
                "paths = []\n"
                "for i, (clip, caption) in enumerate(zip(clips, captions)):\n"
                "    paths.append(out_dir / f\"{i:02d}_{caption.replace(' ', '_')[:40]}.gif\")\n"
                "    save_gif(clip, paths[-1], fps=8)\n"
                "show_gifs(paths, captions, width=192)\n"
                "print(\"contact sheet:\", contact_sheet(list(clips), captions, out_dir / \"contact_sheet.png\"))"
            ),
            new_code_cell(
                "# What the model believes the clean clip is, at a few points along the sampling trajectory\n"
                "# (in a subfolder, so that notebook 04 picks only the generated clips above).\n"
                "result = pipe(prompts[:1], num=1, seed=SEED, **{**options, \"sampler\": \"ddim\"},\n"
                "              return_x_start=True, x_start_every_step=True)\n"
                "steps_x0 = result[1]  # x_start after every step: [steps, N, F, H, W, C]\n"
                "picks = sorted({0, len(steps_x0) // 3, 2 * len(steps_x0) // 3, len(steps_x0) - 1})\n"
                "x0_paths = []\n"
                "for k in picks:\n"
                "    x0_paths.append(out_dir / \"trajectory\" / f\"x_start_step{k:03d}.gif\")\n"
                "    save_gif(steps_x0[k][0], x0_paths[-1], fps=8)\n"
                "show_gifs(x0_paths, [f\"x_start after step {k + 1}/{len(steps_x0)}\" for k in picks], width=160)"
            ),
            new_code_cell(
                "# 20-step DDIM against the 1000-step ancestral sampler on one prompt, with wall-clock times.\n"
                "if COMPARE_DDPM:\n"
                "    timed, compared = {}, []\n"
                "    for name, sampler, steps in [(\"DDIM 20\", \"ddim\", 4 if SMOKE else 20),\n"
                "                                 (\"DDPM all steps\", \"ddpm\", None)]:\n"
                "        start = time.perf_counter()\n"
                "        clip = pipe(prompts[:1], num=1, seed=SEED, **{**options, \"sampler\": sampler, \"steps\": steps})[0]\n"
                "        timed[name] = time.perf_counter() - start\n"
                "        compared.append(save_gif(clip, out_dir / \"compare\" / f\"{sampler}.gif\", fps=8))\n"
                "    show_gifs(compared, [f\"{k}: {v:.1f} s\" for k, v in timed.items()], width=192)\n"
                "    print({k: round(v, 2) for k, v in timed.items()})"
            ),
        ],
        gpu=True,
    )
    notebook(
        out_dir,
        "04_edit_gif.ipynb",
        "04 · Edit a GIF",
        "An ipywidgets editor for any GIF (one generated by notebook 03, or your own) or video (MP4, WebM, MOV, "
        "MKV: a start, an end, a frame rate and a size, seen before decoding): resize with kept aspect, crop by "
        "percent or to a shape (1:1, 4:5, 16:9, 9:16), rotate, text with an outline, shadow or box (several "
        "lines, on chosen frames) or a logo, brightness/contrast, grayscale, flips, reverse/boomerang, trim, "
        "delete frames, every n-th frame, hold a frame, speed and delays, a file size limit, with a preview that "
        "follows the controls and a download button; its Model tab re-prompts, "
        "regenerates a box or frames, or extends the GIF with the run notebook 02 trained (`vdiff.edit`). Every frame's own "
        "timing, the loop count and transparency survive. With `INTERACTIVE = False` the notebook applies "
        "the edit list given below instead and shows before and after (this is what CI runs). Any runtime "
        "works: this notebook needs no GPU.\n\n"
        "Your own GIF: give its path in `INPUT_GIF` (on Drive: `/content/drive/MyDrive/...`), tick `UPLOAD` "
        "for Colab's file dialog, or use the editor's Upload button for files under about 1 MB (Colab's "
        "widget drops bigger ones without a word, jupyter-widgets/ipywidgets#3452).",
        [
            params([
                "#@markdown A GIF or a video (MP4, WebM, MOV, MKV); empty: the newest GIF notebook 03 wrote into GENERATED_DIR (never this notebook's own output).",
                'INPUT_GIF = ""  #@param {type:"string"}',
                'GENERATED_DIR = "outputs/generated"  #@param {type:"string"}',
                'OUTPUT_GIF = "outputs/edited/edited.gif"  #@param {type:"string"}',
                "#@markdown The editor's Model tab edits with the run notebook 02 trained (headless: one re-prompt).",
                'RUN_DIR = "runs/digits"  #@param {type:"string"}',
                'MODEL_PROMPT = ""  #@param {type:"string"}',
                "UPLOAD = False  #@param {type:\"boolean\"}",
                'EDIT_OPS = \'[{"op": "resize", "width": 256, "keep_aspect": true}, {"op": "text", "text": "vdiff", "font_size": 20, "opacity": 200, "position": "bottom-right", "stroke_width": 2}, {"op": "speed", "factor": 0.5}]\'  #@param {type:"string"}',
                "INTERACTIVE = True  #@param {type:\"boolean\"}",
            ]),
            new_code_cell(SETUP),
            new_code_cell(
                "import json\n"
                "import gif_editor\n"
                "from vdiff.colab import editor_input\n\n"
                "if IN_COLAB:  # Colab's default widget manager lags behind ipywidgets 8\n"
                "    from google.colab import output\n"
                "    output.enable_custom_widget_manager()\n"
                "output_gif = resolve(ROOT, OUTPUT_GIF)\n"
                "input_gif = resolve(ROOT, INPUT_GIF) if INPUT_GIF else None\n"
                "if UPLOAD and IN_COLAB:  # Colab's own file dialog: no size limit, unlike the Upload widget\n"
                "    from google.colab import files\n"
                "    uploads = ROOT / \"uploads\"\n"
                "    uploads.mkdir(parents=True, exist_ok=True)\n"
                "    for name, data in files.upload().items():\n"
                "        input_gif = uploads / name\n"
                "        input_gif.write_bytes(data)\n"
                "# The given GIF, else the newest of notebook 03's in GENERATED_DIR, else a demo clip (said so).\n"
                "input_gif = editor_input(input_gif, resolve(ROOT, GENERATED_DIR), output_gif)\n"
                "run_dir = resolve(ROOT, RUN_DIR)\n"
                "print(\"input:\", input_gif)"
            ),
            new_code_cell(
                "if INTERACTIVE and not SMOKE:\n"
                "    # gif_editor's Editor with vdiff's Model tab (vdiff.apps.model_panel) for the run in RUN_DIR\n"
                "    from vdiff.apps.model_panel import editor_with_model\n"
                "    editor = editor_with_model(input_gif, run_dir=run_dir, prompt=MODEL_PROMPT, output_path=output_gif)\n"
                "    if IN_COLAB:\n"
                "        print(\"Colab's Upload button drops files of about 1 MB and more without a word (ipywidgets#3452): \"\n"
                "              \"for a bigger GIF type its path (Drive: /content/drive/MyDrive/...) and press Open path, \"\n"
                "              \"or tick UPLOAD in the form and run the notebook again.\")\n"
                "    display(editor.widget)\n"
                "else:  # headless: apply the edit list from the parameters and show before/after\n"
                "    clip = gif_editor.load(input_gif)  # a video is decoded at 15 fps, 480 px longest side\n"
                "    edited = gif_editor.apply(clip, json.loads(EDIT_OPS))\n"
                "    output_gif.parent.mkdir(parents=True, exist_ok=True)\n"
                "    data = gif_editor.save(edited, output_gif)\n"
                "    source_gif = input_gif\n"
                "    if input_gif.suffix.lower() != \".gif\":  # a video or a still: its decoded clip is the \"before\"\n"
                "        source_gif = output_gif.with_name(\"input_decoded.gif\")\n"
                "        gif_editor.save(clip, source_gif)\n"
                "    show_gifs([source_gif, output_gif], [\"before\", \"after\"], width=256)\n"
                "    print(\"saved:\", output_gif, \"-\", gif_editor.describe_gif(data), *edited.info.get(\"notes\", []))\n"
                "    if IN_COLAB:  # the browser's download; elsewhere the path above is on this machine\n"
                "        from google.colab import files\n"
                "        files.download(str(output_gif))"
            ),
            new_code_cell(
                "# Regenerate with a model (vdiff.edit, docs/editing.md): the editor's Model tab re-prompts, regenerates\n"
                "# a box or frames, or extends the GIF with RUN_DIR; headless, RUN_DIR re-prompts the input once.\n"
                "if INTERACTIVE and not SMOKE:\n"
                "    print(\"the editor's Model tab edits with\", run_dir)\n"
                "elif (run_dir / \"weights\").is_dir():\n"
                "    import vdiff\n"
                "    from vdiff.edit import read_clip, result_durations, write_clip\n"
                "    pipe = vdiff.load_pipeline(run_dir)\n"
                "    frames, delays, loop = read_clip(source_gif)\n"
                "    prompt = MODEL_PROMPT or pipe.config.sample_prompts[0]\n"
                "    edited = pipe.reprompt(frames, prompt, steps=4 if SMOKE else None, seed=0)\n"
                "    model_gif = output_gif.with_name(\"reprompted.gif\")\n"
                "    write_clip(edited, result_durations(delays, len(frames), len(edited)), model_gif, loop)\n"
                "    show_gifs([source_gif, model_gif], [\"before\", f\"re-prompted: {prompt}\"], width=256)\n"
                "    print(\"saved:\", model_gif)\n"
                "else:\n"
                "    print(f\"no trained run in {run_dir}: notebook 02 trains one; then the Model tab and this cell use it\")"
            ),
        ],
        gpu=False,
    )


if __name__ == "__main__":
    build()
