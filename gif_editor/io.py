"""Reading and writing clips: GIF (and stills) in, GIF or MP4 out, with size guards.

Still PNG/JPEG/WebP files are accepted as one-frame clips (animated PNG/WebP as animations),
so a user can watermark a logo or a screenshot with the same editor; every other format,
and anything Pillow cannot decode, raises GifEditorError with one readable line.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from clipkit.atomic import atomic_write
import clipkit.gif
from clipkit.gif import GifReadError, read_gif, shown_delay_ms
from clipkit.mp4 import write_mp4

from .clip import Clip
from .errors import GifEditorError

MAX_FILE_BYTES = 50 * 1024 * 1024  # larger uploads also break Jupyter's ~10 MB websocket anyway
MAX_PIXELS = 150_000_000  # width x height x frames; RGBA frames cost 4 bytes per pixel (600 MB)
ACCEPTED_FORMATS = ("GIF", "PNG", "JPEG", "WEBP")
_ALPHA_CUT = 128  # GIF alpha is on/off: below this a pixel becomes the transparent index

Source = bytes | bytearray | memoryview | str | os.PathLike


def _read_bytes(source: Source, max_bytes: int) -> tuple[bytes, str]:
    """The file's bytes and a name for messages; the size is checked before reading."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = "upload"
    else:
        path = Path(source)
        name = path.name
        if not path.is_file():
            raise GifEditorError(f"no such file: {path}")
        size = path.stat().st_size
        if size > max_bytes:
            raise GifEditorError(f"{name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
        data = path.read_bytes()
    if len(data) > max_bytes:
        raise GifEditorError(f"{name} is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
    if not data:
        raise GifEditorError(f"{name} is empty")
    return data, name


def load(source: Source, *, max_bytes: int = MAX_FILE_BYTES, max_pixels: int = MAX_PIXELS) -> Clip:
    """Decode every frame of a GIF (or a still image) into an RGBA clip.

    The frame count is read without decoding pixels, so width x height x frames is checked
    against `max_pixels` before any frame is decoded.
    """
    data, name = _read_bytes(source, max_bytes)
    try:
        gif = read_gif(data, mode="RGBA", max_pixels=max_pixels, formats=ACCEPTED_FORMATS)
    except GifReadError as exc:
        if exc.category == "not a GIF":
            raise GifEditorError(f"{name} is not a GIF, PNG, JPEG or WebP image (or it is damaged)") from None
        if exc.category == "too large":
            raise GifEditorError(f"{name} is too large to decode safely: {_short(exc.detail)}") from None
        raise GifEditorError(f"{name} is damaged: {_short(exc.detail)}") from None
    durations = gif.durations
    if len(gif.frames) == 1 and gif.format != "GIF":
        durations = [shown_delay_ms(durations[0])]
    return Clip(gif.frames, durations, loop=gif.loop, transparent=gif.transparent,
                info={"format": gif.format, "name": name})


def _short(exc: Exception | str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]



def _to_palette(frame: Image.Image, transparent: bool, method: Image.Quantize, first: bool = False) -> Image.Image:
    """One GIF frame: its own adaptive palette; in transparent clips index 255 is see-through."""
    rgb = frame.convert("RGB")  # quantising RGBA uses Pillow's weakest method (FASTOCTREE only)
    if not transparent:
        return rgb.quantize(256, method=method, dither=Image.Dither.NONE)
    pal = rgb.quantize(255, method=method, dither=Image.Dither.NONE)
    clear = frame.getchannel("A").point(lambda a: 255 if a < _ALPHA_CUT else 0, "1")
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
    transparent = clip.transparent and any(f.getextrema()[3][0] < _ALPHA_CUT for f in clip.frames)
    frames = [_to_palette(f, transparent, method, first=i == 0) for i, f in enumerate(clip.frames)]
    # disposal 2 for transparency: without it earlier frames show through; each frame names its transparent index
    return clipkit.gif.encode_gif(frames, clip.durations, loop=clip.loop, disposal=2 if transparent else None)


def save(clip: Clip, path: str | os.PathLike | None = None, *, format: str | None = None,
         palette: str = "octree") -> bytes:
    """Encode a clip as GIF (or MP4 when the path ends in .mp4 or format="mp4").

    `palette`: "octree" (fast, the default) or "mediancut" (slower, slightly truer colours).

    Returns the bytes; with a path they are also written there atomically (temp file, rename),
    so a failed save never leaves a half-written file in place of a good one.
    """
    fmt = (format or (Path(path).suffix.lstrip(".") if path is not None else "gif") or "gif").lower()
    if fmt == "gif" and "optimize" in clip.info:  # set by the optimize op: its own encoders
        from .optimize import encode_optimized
        data = encode_optimized(clip)
    elif fmt == "gif":
        data = encode_gif(clip, palette=palette)
    elif fmt == "mp4":
        data = encode_mp4(clip)
    else:
        raise GifEditorError(f"cannot save as .{fmt}: use .gif or .mp4")
    if path is not None:
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return data


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
