"""Reading and writing clips: GIF (and stills) in, GIF or MP4 out, with size guards.

Still PNG/JPEG/WebP files are accepted as one-frame clips (animated PNG/WebP as animations),
so a user can watermark a logo or a screenshot with the same editor; every other format,
and anything Pillow cannot decode, raises GifEditorError with one readable line.
"""
from __future__ import annotations

import os
from pathlib import Path

from clipkit.atomic import atomic_write
from clipkit.gif import GifReadError, read_gif, shown_delay_ms

from .clip import Clip
from .encode import PALETTES, encode_gif, encode_mp4  # noqa: F401  (PALETTES: part of io's interface)
from .errors import GifEditorError
from .optimize import encode_optimized

MAX_FILE_BYTES = 50 * 1024 * 1024  # larger uploads also break Jupyter's ~10 MB websocket anyway
MAX_PIXELS = 150_000_000  # width x height x frames; RGBA frames cost 4 bytes per pixel (600 MB)
ACCEPTED_FORMATS = ("GIF", "PNG", "JPEG", "WEBP")

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



def save(clip: Clip, path: str | os.PathLike | None = None, *, format: str | None = None,
         palette: str = "octree") -> bytes:
    """Encode a clip as GIF (or MP4 when the path ends in .mp4 or format="mp4").

    `palette`: "octree" (fast, the default) or "mediancut" (slower, slightly truer colours).

    Returns the bytes; with a path they are also written there atomically (temp file, rename),
    so a failed save never leaves a half-written file in place of a good one.
    """
    fmt = (format or (Path(path).suffix.lstrip(".") if path is not None else "gif") or "gif").lower()
    if fmt == "gif" and "optimize" in clip.info:  # set by the optimize op: its own encoders
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
