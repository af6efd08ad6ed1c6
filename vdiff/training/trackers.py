"""Experiment trackers for training (TensorBoard, Weights & Biases) through Accelerate's trackers.

``log.jsonl`` stays the run's own record (the notebook's loss plot reads it); a tracker gets the
same numbers, plus the sample grids: TensorBoard shows them as animated images (the GIF bytes in an
image summary, which is what ``SummaryWriter.add_video`` writes too, without its moviepy dependency),
W&B as videos; and the progress grid (``samples/progress.png``) as an image.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ..core.run_folder import TENSORBOARD_DIR

TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb"}  # log_with value -> the package it needs


def check_log_with(log_with: str | None) -> None:
    """ValueError in one line when the tracker is unknown or its package is not installed."""
    if log_with is None:
        return
    if log_with not in TRACKERS:
        raise ValueError(f"unknown log_with {log_with!r}; choose one of: {', '.join(TRACKERS)}")
    package = TRACKERS[log_with]
    if importlib.util.find_spec(package) is None:
        raise ValueError(f"log_with={log_with!r} needs the {package} package: pip install {package}")


def init_trackers(accelerator: Any, config: Any, out_dir: Path) -> None:
    """Start the config's tracker (main process only, as Accelerate does); nothing when ``log_with`` is None."""
    if config.log_with == "tensorboard":
        # Accelerate's TensorBoardTracker writes to project_dir / project_name: RUN_DIR/tensorboard/.
        accelerator.init_trackers(TENSORBOARD_DIR)
    elif config.log_with == "wandb":
        values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.to_dict().items()}
        accelerator.init_trackers("vdiff", config=values, init_kwargs={"wandb": {"name": out_dir.name,
                                                                                  "dir": str(out_dir)}})


def log_scalars(accelerator: Any, record: dict[str, Any], step: int) -> None:
    """Every number of a log.jsonl record (not the step itself, not None) as a scalar at ``step``."""
    values = {k: v for k, v in record.items()
              if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)}
    if values:
        accelerator.log(values, step=step)


def log_samples(accelerator: Any, config: Any, run_folder: Any, paths: list[Path], step: int) -> Path | None:
    """After a sample step: the progress grid rewritten (``samples/progress.png``, vdiff.training.progress),
    then with ``log_with`` the sample GIFs and the grid logged at ``step``. Returns the grid's path."""
    from .progress import write_progress

    if not accelerator.is_main_process:
        return None
    grid = write_progress(run_folder, config)
    log_gifs(accelerator, config, paths, step)
    if grid is not None:
        log_image(accelerator, config, grid, step, "samples/progress")
    return grid


def log_gifs(accelerator: Any, config: Any, paths: list[Path], step: int) -> None:
    """The sample grid GIFs at ``step`` under the tags ``samples/<name>`` (e.g. samples/ema)."""
    for path in paths:
        log_image(accelerator, config, Path(path), step, "samples/" + Path(path).stem.rsplit("_", 1)[-1])


def log_image(accelerator: Any, config: Any, path: Path, step: int, tag: str) -> None:
    """A GIF (W&B: as a video) or PNG file as an image at ``step``; nothing when ``log_with`` is None."""
    if config.log_with is None or not accelerator.is_main_process:
        return
    if config.log_with == "tensorboard":
        _tensorboard_image(accelerator.get_tracker("tensorboard", unwrap=True), tag, Path(path), step)
    else:
        import wandb
        media = wandb.Video(str(path), format="gif") if Path(path).suffix == ".gif" else wandb.Image(str(path))
        accelerator.get_tracker("wandb", unwrap=True).log({tag: media}, step=step)


def _tensorboard_image(writer: Any, tag: str, path: Path, step: int) -> None:
    from PIL import Image
    from tensorboard.compat.proto.summary_pb2 import Summary

    with Image.open(path) as im:
        width, height = im.size
    image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=path.read_bytes())
    # add_video itself hands its GIF summary to this file writer.
    writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)
    writer.flush()
