"""Atomic checkpoint files loaded without unpickling, and safetensors inference weights.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so that
``torch.load(..., weights_only=True)`` can read it back: no arbitrary code runs on load.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from data_prep.atomic import atomic_write

CHECKPOINT_RE = re.compile(r"^step_(\d{7,})\.pt$")


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Save ``state`` with torch.save atomically (temp file, fsync, rename)."""
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
    return Path(folder) / f"step_{step:07d}.pt"


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Checkpoints in ``folder`` sorted by step (temp files and other names ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def prune_checkpoints(folder: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` checkpoints; returns the deleted paths."""
    paths = list_checkpoints(folder)
    doomed = paths[:-keep_last] if keep_last > 0 else []
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def latest_loadable_checkpoint(folder: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that loads, with its state; None when there is none."""
    for path in reversed(list_checkpoints(folder)):
        try:
            return path, load_checkpoint(path)
        except ValueError:
            continue  # e.g. a disk that lost the newest file: fall back to the one before
    return None


def save_weights(state_dict: dict[str, torch.Tensor], path: str | Path) -> Path:
    """Inference weights as safetensors, atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp), durable=True)


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise ValueError(f"weights not found: {path}")
    try:
        return load_file(str(path), device=str(device))
    except Exception as e:
        raise ValueError(f"cannot read weights {path}: {e}") from None
