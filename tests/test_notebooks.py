"""The four notebooks: committed clean, one `parameters` form cell each, and all run under papermill.

The papermill runs share one working folder and run in order (01 prepares data, 02 trains on it,
03 generates from the run, 04 edits a generated GIF), each with SMOKE=True as CI uses them.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
NAMES = ["01_prepare_data.ipynb", "02_train.ipynb", "03_generate.ipynb", "04_edit_gif.ipynb"]
KERNEL = "vdiff"
BUILD = REPO / "build" / "notebooks"  # executed notebooks are kept here for inspection


def load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name: str) -> None:
    for cell in load(name).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name} has saved outputs"


@pytest.mark.parametrize("name", NAMES)
def test_one_parameters_cell_of_literal_form_fields(name: str) -> None:
    cells = load(name).cells
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters' (papermill injects after the first)"
    first_code = next(c for c in cells if c.cell_type == "code")
    assert tagged[0] is first_code, "the parameters cell must be the first code cell"
    lines = tagged[0].source.splitlines()[1:]
    assert all("#@param" in line or line.startswith("#@markdown ") for line in lines if line.strip()), (
        "a form cell holds only #@param fields and #@markdown text")
    tree = ast.parse(tagged[0].source)
    names = []
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assign), f"only assignments in the form cell, got {ast.dump(stmt)[:60]}"
        ast.literal_eval(stmt.value)  # raises on anything but a literal
        names.append(stmt.targets[0].id)
    for required in ("SMOKE", "USE_DRIVE", "INSTALL_FROM"):
        assert required in names
    assert "SMOKE = False" in tagged[0].source and "USE_DRIVE = True" in tagged[0].source


@pytest.mark.parametrize("name", NAMES)
def test_title_badge_and_about(name: str) -> None:
    intro = load(name).cells[0]
    assert intro.cell_type == "markdown" and intro.source.startswith("# ")
    assert f"colab.research.google.com/github/" in intro.source and f"notebooks/{name}" in intro.source


def test_notebooks_match_their_builder(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "scripts" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(tmp_path)
    for name in NAMES:
        built = nbformat.read(tmp_path / name, as_version=4)
        committed = load(name)
        assert [c.source for c in built.cells] == [c.source for c in committed.cells], (
            f"{name} differs from scripts/build_notebooks.py: edit the script and rebuild")


@pytest.fixture(scope="module")
def kernel() -> str:
    """A named kernel running this interpreter (scripts/test.sh registers it; register here if missing)."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().get_all_specs()
    if KERNEL not in specs or Path(specs[KERNEL]["spec"]["argv"][0]).resolve() != Path(sys.executable).resolve():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--user", "--name", KERNEL],
                       check=True, capture_output=True)
    return KERNEL


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebooks_workdir")


def run(name: str, workdir: Path, kernel: str, **parameters) -> nbformat.NotebookNode:
    import papermill as pm

    BUILD.mkdir(parents=True, exist_ok=True)
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    with mock.patch.dict(os.environ, {"PYTHONPATH": pythonpath, "HF_HUB_OFFLINE": "1"}):
        pm.execute_notebook(str(NOTEBOOK_DIR / name), str(BUILD / name), cwd=str(workdir), kernel_name=kernel,
                            parameters={"SMOKE": True, **parameters},
                            execution_timeout=300, progress_bar=False)
    return nbformat.read(BUILD / name, as_version=4)


def decoded_frames(path: Path) -> int:
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        return sum(1 for _ in ImageSequence.Iterator(im))


