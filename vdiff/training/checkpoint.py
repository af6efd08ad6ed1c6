"""Atomic checkpoint files loaded without unpickling, and safetensors inference weights.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so that
``torch.load(..., weights_only=True)`` can read it back: no arbitrary code runs on load.

Written for Google Drive too: Drive moves a deleted (or replaced) file to its trash, where it keeps
counting against the storage quota for 30 days (a ``moving_mnist`` checkpoint is ~600 MB, a free
Drive 15 GB). So no large file here is ever deleted or renamed over while it holds data: a new
checkpoint gets a new name, and a file that goes away is first emptied (``discard``).
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from clipkit.atomic import atomic_write

from ..core.config import Config
from ..core.run_folder import RunFolder, checkpoint_name, list_checkpoints
# Leftovers of a save that was killed: atomic_write's temp files and replace_file's staged/old copies.
LEFTOVER_RE = re.compile(r"^\..+\.(tmp|new|old)$")


def discard(path: str | Path) -> None:
    """Delete a file after truncating it to 0 bytes, so that a trash (Google Drive's) keeps an empty file."""
    path = Path(path)
    try:
        with open(path, "r+b") as f:
            f.truncate(0)
            f.flush()
            os.fsync(f.fileno())
    except (FileNotFoundError, IsADirectoryError):
        return
    path.unlink(missing_ok=True)


def discard_leftovers(folder: str | Path) -> list[Path]:
    """Empty and delete what killed saves left in ``folder`` (hidden temp files); returns them."""
    folder = Path(folder)
    found = [p for p in folder.iterdir() if LEFTOVER_RE.match(p.name)] if folder.is_dir() else []
    # An old copy whose file is missing is the only copy (a kill between replace_file's renames).
    found = [p for p in found if not (p.name.endswith(".old") and not (folder / p.name[1:-4]).exists())]
    for p in found:
        discard(p)
    return found


def replace_file(path: str | Path, write: Callable[[str], None]) -> Path:
    """Write ``path`` atomically like ``atomic_write``, but never rename over the old file while it
    holds data: the new file is staged, the old one renamed aside, the staged one renamed in, the old
    one emptied and deleted. A kill between the two renames leaves the old file aside
    (``load_weights`` falls back to it)."""
    path = Path(path)
    staged, aside = path.with_name(f".{path.name}.new"), path.with_name(f".{path.name}.old")
    discard(staged)
    atomic_write(staged, write, durable=True)
    if path.exists():
        discard(aside)
        os.replace(path, aside)
    os.replace(staged, path)
    discard(aside)
    return path


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Save ``state`` with torch.save atomically (temp file, fsync, rename) to a new file name."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp), durable=True)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; ValueError naming the file when it is unreadable."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"checkpoint not found: {path}") from None
    except Exception as e:  # truncated zip, foreign pickle, ...
        raise ValueError(f"cannot load checkpoint {path}: {type(e).__name__}: {e}") from None


def checkpoint_path(folder: str | Path, step: int) -> Path:
    return Path(folder) / checkpoint_name(step)


def prune_checkpoints(folder: str | Path, keep_last: int) -> list[Path]:
    """Empty and delete all but the newest ``keep_last`` checkpoints; returns the deleted paths."""
    paths = list_checkpoints(folder)
    doomed = paths[:-keep_last] if keep_last > 0 else []
    for p in doomed:
        discard(p)
    return doomed


