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


SETUP = f'''# Setup: in Colab, install the project (never reinstalling Colab's torch); elsewhere use this checkout.
import subprocess, sys
from pathlib import Path

IN_COLAB = "google.colab" in sys.modules
if IN_COLAB and INSTALL:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "vdiff-notebooks @ git+https://github.com/{REPO}"], check=True)
elif not IN_COLAB:
    repo_root = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "vdiff").is_dir()), None)
    if repo_root is not None and str(repo_root) not in sys.path:
        sys.path.insert(0, str(repo_root))

from vdiff.colab import resolve, show_gifs, storage_root
ROOT = storage_root(USE_DRIVE)
print("storage root:", ROOT)'''

ENV = '''from vdiff.env import env_report
print(env_report())'''


# Every notebook's form ends with these: Drive storage, the Colab install, and CI's small run.
COMMON_PARAMS = [
    "USE_DRIVE = False  #@param {type:\"boolean\"}",
    "INSTALL = True  #@param {type:\"boolean\"}",
    "SMOKE = False  #@param {type:\"boolean\"}",
]


def params(lines: list[str]) -> nbformat.NotebookNode:
    cell = new_code_cell("#@title Parameters\n" + "\n".join(lines + COMMON_PARAMS))
    cell.metadata["tags"] = ["parameters"]
    return cell


