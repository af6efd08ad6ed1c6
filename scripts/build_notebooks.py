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

ENV = '''from vdiff.env import environment_report
print(environment_report())'''


def params(lines: list[str]) -> nbformat.NotebookNode:
    cell = new_code_cell("#@title Parameters\n" + "\n".join(lines))
    cell.metadata["tags"] = ["parameters"]
    return cell


def notebook(name: str, title: str, about: str, cells: list) -> None:
    nb = new_notebook(cells=[new_markdown_cell(f"# {title}\n\n{badge(name)}\n\n{about}"), *cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["accelerator"] = "GPU"
    nb.metadata["colab"] = {"provenance": [], "gpuType": "A100"}
    nbformat.write(nb, NOTEBOOKS / name)


def build() -> None:
    NOTEBOOKS.mkdir(exist_ok=True)
    notebook(
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
                'CAPTION = "filename"  #@param ["filename", "model", "none"]',
                "USE_DRIVE = False  #@param {type:\"boolean\"}",
                "INSTALL = True  #@param {type:\"boolean\"}",
                "SMOKE = False  #@param {type:\"boolean\"}",
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
                "    report = data_prep.prepare_moving_mnist(data_dir, labeled=True, num=NUM_CLIPS, size=SIZE, frames=FRAMES)\n"
                "elif SOURCE == \"moving_mnist\":  # downloads mnist_test_seq.npy (~800 MB) unless SRC_PATH names it\n"
                "    report = data_prep.prepare_moving_mnist(data_dir, labeled=False, num=NUM_CLIPS, size=SIZE, frames=FRAMES,\n"
                "                                            path=SRC_PATH or None, download=not SRC_PATH)\n"
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


if __name__ == "__main__":
    build()
