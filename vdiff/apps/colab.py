"""Notebook plumbing shared by the four notebooks: Colab detection, Drive, input checks, live progress.

In Colab every notebook runs in its own runtime, so the notebooks keep their folders on Google Drive
there by default (``storage_root``); each notebook checks its inputs first and, when one is missing
or does not fit, stops with one sentence naming the notebook and the form values that make it
(``NotebookStop``).
"""
from __future__ import annotations

import base64
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from ..core.run_folder import RunFolder

# Where Drive is mounted. Only a Colab stand-in (tests/colab_stub) sets VDIFF_DRIVE_MOUNT, so that a
# test can point "Drive" at a temporary folder; in Colab it is always /content/drive.
DRIVE_MOUNT_ENV = "VDIFF_DRIVE_MOUNT"


class NotebookStop(Exception):
    """A missing or mismatched notebook input: IPython shows only this one line, and Run all stops."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for a custom traceback
        return [f"Stopped: {self}"]


def in_colab() -> bool:
    return "google.colab" in sys.modules


def drive_root() -> Path:
    """The project's folder on Google Drive (``MyDrive/vdiff``) under the mount point."""
    return Path(os.environ.get(DRIVE_MOUNT_ENV, "/content/drive")) / "MyDrive" / "vdiff"


def local_root() -> Path:
    """The runtime's own disk for notebook 02's local copies (``/content/vdiff_local`` in Colab, beside the
    Drive mount): fast, and gone with the runtime."""
    return Path(os.environ.get(DRIVE_MOUNT_ENV, "/content/drive")).parent / "vdiff_local"


def storage_root(use_drive: bool = True) -> Path:
    """Where data, runs and outputs live: Drive in Colab (mounted here), else the working folder.

    On Drive they outlive the runtime: notebook 02 in a new runtime finds 01's data, a disconnected
    run resumes, and 03 finds 02's run.
    """
    if use_drive and in_colab():
        from google.colab import drive  # type: ignore[import-not-found]

        root = drive_root()
        drive.mount(str(root.parent.parent))
        root.mkdir(parents=True, exist_ok=True)
        return root
    return Path.cwd()


def resolve(root: Path, path: str) -> Path:
    """An absolute path stays as it is; a relative one is placed under the storage root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def gif_html(paths: list[str | Path], captions: list[str] | None = None, width: int = 128) -> str:
    """HTML for GIFs in a row, each inlined as a data URL with its caption (no file server needed)."""
    captions = captions or [Path(p).stem for p in paths]
    cells = []
    for path, caption in zip(paths, captions):
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        cells.append(
            f'<figure style="display:inline-block;margin:4px;text-align:center">'
            f'<img src="data:image/gif;base64,{data}" width="{width}" style="image-rendering:pixelated">'
            f'<figcaption style="font-size:11px;max-width:{width}px">{_escape(caption)}</figcaption></figure>'
        )
    return "".join(cells)


def show_gifs(paths: list[str | Path], captions: list[str] | None = None, width: int = 128) -> None:
    """Display GIFs inline in a row, each with its caption (works in Colab, Jupyter and papermill)."""
    from IPython.display import HTML, display

    display(HTML(gif_html(paths, captions, width)))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- presets and data shape
def suggest_preset(report: Any = None) -> str:
    """What ``PRESET = "auto"`` trains on this runtime: 64x64x16 on a GPU with 20 GB or more, else `tiny`.

    Notebook 01 sizes its clips by the same answer (``clip_shape``), so its data fits 02's model.
    """
    if report is None:
        from ..core.env import env_report

        report = env_report()
    if report.device == "cuda" and (report.gpu_memory_gb or 0) >= 20:
        return "moving_mnist"  # A100 (40/80 GB), L4 (22 GB), H100
    return "tiny"  # CPU, or a T4/V100-class GPU with 16 GB: start small


def clip_shape(preset: str) -> tuple[int, int]:
    """(side in pixels, frames) of the clips ``preset`` trains on."""
    from ..core.config import get_preset

    config = get_preset(preset)
    return config.image_size, config.num_frames


def dataset_shape(data_dir: str | Path) -> tuple[int, int, int] | None:
    """(width, height, frames) of the first GIF in ``data_dir`` (data_prep writes them all alike), or None."""
    from PIL import Image

    first = next(iter(sorted(Path(data_dir).glob("*.gif"))), None)
    if first is None:
        return None
    with Image.open(first) as im:
        return im.size[0], im.size[1], getattr(im, "n_frames", 1)


def require_data(data_dir: Path, data_field: str = "DATA_DIR") -> tuple[int, int, int]:
    """The dataset's (width, height, frames); stops with one sentence when ``data_dir`` holds no clips."""
    shape = dataset_shape(data_dir) if data_dir.is_dir() else None
    if shape is None:
        raise NotebookStop(f"no GIF clips in {data_dir}: run notebook 01 with {data_field} = "
                           f"{_relative(data_dir)!r} (and USE_DRIVE ticked in Colab) first")
    return shape


