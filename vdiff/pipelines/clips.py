"""Clips in and out of the editing functions (torch-free): batches, prompts, frame specs, boxes, GIF files,
frame delays, and every sampler step turned into preview clips.

A clip is uint8 [F, H, W, 3] (or a batch [N, F, H, W, 3]) of any size.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..core.media import as_rgb, to_uint8

if TYPE_CHECKING:
    import torch

StepCallback = Callable[[int, int, np.ndarray], None]


def as_batch(clips: np.ndarray) -> tuple[np.ndarray, bool]:
    """uint8 [F, H, W, C] or [N, F, H, W, C] (C = 1 or 3) -> ([N, F, H, W, 3], was one clip)."""
    arr = np.asarray(clips)
    single = arr.ndim == 4
    arr = arr[None] if single else arr
    if arr.dtype != np.uint8 or arr.ndim != 5 or arr.shape[-1] not in (1, 3) or min(arr.shape[:4]) < 1:
        raise ValueError(f"a clip must be uint8 [F, H, W, 3] or a batch [N, F, H, W, 3], got {arr.dtype} {arr.shape}")
    return as_rgb(arr), single


def prompts_for(prompts: str | list[str], n: int) -> list[str]:
    items = [prompts] * n if isinstance(prompts, str) else list(prompts)
    if len(items) != n or not all(isinstance(p, str) and p.strip() for p in items):
        raise ValueError(f"give one non-empty prompt, or one per clip ({n})")
    return items


def parse_frames(spec: str, n: int) -> list[int]:
    """Frame numbers from a SPEC like "0-3,6" (inclusive ranges), each in [0, n)."""
    frames: set[int] = set()
    for part in str(spec).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ValueError(f"--frames takes numbers and ranges like 0-3,6; got {spec!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo > hi or hi >= n:
            raise ValueError(f"--frames {spec!r}: frames are numbered 0-{n - 1} here")
        frames.update(range(lo, hi + 1))
    return sorted(frames)


def check_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """A box (left, top, right, bottom), right/bottom exclusive, that lies inside a width x height clip."""
    if len(box) != 4:
        raise ValueError(f"a box is 4 numbers L T R B, got {box!r}")
    left, top, right, bottom = (int(v) for v in box)
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise ValueError(f"box {left} {top} {right} {bottom} is not inside the {width}x{height} clip "
                         f"(need 0 <= L < R <= {width}, 0 <= T < B <= {height})")
    return left, top, right, bottom


def read_clip(path: str | Path) -> tuple[np.ndarray, list[int], int | None]:
    """A GIF (or still image) as uint8 [F, H, W, 3], its per-frame delays in ms and its loop count."""
    from clipkit.gif import read_gif, shown_delay_ms

    gif = read_gif(Path(path), formats=("GIF", "PNG", "JPEG", "WEBP"))  # GifReadError: one line
    frames = np.stack([np.asarray(im) for im in gif.frames])
    return frames, [shown_delay_ms(d) for d in gif.durations], gif.loop


def _exact_image(frame: np.ndarray) -> Image.Image:
    """A P frame with its own palette, which stores its pixels exactly when it has <= 256 colours.

    (Mixing L and P frames in one file failed: Pillow 13 mapped an L frame that followed P frames
    through the earlier palette and lost its brightest pixels.)
    """
    colours, index = np.unique(frame.reshape(-1, 3), axis=0, return_inverse=True)
    if len(colours) > 256:  # a photo: the best adaptive palette Pillow has
        return Image.fromarray(frame).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    im = Image.fromarray(index.reshape(frame.shape[:2]).astype(np.uint8), "P")
    im.putpalette(colours.astype(np.uint8).tobytes())
    return im


def write_clip(frames: np.ndarray, durations: list[int], path: str | Path, loop: int | None = 0) -> Path:
    """Write uint8 [F, H, W, 3] as a GIF, atomically; frames with <= 256 colours are stored exactly."""
    from clipkit.atomic import atomic_write
    from clipkit.gif import encode_gif

    data = encode_gif([_exact_image(f) for f in frames], list(durations), loop=loop)
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def result_durations(durations: list[int], n_in: int, n_out: int, *, extended: bool = False) -> list[int]:
    """Frame delays (ms) for an edit's result: the input's own where the frames match one to one, the
    last delay repeated for extended frames, and the same total play time when re-timed."""
    if extended:
        return list(durations) + [durations[-1]] * (n_out - n_in)
    if n_out == n_in:
        return list(durations)
    from clipkit.gif import MIN_DELAY_MS, stored_delay_ms

    each = max(MIN_DELAY_MS, stored_delay_ms(sum(durations) / n_out))
    return [each] * n_out


def sidecar_caption(path: Path) -> str | None:
    txt = path.with_suffix(".txt")
    if txt.is_file():
        lines = txt.read_text(encoding="utf-8").strip().splitlines()
        return lines[0].strip() if lines and lines[0].strip() else None
    return None


class StepPreviews:
    """A sampler callback that turns every step's predicted x0 into uint8 clips, keeps them when asked
    (``collect``) and hands them on to ``forward(i, n, clips)`` (a UI preview); ``runs`` sampler runs in a
    row (an extension's windows) count as one progress of ``runs * n`` steps, ``run`` says which one is on;
    ``single``: the caller gave one clip, so each preview is that clip [F, H, W, 3] rather than a batch."""

    def __init__(self, forward: StepCallback | None = None, collect: bool = False, runs: int = 1,
                 single: bool = False) -> None:
        self.forward, self.collect, self.runs, self.single = forward, collect, runs, single
        self.frames: list[np.ndarray] = []
        self.run = 0

    def __call__(self, i: int, n: int, x0: torch.Tensor) -> None:
        if self.forward is None and not self.collect:
            return
        preview = as_rgb(to_uint8(x0.clamp(-1, 1)))
        preview = preview[0] if self.single else preview
        if self.collect:
            self.frames.append(preview)
        if self.forward is not None:
            self.forward(self.run * n + i, self.runs * n, preview)

    def stacked(self) -> np.ndarray:
        """Every step's clips [steps, (N,) F, H, W, 3] ([0] when none were kept)."""
        return np.stack(self.frames) if self.frames else np.zeros((0,), np.uint8)
