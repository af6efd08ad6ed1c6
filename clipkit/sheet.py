"""Animated GIF grids and captioned contact-sheet PNGs of uint8 clips [F, H, W, C]."""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .atomic import atomic_write
from .fonts import load_font
from .gif import as_frames, write_gif


def _clip_list(clips: Sequence[np.ndarray] | np.ndarray, same_size: bool = True) -> list[np.ndarray]:
    items = [as_frames(c, f"clip {i}") for i, c in enumerate(clips)]
    if not items:
        raise ValueError("no clips given")
    if same_size and len({c.shape[1:3] for c in items}) != 1:
        raise ValueError(f"clips differ in frame size: {sorted({c.shape[1:3] for c in items})}")
    # Mixed grey and colour clips are shown in colour.
    if any(c.shape[-1] == 3 for c in items):
        items = [np.repeat(c, 3, axis=-1) if c.shape[-1] == 1 else c for c in items]
    return items


def gif_grid(clips: Sequence[np.ndarray] | np.ndarray, path: str | Path, ncols: int = 4,
             fps: float = 8, pad: int = 2) -> Path:
    """Tile clips into one animated GIF grid; a shorter clip holds its last frame."""
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    items = _clip_list(clips)
    n, f = len(items), max(c.shape[0] for c in items)
    h, w, c = items[0].shape[1:]
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    grid = np.full((f, pad + nrows * (h + pad), pad + ncols * (w + pad), c), 255, dtype=np.uint8)
    for i, clip in enumerate(items):
        top, left = pad + (i // ncols) * (h + pad), pad + (i % ncols) * (w + pad)
        held = np.concatenate([clip, np.repeat(clip[-1:], f - clip.shape[0], axis=0)])
        grid[:, top:top + h, left:left + w] = held
    return write_gif(grid, path, fps=fps)


def contact_sheet(clips: Sequence[np.ndarray] | np.ndarray, captions: Sequence[str], path: str | Path,
                  frames: int = 4, min_frame_size: int = 64) -> Path:
    """A PNG with one row per clip: ``frames`` frames spread over the clip, its caption beneath.

    Clips may differ in size (a folder of GIFs): every frame is scaled to one common height,
    keeping its aspect; small frames are enlarged (nearest) to at least ``min_frame_size``.
    """
    items = _clip_list(clips, same_size=False)
    captions = list(captions)
    if len(captions) != len(items):
        raise ValueError(f"{len(items)} clips but {len(captions)} captions")
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    smallest = min(min(c.shape[1:3]) for c in items)
    fh = max(max(c.shape[1] for c in items), smallest * -(-min_frame_size // smallest))
    sizes = [(max(1, round(c.shape[2] * fh / c.shape[1])), fh) for c in items]
    pad = 4
    width = pad + frames * (max(w for w, _ in sizes) + pad)
    font = load_font(12)
    line_h = font.getbbox("Ag")[3] + 3
    chars_per_line = max(8, int(width / (0.6 * 12)))
    wrapped = [textwrap.wrap(cap, chars_per_line) or [""] for cap in captions]
    row_heights = [fh + pad + len(lines) * line_h + pad for lines in wrapped]

    sheet = Image.new("RGB", (width, pad + sum(row_heights)), "white")
    draw = ImageDraw.Draw(sheet)
    top = pad
    for clip, (fw, _), lines, row_h in zip(items, sizes, wrapped, row_heights):
        picks = np.linspace(0, clip.shape[0] - 1, frames).round().astype(int)
        upscale = fh >= clip.shape[1]
        for j, k in enumerate(picks):
            frame = clip[k][..., 0] if clip.shape[-1] == 1 else clip[k]
            img = Image.fromarray(frame).convert("RGB").resize(
                (fw, fh), Image.Resampling.NEAREST if upscale else Image.Resampling.LANCZOS)
            sheet.paste(img, (pad + j * (fw + pad), top))
        for li, line in enumerate(lines):
            draw.text((pad, top + fh + pad + li * line_h), line, fill="black", font=font)
        top += row_h

    path = Path(path)
    return atomic_write(path, lambda tmp: sheet.save(tmp, format="PNG"))