def choose_preset(requested: str, shape: tuple[int, int, int], *, resize: bool = False,
                  report: Any = None) -> str:
    """The preset to train: ``requested``, or for "auto" ``suggest_preset`` unless the data was made for `tiny`.

    A dataset whose clips differ from the preset's size or frame count stops the notebook with one
    sentence, unless ``resize`` (the loader then resizes and drops or repeats frames on the fly).
    """
    preset = requested
    if requested == "auto":
        preset = suggest_preset(report)
        if not resize and _mismatch(shape, clip_shape(preset)) and not _mismatch(shape, clip_shape("tiny")):
            print(f"the data holds {_describe(shape)} clips, made for `tiny`: training `tiny` "
                  f"(for {preset}, run notebook 01 again with PRESET = {preset!r})")
            preset = "tiny"
    want = clip_shape(preset)
    if _mismatch(shape, want) and not resize:
        raise NotebookStop(f"the data holds {_describe(shape)} clips but preset {preset} trains on "
                           f"{want[0]}x{want[0]}, {want[1]} frames: run notebook 01 with PRESET = {preset!r}, "
                           f"choose another PRESET here, or tick RESIZE_DATA")
    return preset


def training_config(preset: str, data_dir: Path, run_dir: Path, *, resize: bool = False,
                    init_from: Path | None = None) -> Any:
    """The Config notebook 02 trains with: a started run's own (``run_config``), else ``choose_preset``'s,
    or with ``init_from`` (a trained run to fine-tune) that run's own unless ``preset`` names one.

    A resumed run keeps its preset whatever ``auto`` would pick today (another GPU may get another
    answer, and the checkpoint would not fit that model). Stops with one sentence when the data is
    missing or does not fit the config, or ``init_from`` is no trained run of the config's shape.
    """
    from ..core.config import get_preset
    from ..training.trainer import run_config

    shape = require_data(data_dir)
    config = run_config(run_dir)
    if config is not None:
        print(f"resuming {run_dir} with the config it was started with (PRESET and INIT_FROM are not used for "
              f"a started run)")
        trained_by = f"the run in {run_dir}"
    elif init_from is not None:
        config, trained_by = _fine_tune_config(preset, init_from, run_dir, shape, resize), f"the model in {init_from}"
    else:
        return get_preset(choose_preset(preset, shape, resize=resize))
    want = (config.image_size, config.num_frames)
    if _mismatch(shape, want) and not resize:
        raise NotebookStop(f"the data holds {_describe(shape)} clips but {trained_by} trains on "
                           f"{want[0]}x{want[0]}, {want[1]} frames: point DATA_DIR at its data, choose a new "
                           f"RUN_DIR, or tick RESIZE_DATA")
    return config


def _fine_tune_config(preset: str, init_from: Path, run_dir: Path, shape: tuple[int, int, int], resize: bool) -> Any:
    """The config of a new run that starts from ``init_from``'s weights (``vdiff.training.init_from``)."""
    from ..core.config import get_preset
    from ..training.init_from import check_fits, find_source

    try:
        source = find_source(init_from, run_dir)
        config = source.config if preset == "auto" else get_preset(preset)
        check_fits(source, config)
    except ValueError as e:
        raise NotebookStop(f"INIT_FROM: {e}") from None
    print(f"fine-tuning from the weights of {init_from} with " + ("its config" if preset == "auto" else
                                                                 f"preset {preset}, which fits its model"))
    return config.replace(init_from=str(init_from))


def _mismatch(shape: tuple[int, int, int], want: tuple[int, int]) -> bool:
    return shape != (want[0], want[0], want[1])


def _describe(shape: tuple[int, int, int]) -> str:
    return f"{shape[0]}x{shape[1]}, {shape[2]}-frame"


def _relative(path: Path) -> str:
    for root in (drive_root(), Path.cwd()):
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def require_run(run_dir: Path) -> None:
    """Stops with one sentence unless ``run_dir`` holds trained weights (written by notebook 02)."""
    if not RunFolder(run_dir).weights_file("ema").is_file():
        raise NotebookStop(f"no trained run in {run_dir}: run notebook 02 with RUN_DIR = {_relative(run_dir)!r} "
                           f"(and USE_DRIVE ticked in Colab) first")