@pytest.mark.slow
@pytest.mark.notebooks
def test_papermill_runs_all_four_in_order(workdir: Path, kernel: str) -> None:
    run("01_prepare_data.ipynb", workdir, kernel, DATA_DIR="data/digits")
    gifs = sorted((workdir / "data" / "digits").glob("*.gif"))
    assert gifs and all(g.with_suffix(".txt").read_text(encoding="utf-8").startswith("digit") for g in gifs)
    assert json.loads((workdir / "data" / "digits" / "prepare_report.json").read_text())["kept"] == len(gifs)

    run("02_train.ipynb", workdir, kernel, DATA_DIR="data/digits", RUN_DIR="runs/digits")
    run_dir = workdir / "runs" / "digits"
    assert (run_dir / "weights" / "ema.safetensors").stat().st_size > 0
    assert json.loads((run_dir / "config.json").read_text())["image_size"] == 16
    assert (run_dir / "loss.png").stat().st_size > 0

    nb = run("03_generate.ipynb", workdir, kernel, RUN_DIR="runs/digits", OUT_DIR="outputs/generated",
             PROMPTS="digit 1 moving left; digit 2 moving up")
    generated = sorted((workdir / "outputs" / "generated").glob("0*.gif"))
    assert len(generated) == 2 and all(decoded_frames(g) >= 1 for g in generated)
    assert any("DDIM" in str(o) for c in nb.cells for o in c.get("outputs", []))

    newest = max(generated, key=lambda g: g.stat().st_mtime)
    for _ in range(2):  # a second run must edit 03's GIF again, not its own output
        nb = run("04_edit_gif.ipynb", workdir, kernel, INTERACTIVE=False)
        assert f"input: {newest}" in outputs_text(nb)
    from PIL import Image

    with Image.open(workdir / "outputs" / "edited" / "edited.gif") as im:
        assert im.size[0] == 256  # the edit list resizes to width 256
    # The model cell re-prompted 03's GIF with 02's run: same size as its input, several frames.
    with Image.open(workdir / "outputs" / "edited" / "reprompted.gif") as im, Image.open(newest) as src:
        assert im.size == src.size and getattr(im, "n_frames", 1) >= 2
    assert "re-prompted:" in outputs_text(nb)


def outputs_text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(str(o.get("text", "")) + json.dumps(o.get("data", {})) + str(o.get("evalue", ""))
                     for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.notebooks
def test_a_missing_input_stops_with_one_sentence(tmp_path: Path, kernel: str) -> None:
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as err:
        run("03_generate.ipynb", tmp_path, kernel, RUN_DIR="runs/never_trained")
    assert err.value.ename == "NotebookStop"
    assert "run notebook 02 with RUN_DIR = 'runs/never_trained'" in err.value.evalue
    nb = nbformat.read(BUILD / "03_generate.ipynb", as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert len(errors) == 1 and len(errors[0]["traceback"]) == 1, "one line, no traceback"


@pytest.mark.parametrize("name, gpu", [(NAMES[0], False), (NAMES[1], True), (NAMES[2], True), (NAMES[3], False)])
def test_runtime_requests(name: str, gpu: bool) -> None:
    nb = load(name)
    assert (nb.metadata.get("accelerator") == "GPU") is gpu
    assert nb.metadata["colab"].get("gpuType") == ("T4" if gpu else None)  # the free tier's GPU
    assert ("T4 works" in nb.cells[0].source) is gpu and ("needs no GPU" in nb.cells[0].source) is not gpu


def setup_cell() -> str:
    return next(c.source for c in load(NAMES[0]).cells if c.source.startswith("# Setup."))


def test_setup_cell_shows_why_pip_failed(tmp_path: Path) -> None:
    """In "Colab" (a google.colab module present), a bad INSTALL_FROM ends in pip's own reason and one sentence."""
    script = ("import sys, types\n"
              "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
              f"INSTALL_FROM, USE_DRIVE = {str(tmp_path / 'no_such_checkout')!r}, False\n" + setup_cell())
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode != 0
    assert "ERROR" in out.stdout and "no_such_checkout" in out.stdout  # pip's last lines, printed
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: pip could not install the project from INSTALL_FROM")
    assert "run this cell again" in last


def test_setup_cell_holds_colabs_packages() -> None:
    cell = setup_cell()
    for name in ("torch", "torchvision", "numpy", "ipython", "ipykernel", "ipywidgets", "notebook",
                 "jupyter-client", "tornado", "pyzmq", "traitlets"):
        assert f'"{name}"' in cell
    assert '"-c", constraints.name' in cell


def test_runtime_requirements_fit_colab() -> None:
    """No CI or Jupyter-server tools at run time, and only lower bounds Colab's versions meet."""
    from packaging.requirements import Requirement

    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    reqs = {Requirement(line).name.lower(): Requirement(line) for line in lines if line}
    for tool in ("papermill", "nbformat", "ipykernel", "voila", "playwright", "pytest", "notebook", "tornado"):
        assert tool not in reqs
    colab = {"ipywidgets": "7.7.1", "numpy": "2.0.2", "torch": "2.6.0", "torchvision": "0.21.0", "pillow": "11.1.0"}
    for name, version in colab.items():
        assert name in reqs and reqs[name].specifier.contains(version), f"{reqs[name]} refuses Colab's {version}"
        assert all(spec.operator == ">=" for spec in reqs[name].specifier)