def notebook(out_dir: Path, name: str, title: str, about: str, cells: list) -> None:
    nb = new_notebook(cells=[new_markdown_cell(f"# {title}\n\n{badge(name)}\n\n{about}"), *cells])
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # stable ids: rebuilding leaves an unchanged notebook byte for byte
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["accelerator"] = "GPU"
    nb.metadata["colab"] = {"provenance": [], "gpuType": "A100"}
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
        "on request. Any runtime works (CPU is fine for data preparation).",
        [
            params([
                'SOURCE = "labeled_digits"  #@param ["labeled_digits", "moving_mnist", "msrvtt_hf", "msrvtt_kaggle", "msrvtt_path", "gif_folder", "gif_zip", "videos"]',
                'DATA_DIR = "data/digits"  #@param {type:"string"}',
                'SRC_PATH = ""  #@param {type:"string"}',
                "NUM_CLIPS = 4000  #@param {type:\"integer\"}",
                "SIZE = 32  #@param [32, 64] {type:\"raw\"}",
                "FRAMES = 8  #@param [8, 16] {type:\"raw\"}",
                'CAPTION = "auto"  #@param ["auto", "txt", "filename", "model", "none"]',
            ]),
            new_code_cell(SETUP),
            new_code_cell(ENV),
            new_code_cell(
                "# SMOKE shrinks everything so CI runs the notebook in about a minute on a CPU.\n"
                "if SMOKE:\n"
                "    NUM_CLIPS, SIZE, FRAMES = 24, 16, 4\n"
                "data_dir = resolve(ROOT, DATA_DIR)"
            ),
            new_code_cell(
                "import data_prep\n\n"
                "if SOURCE == \"labeled_digits\":\n"
                "    report = data_prep.prepare_moving_mnist(data_dir, num=NUM_CLIPS, size=SIZE, frames=FRAMES)\n"
                "elif SOURCE == \"moving_mnist\":  # downloads mnist_test_seq.npy (~800 MB) unless SRC_PATH names it\n"
                "    report = data_prep.prepare_moving_mnist(data_dir, canonical=True, num=NUM_CLIPS, size=SIZE, frames=FRAMES,\n"
                "                                            canonical_path=SRC_PATH or None, download=not SRC_PATH)\n"
                "elif SOURCE.startswith(\"msrvtt\"):\n"
                "    source = {\"msrvtt_hf\": \"hf\", \"msrvtt_kaggle\": \"kaggle\"}.get(SOURCE, SRC_PATH)\n"
                "    report = data_prep.prepare_msrvtt(data_dir, source=source, limit=NUM_CLIPS, size=SIZE, frames=FRAMES)\n"
                "elif SOURCE in (\"gif_folder\", \"gif_zip\"):\n"
                "    src = Path(SRC_PATH)\n"
                "    if SOURCE == \"gif_zip\":  # a zip of GIFs, e.g. uploaded to Colab's file pane\n"
                "        import zipfile\n"
                "        src = data_dir.parent / (data_dir.name + \"_unzipped\")\n"
                "        zipfile.ZipFile(SRC_PATH).extractall(src)\n"
                "    report = data_prep.prepare_gif_folder(src, data_dir, caption=CAPTION, size=SIZE, frames=FRAMES)\n"
                "elif SOURCE == \"videos\":\n"
                "    report = data_prep.prepare_videos(Path(SRC_PATH), data_dir, caption=CAPTION, size=SIZE, frames=FRAMES)\n"
                "else:\n"
                "    raise ValueError(f\"unknown SOURCE {SOURCE!r}\")\n"
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
    )

    notebook(
        out_dir,
        "02_train.ipynb",
        "02 · Train the video diffusion model",
        "Trains vdiff's improved 3D UNet (AdaGN text/time conditioning, temporal attention, EMA with "
        "warm-up, optional perceptual loss) from scratch on a folder of GIF + caption pairs made by "
        "notebook 01. It shows a live loss plot and sample GIFs from the EMA and online models; the run "
        "folder holds checkpoints that resume exactly, so after a Colab disconnect you run this notebook "
        "again and training continues. Wants a GPU runtime (A100 or L4; a T4 works with fp16); the `tiny` "
        "preset also learns on a CPU in about 20 minutes.",
        [
            params([
                'DATA_DIR = "data/digits"  #@param {type:"string"}',
                'RUN_DIR = "runs/digits"  #@param {type:"string"}',
                'PRESET = "auto"  #@param ["auto", "tiny", "moving_mnist", "msrvtt", "smoke"]',
                "MAX_MINUTES = 60  #@param {type:\"number\"}",
                "MAX_STEPS = 0  #@param {type:\"integer\"}",
            ]),
            new_code_cell(SETUP),
            new_code_cell(ENV),
            new_code_cell(
                "import vdiff\n"
                "from vdiff.colab import suggest_preset\n\n"
                "preset = PRESET if PRESET != \"auto\" else suggest_preset()\n"
                "if SMOKE:  # CI: seconds on a CPU, and a small dataset made here if none exists\n"
                "    preset, MAX_STEPS, MAX_MINUTES = \"smoke\", 20, 5\n"
                "data_dir, run_dir = resolve(ROOT, DATA_DIR), resolve(ROOT, RUN_DIR)\n"
                "if SMOKE and not any(data_dir.glob(\"*.gif\")):\n"
                "    import data_prep\n"
                "    data_prep.prepare_moving_mnist(data_dir, num=16, size=16, frames=4)\n"
                "config = vdiff.get_preset(preset)\n"
                "total_steps = MAX_STEPS or config.max_steps\n"
                "print(\"preset:\", preset, \"| steps:\", total_steps, \"| minutes:\", MAX_MINUTES or \"no limit\")\n"
                "print(config.to_json())"
            ),
            new_code_cell(
                "# Trains in chunks of `sample_every` steps and redraws the loss curve and the newest samples\n"
                "# after each one. Every chunk resumes exactly from the last checkpoint (model, EMA, optimizer,\n"
                "# RNG), so this equals one uninterrupted run; after a Colab disconnect, run the notebook again.\n"
                "import time\n"
                "from IPython.display import Image, clear_output, display\n"
                "from vdiff.checkpoint import list_checkpoints\n"
                "from vdiff.plot import plot_losses\n\n"
                "deadline = time.time() + 60 * MAX_MINUTES if MAX_MINUTES else None\n"
                "chunk = max(1, min(config.sample_every, total_steps))\n"
                "saved = list_checkpoints(run_dir / \"checkpoints\")  # step_0001200.pt ...: resume from the newest\n"
                "step = int(saved[-1].stem.split(\"_\")[-1]) if saved else 0\n"
                "while step < total_steps and (deadline is None or time.time() < deadline):\n"
                "    step = min(step + chunk, total_steps)\n"
                "    minutes_left = (deadline - time.time()) / 60 if deadline else None\n"
                "    vdiff.train(config, data_dir, run_dir, max_steps=step, max_minutes=minutes_left)\n"
                "    clear_output(wait=True)\n"
                "    display(Image(filename=str(plot_losses(run_dir, run_dir / \"loss.png\"))))\n"
                "    samples = sorted((run_dir / \"samples\").glob(\"*.gif\"))[-2:]\n"
                "    show_gifs(samples, [s.stem for s in samples], width=256)"
            ),
        ],
    )
    notebook(
        out_dir,
        "03_generate.ipynb",
        "03 · Generate videos from text",
        "Loads a trained run (EMA or online weights) and turns prompts into GIFs with a fast sampler "
        "(20-step DDIM or DPM-Solver++, classifier-free guidance, x0 clipping or dynamic thresholding). It also shows the "
        "model's predicted clean clip (x_start) at a few steps, and times 20-step DDIM against 1000-step "
        "DDPM on one prompt. A GPU is recommended; a CPU works for small presets.",
        [
            params([
                'RUN_DIR = "runs/digits"  #@param {type:"string"}',
                'OUT_DIR = "outputs/generated"  #@param {type:"string"}',
                'PROMPTS = "digit 3 moving left; digit 7 moving up"  #@param {type:"string"}',
                'SAMPLER = "ddim"  #@param ["ddim", "dpm++", "ddpm"]',
                "STEPS = 20  #@param {type:\"integer\"}",
                "GUIDANCE = 2.0  #@param {type:\"number\"}",
                'THRESHOLD = "config"  #@param ["config", "static", "0.995", "0.99"]',
                "SEED = 0  #@param {type:\"integer\"}",
                "NUM_PER_PROMPT = 2  #@param {type:\"integer\"}",
                "USE_EMA = True  #@param {type:\"boolean\"}",
                "COMPARE_DDPM = True  #@param {type:\"boolean\"}",
            ]),
            new_code_cell(SETUP),
            new_code_cell(ENV),
            new_code_cell(
                "import time\n"
                "import vdiff\n"
                "from vdiff.video import save_gif, contact_sheet\n\n"
                "run_dir, out_dir = resolve(ROOT, RUN_DIR), resolve(ROOT, OUT_DIR)\n"
                "out_dir.mkdir(parents=True, exist_ok=True)\n"
                "prompts = [p.strip() for p in PROMPTS.split(\";\") if p.strip()]\n"
                "# \"config\": the run's own choice (static clipping for the digit presets, docs/evaluation.md)\n"
                "threshold = THRESHOLD if THRESHOLD in (\"config\", \"static\") else float(THRESHOLD)\n"
                "if SMOKE:\n"
                "    STEPS, NUM_PER_PROMPT = 4, 1\n"
                "pipe = vdiff.load_pipeline(run_dir, use_ema=USE_EMA)\n"
                "clips = pipe(prompts, num=NUM_PER_PROMPT, steps=STEPS, sampler=SAMPLER, guidance=GUIDANCE,\n"
                "             threshold=threshold, seed=SEED)\n"
                "captions = [p for p in prompts for _ in range(NUM_PER_PROMPT)]\n"
                "paths = []\n"
                "for i, (clip, caption) in enumerate(zip(clips, captions)):\n"
                "    paths.append(out_dir / f\"{i:02d}_{caption.replace(' ', '_')[:40]}.gif\")\n"
                "    save_gif(clip, paths[-1], fps=8)\n"
                "show_gifs(paths, captions, width=192)\n"
                "print(\"contact sheet:\", contact_sheet(list(clips), captions, out_dir / \"contact_sheet.png\"))"
            ),
            new_code_cell(
                "# What the model believes the clean clip is, at a few points along the sampling trajectory.\n"
                "result = pipe(prompts[:1], num=1, steps=STEPS, sampler=\"ddim\", guidance=GUIDANCE, threshold=threshold,\n"
                "              seed=SEED, return_x_start=True, x_start_every_step=True)\n"
                "steps_x0 = result[1]  # x_start after every step: [steps, N, F, H, W, C]\n"
                "picks = sorted({0, len(steps_x0) // 3, 2 * len(steps_x0) // 3, len(steps_x0) - 1})\n"
                "x0_paths = []\n"
                "for k in picks:\n"
                "    x0_paths.append(out_dir / f\"x_start_step{k:03d}.gif\")\n"
                "    save_gif(steps_x0[k][0], x0_paths[-1], fps=8)\n"
                "show_gifs(x0_paths, [f\"x_start after step {k + 1}/{len(steps_x0)}\" for k in picks], width=160)"
            ),
            new_code_cell(
                "# 20-step DDIM against the 1000-step ancestral sampler on one prompt, with wall-clock times.\n"
                "if COMPARE_DDPM:\n"
                "    timed = {}\n"
                "    for name, sampler, steps in [(\"DDIM 20\", \"ddim\", 4 if SMOKE else 20),\n"
                "                                 (\"DDPM all steps\", \"ddpm\", None)]:\n"
                "        start = time.perf_counter()\n"
                "        clip = pipe(prompts[:1], num=1, steps=steps, sampler=sampler, guidance=GUIDANCE,\n"
                "                    threshold=threshold, seed=SEED)[0]\n"
                "        timed[name] = time.perf_counter() - start\n"
                "        save_gif(clip, out_dir / f\"compare_{sampler}.gif\", fps=8)\n"
                "    show_gifs([out_dir / \"compare_ddim.gif\", out_dir / \"compare_ddpm.gif\"],\n"
                "              [f\"{k}: {v:.1f} s\" for k, v in timed.items()], width=192)\n"
                "    print({k: round(v, 2) for k, v in timed.items()})"
            ),
        ],
    )
    notebook(
        out_dir,
        "04_edit_gif.ipynb",
        "04 · Edit a GIF",
        "An ipywidgets editor for any GIF (a generated one or your own upload): resize with kept aspect, "
        "crop, rotate, text or logo watermark, brightness/contrast, grayscale, flips, reverse/boomerang, "
        "trim and speed, with a preview and a download button. Every frame's own timing, the loop count "
        "and transparency survive. With `INTERACTIVE = False` the notebook applies the edit list given "
        "below instead and shows before and after (this is what CI runs). Any runtime works.",
        [
            params([
                'INPUT_GIF = ""  #@param {type:"string"}',
                'OUTPUT_GIF = "outputs/edited.gif"  #@param {type:"string"}',
                'EDIT_OPS = \'[{"op": "resize", "width": 256, "keep_aspect": true}, {"op": "text", "text": "vdiff", "font_size": 20, "opacity": 200, "position": "bottom-right"}, {"op": "speed", "factor": 0.5}]\'  #@param {type:"string"}',
                "INTERACTIVE = True  #@param {type:\"boolean\"}",
            ]),
            new_code_cell(SETUP),
            new_code_cell(
                "import json\n"
                "import gif_editor\n\n"
                "if IN_COLAB:  # Colab's default widget manager lags behind ipywidgets 8\n"
                "    from google.colab import output\n"
                "    output.enable_custom_widget_manager()\n"
                "output_gif = resolve(ROOT, OUTPUT_GIF)\n"
                "input_gif = resolve(ROOT, INPUT_GIF) if INPUT_GIF else None\n"
                "if input_gif is None:  # no GIF given: the newest generated one, else a small demo clip\n"
                "    generated = sorted(ROOT.glob(\"outputs/**/*.gif\"), key=lambda p: p.stat().st_mtime)\n"
                "    input_gif = generated[-1] if generated else None\n"
                "if input_gif is None:  # nothing generated yet: one labeled moving-digit clip to play with\n"
                "    from data_prep.moving_mnist import generate_labeled\n"
                "    from vdiff.video import save_gif\n"
                "    input_gif = ROOT / \"outputs\" / \"demo_input.gif\"\n"
                "    input_gif.parent.mkdir(parents=True, exist_ok=True)\n"
                "    save_gif(next(generate_labeled(1, size=64, frames=16)).frames, input_gif, fps=8)\n"
                "print(\"input:\", input_gif)"
            ),
            new_code_cell(
                "if INTERACTIVE and not SMOKE:\n"
                "    from gif_editor.ui import Editor\n"
                "    editor = Editor(input_gif, output_path=output_gif)\n"
                "    display(editor.widget)\n"
                "else:  # headless: apply the edit list from the parameters and show before/after\n"
                "    clip = gif_editor.load(input_gif)\n"
                "    edited = gif_editor.apply(clip, json.loads(EDIT_OPS))\n"
                "    output_gif.parent.mkdir(parents=True, exist_ok=True)\n"
                "    gif_editor.save(edited, output_gif)\n"
                "    show_gifs([input_gif, output_gif], [\"before\", \"after\"], width=256)\n"
                "    print(\"saved:\", output_gif)"
            ),
        ],
    )

if __name__ == "__main__":
    build()
