"""Reading and writing clips: GIF (and stills) in, GIF or MP4 out, with size guards.

Still PNG/JPEG/WebP files are accepted as one-frame clips (animated PNG/WebP as animations),
so a user can watermark a logo or a screenshot with the same editor; every other format,
and anything Pillow cannot decode, raises GifEditorError with one readable line.
"""
from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

from PIL import Image

from clipkit.atomic import atomic_write
from clipkit.gif import GifReadError, read_gif, shown_delay_ms

from .clip import Clip
from .encode import PALETTES, encode_gif, encode_mp4  # noqa: F401  (PALETTES: part of io's interface)
from .errors import GifEditorError
from .fit import encode_to_fit
from .optimize import encode_optimized
from .params import MAX_PIXELS
from .timing import playable_delays
from .video import is_video, load_video

MAX_FILE_BYTES = 50 * 1024 * 1024  # larger uploads also break Jupyter's ~10 MB websocket anyway
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


def load(source: Source, *, max_bytes: int = MAX_FILE_BYTES, max_pixels: int = MAX_PIXELS,
         name: str | None = None, **video_options) -> Clip:
    """Decode every frame of a GIF (or a still image, or a video) into an RGBA clip.

    The frame count is read without decoding pixels, so width x height x frames is checked
    against `max_pixels` before any frame is decoded. Videos (MP4, WebM, MOV, MKV: by suffix or
    by their first bytes) go to ``video.load_video`` with ``video_options`` (start, end, fps,
    max_side); a video file may be larger than ``max_bytes``, since ffmpeg streams it.
    """
    if is_video(source):
        return load_video(source, max_pixels=max_pixels, name=name, **video_options)
    if any(v is not None for v in video_options.values()):
        raise GifEditorError(f"{', '.join(video_options)} apply to videos (MP4, WebM, MOV, MKV), not to GIFs or images")
    data, file_name = _read_bytes(source, max_bytes)
    name = name or file_name
    if is_video(data):
        return load_video(data, max_pixels=max_pixels, name=name)
    try:
        gif = read_gif(data, mode="RGBA", max_pixels=max_pixels, formats=ACCEPTED_FORMATS)
    except GifReadError as exc:
        if exc.category == "not a GIF":
            raise GifEditorError(f"{name} is not a GIF, PNG, JPEG or WebP image, nor an MP4, WebM, MOV or MKV video (or it is damaged)") from None
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
    return text[:200]


def save(clip: Clip, path: str | os.PathLike | None = None, *, format: str | None = None,
         palette: str = "octree", keep_fast_delays: bool = False) -> bytes:
    """Encode a clip as GIF (or MP4 when the path ends in .mp4 or format="mp4").

    `palette`: "octree" (fast, the default) or "mediancut" (slower, slightly truer colours).
    Delays under 20 ms are written as 20 ms and unset (0 ms) ones as 100 ms, as browsers play them
    (timing.playable_delays), unless `keep_fast_delays`; how many changed is ``clip.info["timing"]``
    (raised, unset), the size search's choice (the max_size op) is in ``clip.info["notes"]`` and the
    optimize encoder that ran in ``clip.info["encoded_with"]``.

    Returns the bytes; with a path they are also written there atomically (temp file, rename),
    so a failed save never leaves a half-written file in place of a good one.
    """
    fmt = (format or (Path(path).suffix.lstrip(".") if path is not None else "gif") or "gif").lower()
    delays, raised, unset = playable_delays(clip.durations, keep_fast_delays)
    clip.info["timing"] = (raised, unset)  # timing.timing_notice words it, each front end with its own option name
    notes = []
    timed = replace(clip, durations=delays, info=dict(clip.info))
    if fmt == "gif" and "max_size" in clip.info:  # the size search picks encoder settings and shape
        data, note = encode_to_fit(timed, clip.info["max_size"])
        notes.append(note)
    elif fmt == "gif" and "optimize" in clip.info:  # set by the optimize op: its own encoders
        data = encode_optimized(timed)
        clip.info["encoded_with"] = timed.info["encoded_with"]
    elif fmt == "gif":
        data = encode_gif(timed, palette=palette)
    elif fmt == "mp4":
        if "max_size" in clip.info:
            raise GifEditorError("max_size applies to GIF output; an MP4 is already small (save as .gif to fit a size)")
        data = encode_mp4(timed)
    else:
        raise GifEditorError(f"cannot save as .{fmt}: use .gif or .mp4")
    clip.info["notes"] = notes
    if path is not None:
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return data


def describe_gif(data: bytes) -> str:
    """What a written GIF holds, read back from its bytes ("WxH, N frames, T s, loops forever"):
    Pillow's writer merges identical neighbouring frames, so the clip's own count can differ."""
    try:
        with Image.open(io.BytesIO(data), formats=["GIF"]) as im:
            delays = []
            for index in range(im.n_frames):
                im.seek(index)
                delays.append(int(im.info.get("duration", 0) or 0))
            loop = im.info.get("loop")
            w, h = im.size
    except Exception as exc:  # our own output: a failure here is a bug worth seeing in words
        raise GifEditorError(f"the written GIF does not read back ({exc.__class__.__name__})") from None
    return Clip([Image.new("RGBA", (w, h))] * len(delays), delays, loop=loop).describe()
