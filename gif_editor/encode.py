"""The plain encoders: a clip as GIF bytes (an adaptive palette per frame) and as MP4 bytes.

io.save picks one of them, or optimize.py's encoders, which build on ``encode_gif`` here.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import clipkit.gif
from clipkit.gif import shown_delay_ms
from clipkit.mp4 import write_mp4

from .clip import Clip
from .errors import GifEditorError

ALPHA_CUT = 128  # GIF alpha is on/off: below this a pixel becomes the transparent index


def _to_palette(frame: Image.Image, transparent: bool, method: Image.Quantize, first: bool = False) -> Image.Image:
    """One GIF frame: its own adaptive palette; in transparent clips index 255 is see-through."""
    rgb = frame.convert("RGB")  # quantising RGBA uses Pillow's weakest method (FASTOCTREE only)
    if not transparent:
        return rgb.quantize(256, method=method, dither=Image.Dither.NONE)
    pal = rgb.quantize(255, method=method, dither=Image.Dither.NONE)
    clear = frame.getchannel("A").point(lambda a: 255 if a < ALPHA_CUT else 0, "1")
    # A later frame with nothing visible uses index 254: Pillow finds no difference between it
    # and the disposal-2 background (the first frame's index 255) and writes a corrupt frame.
    index = 254 if not first and clear.getextrema() == (255, 255) else 255
    pal.paste(index, mask=clear)
    pal.info["transparency"] = index
    return pal


# Per-frame palette methods. On photographic 480x270 frames (scikit-learn's sample photos) octree
# takes ~2 ms for a mean error of ~3.6 levels, median cut ~160 ms for ~2.7: median cut alone would
# spend 16 s on a 100-frame clip, so octree is the default and median cut is one option away.
PALETTES = {"octree": Image.Quantize.FASTOCTREE, "mediancut": Image.Quantize.MEDIANCUT}


def encode_gif(clip: Clip, *, palette: str = "octree") -> bytes:
    """GIF bytes of a clip, each frame with its own adaptive palette built from RGB."""
    if palette not in PALETTES:
        raise GifEditorError(f"palette must be one of {', '.join(PALETTES)}, got {palette!r}")
    method = PALETTES[palette]
    transparent = clip.transparent and any(f.getextrema()[3][0] < ALPHA_CUT for f in clip.frames)
    frames = [_to_palette(f, transparent, method, first=i == 0) for i, f in enumerate(clip.frames)]
    # disposal 2 for transparency: without it earlier frames show through; each frame names its transparent index
    return clipkit.gif.encode_gif(frames, clip.durations, loop=clip.loop, disposal=2 if transparent else None)


def _mp4_timeline(durations: list[int], max_fps: int = 50) -> tuple[int, list[int]]:
    """A constant frame rate and how many times to repeat each frame so every delay survives."""
    delays = [shown_delay_ms(d) for d in durations]
    fps = int(min(max_fps, max(1, round(1000 / min(delays)))))
    # Cumulative rounding keeps the total exact even when single delays do not divide evenly.
    repeats, shown, elapsed = [], 0, 0
    for d in delays:
        elapsed += d
        target = round(elapsed * fps / 1000)
        repeats.append(max(1, target - shown))
        shown += repeats[-1]
    return fps, repeats


def encode_mp4(clip: Clip, background: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    """H.264 MP4 bytes (``clipkit.mp4.write_mp4``); transparency becomes `background`."""
    fps, repeats = _mp4_timeline(clip.durations)

    def flattened():
        for frame in clip.frames:
            canvas = Image.new("RGBA", clip.size, background + (255,))
            canvas.alpha_composite(frame)
            yield np.asarray(canvas.convert("RGB"))

    with tempfile.TemporaryDirectory() as folder:
        return write_mp4(flattened(), Path(folder) / "clip.mp4", fps, repeats).read_bytes()
