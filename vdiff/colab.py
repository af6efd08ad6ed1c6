"""Notebook plumbing shared by the four notebooks: Colab detection, Drive, inline display."""
from __future__ import annotations

import base64
import sys
from pathlib import Path

DRIVE_ROOT = Path("/content/drive/MyDrive/vdiff")


def in_colab() -> bool:
    return "google.colab" in sys.modules


def storage_root(use_drive: bool) -> Path:
    """Where data, runs and outputs live: Google Drive in Colab when asked, else the working folder.

    On Drive they outlive a Colab disconnect, so re-running notebook 02 resumes training.
    """
    if use_drive and in_colab():
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount("/content/drive")
        DRIVE_ROOT.mkdir(parents=True, exist_ok=True)
        return DRIVE_ROOT
    return Path.cwd()


def resolve(root: Path, path: str) -> Path:
    """An absolute path stays as it is; a relative one is placed under the storage root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def show_gifs(paths: list[str | Path], captions: list[str] | None = None, width: int = 128) -> None:
    """Display GIFs inline in a row, each with its caption (works in Colab, Jupyter and papermill)."""
    from IPython.display import HTML, display

    captions = captions or [Path(p).stem for p in paths]
    cells = []
    for path, caption in zip(paths, captions):
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        cells.append(
            f'<figure style="display:inline-block;margin:4px;text-align:center">'
            f'<img src="data:image/gif;base64,{data}" width="{width}" style="image-rendering:pixelated">'
            f'<figcaption style="font-size:11px;max-width:{width}px">{_escape(caption)}</figcaption></figure>'
        )
    display(HTML("".join(cells)))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def suggest_preset(report=None) -> str:
    """A preset for the accelerator found: 64x64x16 on an A100/L4/H100-class GPU, `tiny` below that."""
    from .env import env_report

    report = report or env_report()
    if report.device == "cuda" and (report.gpu_memory_gb or 0) >= 20:
        return "moving_mnist"  # A100 (40/80 GB), L4 (22 GB), H100: bf16, batch 16 at 64x64x16
    return "tiny"  # CPU, or a T4/V100-class GPU with 16 GB: start small, then raise the preset