def latest_loadable_checkpoint(folder: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that loads, with its state; None when there is none."""
    for path in reversed(list_checkpoints(folder)):
        try:
            return path, load_checkpoint(path)
        except ValueError:
            continue  # e.g. a disk that lost the newest file: fall back to the one before
    return None


def resume_state(folder: str | Path, config: Any, resume: bool | None = None) -> dict[str, Any] | None:
    """The newest loadable checkpoint's state to resume ``config``'s run from, or None to start anew.

    ``resume``: None takes what is there, True requires a checkpoint, False refuses one. A config that
    changes the model's shape is refused, naming the fields.
    """
    found = latest_loadable_checkpoint(folder)
    if found is not None and resume is False:
        raise ValueError(f"{Path(folder).parent} already holds checkpoints; resume it or choose a new run folder")
    if found is None and resume is True:
        raise ValueError(f"{Path(folder).parent} holds no checkpoint to resume; drop --resume to start a new run")
    if found is None:
        return None
    old = Config.from_dict(found[1]["config"])
    changed = config.shape_mismatch(old)
    if changed:
        detail = ", ".join(f"{f}={getattr(old, f)!r} -> {getattr(config, f)!r}" for f in changed)
        raise ValueError(f"cannot resume from {found[0]}: the config changes the model's shape ({detail}); "
                         f"use a new run folder or the original values (vdiff.training.run_config)")
    return found[1]


def save_run_state(run: RunFolder, step: int, payload: dict[str, Any], weights: dict[str, dict[str, torch.Tensor]],
                   config: Config) -> Path:
    """A trainer's save: the checkpoint ``checkpoints/step_XXXXXXX.pt`` (older ones beyond ``keep_last``
    emptied and deleted), ``weights/<name>.safetensors`` for each of ``weights`` and ``weights/config.json``;
    returns the checkpoint's path. Leftovers of a killed save are emptied first."""
    for folder in (run.checkpoint_dir, run.weights_dir):
        discard_leftovers(folder)
    path = save_checkpoint(payload, run.checkpoint_file(step))
    prune_checkpoints(run.checkpoint_dir, config.keep_last)
    for name, state_dict in weights.items():
        save_weights(state_dict, run.weights_file(name))
    config.to_json(run.weights_config_file)
    return path


def save_weights(state_dict: dict[str, torch.Tensor], path: str | Path) -> Path:
    """Inference weights as safetensors, atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    return replace_file(path, lambda tmp: save_file(tensors, tmp))


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load safetensors weights (or the copy ``replace_file`` left aside when a save was killed).

    Read into memory rather than memory-mapped (``load_file``): ``replace_file`` empties the old file,
    and tensors still mapped onto it would then crash the process with SIGBUS.
    """
    from safetensors.torch import load

    aside = Path(path).with_name(f".{Path(path).name}.old")
    if not Path(path).is_file() and aside.is_file():
        path = aside
    if not Path(path).is_file():
        raise ValueError(f"weights not found: {path}")
    try:
        state = load(Path(path).read_bytes())
        return {k: v.to(device) for k, v in state.items()} if str(device) != "cpu" else state
    except Exception as e:
        raise ValueError(f"cannot read weights {path}: {e}") from None


def checkpoint_bytes(config: Config) -> tuple[int, int]:
    """(bytes of one checkpoint, bytes of one safetensors weights file) for ``config``'s model.

    Counted on PyTorch's meta device (no memory used): a checkpoint holds the fp32 model, its fp32
    EMA and AdamW's two fp32 moments per parameter; pickling adds a little (measured < 1% at smoke size).
    """
    from ..models.unet import UNet3D

    with torch.device("meta"):
        model = UNet3D(config, _text_dim(config.text_encoder))
    weights = sum(t.numel() * 4 for t in model.state_dict().values())  # saved in fp32
    params = sum(p.numel() * 4 for p in model.parameters())
    return 2 * weights + 2 * params, weights


def run_disk_estimate(config: Config) -> int:
    """Bytes a run folder will need at its peak: ``keep_last`` checkpoints plus the one being written,
    the EMA and online weights plus the one being staged. Samples and logs (a few MB) are not counted."""
    ckpt, weights = checkpoint_bytes(config)
    return (max(config.keep_last, 1) + 1) * ckpt + 3 * weights


def _text_dim(name: str) -> int:
    """The text encoder's width from its config file alone (768 when it cannot be read: an estimate)."""
    from transformers import AutoConfig

    from ..models.text import MINILM_NAMES, minilm_path
    try:
        source = str(minilm_path()) if name.lower() in MINILM_NAMES else name
        hf = AutoConfig.from_pretrained(source)
        return int(getattr(hf, "hidden_size", None) or getattr(hf, "d_model"))
    except Exception:
        return 768