# ---------------------------------------------------------------- notebook 04's input
def editor_input(given: Path | None, generated_dir: Path, output_gif: Path) -> Path:
    """The GIF notebook 04 edits: ``given``, else the newest GIF notebook 03 wrote into ``generated_dir``
    (not its subfolders, never ``output_gif``), else a demo clip, said in one line."""
    output_gif = output_gif.resolve()
    if given is not None:
        if not given.is_file():
            raise NotebookStop(f"INPUT_GIF {given} is not a file: give a GIF's path (on Drive: "
                               f"/content/drive/MyDrive/...) or leave it empty for notebook 03's newest GIF")
        if given.resolve() == output_gif:
            raise NotebookStop("INPUT_GIF is this notebook's own OUTPUT_GIF: choose another OUTPUT_GIF")
        return given
    if output_gif.parent == generated_dir.resolve():
        raise NotebookStop(f"OUTPUT_GIF is inside GENERATED_DIR ({generated_dir}): choose another folder for it, "
                           f"or the next run would edit its own output")
    generated = [p for p in generated_dir.glob("*.gif") if p.resolve() != output_gif] if generated_dir.is_dir() else []
    if generated:
        return max(generated, key=lambda p: p.stat().st_mtime)
    demo = output_gif.parent / "demo_input.gif"
    print(f"no GIF from notebook 03 in {generated_dir}: editing a demo clip (run notebook 03 with OUT_DIR = "
          f"{_relative(generated_dir)!r}, or set INPUT_GIF or UPLOAD, to edit your own)")
    if not demo.is_file():
        from data_prep.moving_mnist import generate_labeled

        from ..core.media import save_gif

        demo.parent.mkdir(parents=True, exist_ok=True)
        save_gif(next(generate_labeled(1, size=64, frames=16)).frames, demo, fps=8)
    return demo


# ---------------------------------------------------------------- disk space
def free_space_note(folder: Path, needed_bytes: int | None) -> str:
    """One line with the free space where ``folder`` lives, and a warning when ``needed_bytes`` will not fit.

    ``shutil.disk_usage`` on the Drive mount reports the Drive's quota, not the runtime's disk.
    """
    probe = folder
    while not probe.exists():
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    line = f"free space at {probe}: {usage.free / 1e9:.1f} GB of {usage.total / 1e9:.1f} GB"
    if needed_bytes is not None:
        line += f"; this run writes up to {needed_bytes / 1e9:.1f} GB"
        if needed_bytes > usage.free:
            line += (" - WARNING: that does not fit; free space (empty Drive's trash too), lower keep_last "
                     "or MAX_STEPS, or choose a folder with room")
    return line


# ---------------------------------------------------------------- live progress for notebook 02
def live_progress(every_s: float = 30.0, num_samples: int = 2) -> Any:
    """A trainer callback that redraws the loss plot (at most every ``every_s`` seconds, and at the
    end), shows the newest sample GIFs and the progress grid (one strip of the same prompts and seeds
    per sample step, ``samples/progress.png``), each in one output area updated in place."""
    from IPython.display import HTML, DisplayHandle, Image

    from ..training.trainer import Callback
    from .plot import plot_losses

    class LiveProgress(Callback):
        def __init__(self) -> None:
            self.last_draw = -math.inf
            self.redraws = 0

        def on_start(self, trainer: Any) -> None:
            # = display(..., display_id=True), which returns None outside a kernel: one output area each,
            # updated in place rather than appended to.
            self.plot, self.samples, self.progress = DisplayHandle(), DisplayHandle(), DisplayHandle()
            self.plot.display(HTML("<i>the loss plot appears after the first logged steps</i>"))
            self.samples.display(HTML("<i>samples appear every sample_every steps</i>"))
            self.progress.display(HTML("<i>one strip per sample step appears here, the same prompts and seeds "
                                       "each time</i>"))
            self.strips = 0

        def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
            if time.monotonic() - self.last_draw >= every_s:
                self.redraw(trainer)

        def redraw(self, trainer: Any) -> None:
            try:
                png = plot_losses(trainer.out_dir, RunFolder(trainer.out_dir).loss_plot)
            except ValueError:  # nothing logged yet
                return
            self.plot.update(Image(filename=str(png)))
            self.last_draw = time.monotonic()
            self.redraws += 1

        def on_samples(self, trainer: Any, step: int, paths: list[Path]) -> None:
            newest = list(paths)[-num_samples:]
            self.samples.update(HTML(gif_html(newest, [f"step {step}: {p.stem.split('_')[-1]}" for p in newest],
                                              width=256)))
            grid = RunFolder(trainer.out_dir).progress_file
            if grid.is_file():
                self.progress.update(Image(filename=str(grid)))
                self.strips = len(RunFolder(trainer.out_dir).sample_files("ema"))

        def on_end(self, trainer: Any, summary: dict[str, Any]) -> None:
            self.redraw(trainer)

    return LiveProgress()
