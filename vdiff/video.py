"""Video tensors <-> GIF / MP4 files, animated grids and captioned contact sheets.

Clips on disk and in notebooks are uint8 numpy arrays shaped [F, H, W, C] (C = 3, or 1 for
grey); model tensors are float [B, C, F, H, W] in [-1, 1]. ``to_uint8`` is the only bridge.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, ImageSequence

from data_prep.atomic import atomic_write

# Decoding is budgeted before frames are expanded: Pillow's bomb check is per frame (PITFALLS.md).
MAX_GIF_PIXELS = 1 << 28  # width * height * frames


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Float clips [B, C, F, H, W] (or one clip [C, F, H, W]) in [-1, 1] -> uint8 [B, F, H, W, C].

    Values are clamped to [0, 1] before the cast: a float above 1 would otherwise wrap around
    (1.5 -> 126 instead of 255; PITFALLS.md).
    """
    if x.ndim not in (4, 5):
        raise ValueError(f"to_uint8 expects [B, C, F, H, W] or [C, F, H, W], got shape {tuple(x.shape)}")
    x = ((x.detach().float().cpu() + 1) / 2).clamp(0.0, 1.0)
    x = (x * 255).round().to(torch.uint8)
    order = (0, 2, 3, 4, 1) if x.ndim == 5 else (1, 2, 3, 0)
    return x.permute(*order).contiguous().numpy()


def _as_frames(frames: np.ndarray | torch.Tensor, name: str = "frames") -> np.ndarray:
    """Validate a uint8 clip; returns [F, H, W, C] with C in (1, 3)."""
    arr = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if arr.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (convert float clips with to_uint8), got {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or min(arr.shape[:3]) < 1:
        raise ValueError(f"{name} must be [F, H, W, 3] or [F, H, W, 1] uint8, got shape {arr.shape}")
    return arr


def gif_duration_ms(fps: float) -> int:
    """Per-frame GIF delay for ``fps``: GIFs store 1/100 s and browsers slow delays under 20 ms."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return max(20, int(round(100.0 / fps)) * 10)


def save_gif(frames: np.ndarray, path: str | Path, fps: float = 8) -> Path:
    """Save a uint8 clip [F, H, W, C] as a looping GIF (Pillow, duration in ms, loop=0).

    Pillow merges a frame identical to the one before it into that frame's duration, so the
    frame count read back can be lower while the total duration is the same.
    """
    arr = _as_frames(frames)
    images = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in arr]
    duration = gif_duration_ms(fps)

    def write(tmp: str) -> None:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=duration, loop=0, optimize=False)

    return atomic_write(path, write)


def load_gif(path: str | Path, max_pixels: int = MAX_GIF_PIXELS) -> np.ndarray:
    """Every frame of a GIF as uint8 [F, H, W, 3]; ValueError naming the file when it is unreadable."""
    try:
        with Image.open(path) as im:
            if im.format != "GIF":
                raise ValueError(f"{path} is not a GIF (it is {im.format})")
            n = getattr(im, "n_frames", 1)
            if n * im.width * im.height > max_pixels:
                raise ValueError(f"{path} is too large to decode: {n} frames of {im.width}x{im.height}")
            frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(im)]
    except ValueError:
        raise
    except (OSError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise ValueError(f"cannot read GIF {path}: {e}") from None
    return np.stack(frames)


def save_mp4(frames: np.ndarray, path: str | Path, fps: float = 8) -> Path:
    """Save a uint8 clip [F, H, W, C] as H.264 MP4 through imageio-ffmpeg."""
    import imageio.v2 as imageio

    arr = _as_frames(frames)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    # yuv420p needs even sides: pad by repeating the edge rather than letting ffmpeg rescale.
    pad_h, pad_w = arr.shape[1] % 2, arr.shape[2] % 2
    if pad_h or pad_w:
        arr = np.pad(arr, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")

    def write(tmp: str) -> None:
        with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                pixelformat="yuv420p", macro_block_size=1,
                                ffmpeg_log_level="error") as writer:
            for frame in arr:
                writer.append_data(frame)

    return atomic_write(path, write, suffix=".tmp.mp4")  # ffmpeg picks the container from the name


def _clip_list(clips: Sequence[np.ndarray] | np.ndarray, same_size: bool = True) -> list[np.ndarray]:
    items = [_as_frames(c, f"clip {i}") for i, c in enumerate(clips)]
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
    return save_gif(grid, path, fps=fps)


def caption_font(size: int = 12) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib (covers non-ASCII captions), else Pillow's default font."""
    try:
        import matplotlib

        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size=size)


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
    font = caption_font(12)
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
