"""Video tensors <-> GIF / MP4 files, animated grids and captioned contact sheets.

Clips on disk and in notebooks are uint8 numpy arrays shaped [F, H, W, C] (C = 3, or 1 for
grey); model tensors are float [B, C, F, H, W] in [-1, 1]. ``to_uint8`` is the only bridge. The
GIF reader and writer, the MP4 writer, grids and contact sheets are clipkit's (torch-free, shared with data_prep
and gif_editor); this module names them for vdiff's callers, and fits clips to a model's frame count and
size. Importing it loads no torch (the editor's widget reaches it through ``vdiff.edit``).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from clipkit.gif import MAX_GIF_PIXELS, GifReadError, as_frames, read_gif_array
from clipkit.gif import write_gif as save_gif
from clipkit.mp4 import write_mp4
from clipkit.sheet import contact_sheet, gif_grid

if TYPE_CHECKING:
    import torch

__all__ = ["to_uint8", "as_rgb", "frame_index", "resize_frames", "save_gif", "load_gif", "save_mp4", "gif_grid",
           "contact_sheet"]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Float clips [B, C, F, H, W] (or one clip [C, F, H, W]) in [-1, 1] -> uint8 [B, F, H, W, C].

    Values are clamped to [0, 1] before the cast: an out-of-range float cast to uint8 wraps around
    (1.5 in [0, 1] units is 382, stored as 126 instead of 255; measured with torch 2 and numpy 2 on
    x86, where C leaves such casts undefined).
    """
    import torch

    if x.ndim not in (4, 5):
        raise ValueError(f"to_uint8 expects [B, C, F, H, W] or [C, F, H, W], got shape {tuple(x.shape)}")
    x = ((x.detach().float().cpu() + 1) / 2).clamp(0.0, 1.0)
    x = (x * 255).round().to(torch.uint8)
    order = (0, 2, 3, 4, 1) if x.ndim == 5 else (1, 2, 3, 0)
    return x.permute(*order).contiguous().numpy()


def as_rgb(clips: np.ndarray) -> np.ndarray:
    """uint8 clips [..., C] with C = 1 (grey) or 3 -> [..., 3]."""
    return np.repeat(clips, 3, axis=-1) if clips.shape[-1] == 1 else clips


def frame_index(n_in: int, n_out: int) -> np.ndarray:
    """``n_out`` evenly spaced frame numbers of an ``n_in``-frame clip (re-timing by picking frames)."""
    return np.linspace(0, n_in - 1, n_out).round().astype(int)


def resize_frames(clips: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 [N, F, H, W, C] -> [N, F, h, w, C] for size (w, h); bilinear, a no-op at the same size."""
    if clips.shape[3:1:-1] == size:
        return clips
    return np.stack([np.stack([np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in c])
                     for c in clips])


def load_gif(path: str | Path, max_pixels: int = MAX_GIF_PIXELS) -> np.ndarray:
    """Every frame of a GIF as uint8 [F, H, W, 3]; ValueError naming the file when it is unreadable."""
    try:
        return read_gif_array(path, max_pixels=max_pixels)
    except GifReadError as e:
        raise ValueError(f"cannot read GIF {path}: {e}") from None


def save_mp4(frames: np.ndarray, path: str | Path, fps: float = 8) -> Path:
    """Save a uint8 clip [F, H, W, C] as H.264 MP4 (``clipkit.mp4.write_mp4``; grey becomes RGB)."""
    return write_mp4(as_rgb(as_frames(frames)), path, fps)
