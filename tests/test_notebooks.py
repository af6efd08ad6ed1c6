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
    tree = ast.parse(tagged[0].source)
    names = []
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assign), f"only assignments in the form cell, got {ast.dump(stmt)[:60]}"
        ast.literal_eval(stmt.value)  # raises on anything but a literal
        names.append(stmt.targets[0].id)
    for required in ("SMOKE", "USE_DRIVE", "INSTALL"):
        assert required in names
    assert "SMOKE = False" in tagged[0].source
    assert all("#@param" in line for line in tagged[0].source.splitlines()[1:] if line.strip())


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
    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env_before]))
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        pm.execute_notebook(str(NOTEBOOK_DIR / name), str(BUILD / name), cwd=str(workdir), kernel_name=kernel,
                            parameters={"SMOKE": True, "INSTALL": False, **parameters},
                            execution_timeout=300, progress_bar=False)
    finally:
        if env_before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env_before
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

    run("04_edit_gif.ipynb", workdir, kernel, OUTPUT_GIF="outputs/edited.gif", INTERACTIVE=False)
    from PIL import Image

    with Image.open(workdir / "outputs" / "edited.gif") as im:
        assert im.size[0] == 256  # the edit list resizes to width 256
