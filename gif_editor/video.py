"""Video in: MP4, WebM, MOV or MKV (anything the ffmpeg of imageio-ffmpeg decodes) as a clip.

    info = gif_editor.probe_video("talk.mp4")        # size, fps, duration: reads the header only
    info.describe(start=2, end=6, fps=15, max_side=480)   # "... -> 60 frames of 480x270"
    clip = gif_editor.load_video("talk.mp4", start=2, end=6, fps=15, max_side=480)

ffmpeg does the seeking (``-ss`` before the input: it jumps to the keyframe and decodes from
there, exact since ffmpeg 2.1), the frame rate (``fps`` filter) and the scaling (``scale`` with
area averaging, never enlarging), so only the frames the GIF keeps, at the GIF's size, reach
Python, one at a time: memory is the output clip, not the video. The output's pixel budget
(frames x width x height, io.MAX_PIXELS) is checked from the header before decoding starts.
Delays are whole centiseconds that add up to the clip's length (60, 70, 70, 60, ... at 15 fps).
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .clip import Clip
from .errors import GifEditorError
from .params import MAX_PIXELS

VIDEO_SUFFIXES = (".mp4", ".m4v", ".webm", ".mov", ".mkv")
DEFAULT_FPS = 15.0        # what GIF sites serve; 20+ fps doubles the file for little visible gain
DEFAULT_MAX_SIDE = 480
FPS_RANGE = (1.0, 50.0)   # 50 fps = 20 ms, the shortest delay browsers play as written
SIDE_RANGE = (16, 4096)


def is_video(source) -> bool:
    """True for a video path (by its suffix) or video bytes (MP4/MOV 'ftyp' box, Matroska/WebM EBML header)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        head = bytes(source[:12])
        return head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3"
    return Path(source).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    """What the header says: the decoded frame size (after rotation metadata), rate, length, codec."""

    name: str
    width: int
    height: int
    fps: float
    duration: float  # seconds
    codec: str

    def output(self, *, start: float | None = None, end: float | None = None, fps: float | None = None,
               max_side: int | None = None) -> tuple[float, float, float, tuple[int, int], int]:
        """(start, end, fps, (width, height), frames) of the clip these options decode; GifEditorError if
        an option is out of range."""
        start = 0.0 if start is None else float(start)
        end = self.duration if end is None else min(float(end), self.duration)
        if not 0 <= start < self.duration:
            raise GifEditorError(f"{self.name}: start {start:g} s is outside the video (0-{self.duration:.2f} s)")
        if end <= start:
            raise GifEditorError(f"{self.name}: end {end:g} s must be after start {start:g} s")
        rate = min(float(fps or DEFAULT_FPS), self.fps or float(fps or DEFAULT_FPS))
        if not FPS_RANGE[0] <= rate <= FPS_RANGE[1]:
            raise GifEditorError(f"{self.name}: fps must be between {FPS_RANGE[0]:g} and {FPS_RANGE[1]:g}, got {rate:g}")
        side = int(max_side or DEFAULT_MAX_SIDE)
        if not SIDE_RANGE[0] <= side <= SIDE_RANGE[1]:
            raise GifEditorError(f"{self.name}: the longest side must be {SIDE_RANGE[0]}-{SIDE_RANGE[1]} px, got {side}")
        scale = min(1.0, side / max(self.width, self.height))
        size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
        return start, end, rate, size, max(1, round((end - start) * rate))

    def describe(self, **options) -> str:
        start, end, rate, (w, h), frames = self.output(**options)
        return (f"{self.name}: {self.width}x{self.height}, {self.fps:g} fps, {self.duration:.2f} s ({self.codec}); "
                f"{start:g}-{end:.2f} s at {rate:g} fps -> {frames} frames of {w}x{h}")


def _ffmpeg_meta(path: Path, name: str, **kwargs):
    """imageio-ffmpeg's frame generator, started: (generator, its metadata), or GifEditorError."""
    import imageio_ffmpeg

    # imageio-ffmpeg logs a warning whenever the output size differs from the source: that is the point here.
    logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24", **kwargs)
    try:
        meta = next(gen)
    except (OSError, RuntimeError, StopIteration, ValueError) as exc:
        gen.close()
        lines = [line for line in str(exc).splitlines() if line.strip()]
        reason = next((line.strip() for line in reversed(lines) if "Invalid data" in line or "No such" in line
                       or "does not contain" in line), "ffmpeg found no video stream it can decode")
        raise GifEditorError(f"{name} is not a video ffmpeg can read ({reason[:120]})") from None
    return gen, meta


class _VideoFile:
    """A path for ffmpeg: the file itself, or bytes (an upload) written to a temporary file."""

    def __init__(self, source, name: str | None) -> None:
        self._tmp = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            suffix = ".webm" if bytes(source[:4]) == b"\x1a\x45\xdf\xa3" else ".mp4"
            self._tmp = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)
            self._tmp.write(bytes(source))
            self._tmp.close()
            self.path, self.name = Path(self._tmp.name), name or "upload"
        else:
            self.path = Path(source)
            self.name = name or self.path.name
            if not self.path.is_file():
                raise GifEditorError(f"no such file: {self.path}")

    def __enter__(self) -> "_VideoFile":
        return self

    def __exit__(self, *exc) -> None:
        if self._tmp is not None:
            os.unlink(self._tmp.name)


def _probe(video: _VideoFile) -> VideoInfo:
    gen, meta = _ffmpeg_meta(video.path, video.name)
    gen.close()  # the header is read; nothing is decoded
    w, h = meta.get("size") or (0, 0)
    duration = float(meta.get("duration") or 0)
    if not (w and h) or duration <= 0:
        raise GifEditorError(f"{video.name}: ffmpeg found no video frames with a length")
    return VideoInfo(video.name, int(w), int(h), float(meta.get("fps") or 0), duration, str(meta.get("codec", "?")))


def probe_video(source, name: str | None = None) -> VideoInfo:
    """The video's size, frame rate, length and codec, from its header (no frame is decoded)."""
    with _VideoFile(source, name) as video:
        return _probe(video)


def centisecond_delays(n: int, fps: float) -> list[int]:
    """Delays of n frames at ``fps`` in whole centiseconds whose running sum tracks the true times."""
    marks = [round(i * 100 / fps) * 10 for i in range(n + 1)]
    return [max(10, b - a) for a, b in zip(marks, marks[1:])]


def load_video(source, *, start: float | None = None, end: float | None = None, fps: float | None = None,
               max_side: int | None = None, max_pixels: int | None = None, name: str | None = None) -> Clip:
    """Decode ``start``..``end`` seconds of a video at ``fps`` (default 15, never above the video's own)
    with the longest side at most ``max_side`` px (default 480) into a looping clip."""
    budget = MAX_PIXELS if max_pixels is None else max_pixels
    with _VideoFile(source, name) as video:
        info = _probe(video)
        start, end, rate, (w, h), expected = info.output(start=start, end=end, fps=fps, max_side=max_side)
        if expected * w * h > budget:
            raise GifEditorError(f"{video.name}: {expected} frames of {w}x{h} = {expected * w * h:,} pixels, over the "
                                 f"budget of {budget:,}: choose a shorter range, a lower fps or a smaller size")
        gen, _ = _ffmpeg_meta(
            video.path, video.name, input_params=["-ss", f"{start:.3f}"] if start else None,
            output_params=["-t", f"{end - start:.3f}", "-an", "-vf", f"fps={rate:g},scale={w}:{h}:flags=area"])
        frames: list[Image.Image] = []
        try:
            for raw in gen:
                if (len(frames) + 1) * w * h > budget:
                    raise GifEditorError(f"{video.name}: more frames than its header said, over the pixel budget")
                frames.append(Image.frombytes("RGB", (w, h), raw).convert("RGBA"))
        except (OSError, RuntimeError) as exc:
            raise GifEditorError(f"{video.name} is damaged: ffmpeg stopped after {len(frames)} frames "
                                 f"({str(exc).strip().splitlines()[-1][:100] if str(exc).strip() else 'no reason'})") from None
        finally:
            gen.close()
    if not frames:
        raise GifEditorError(f"{video.name}: no frames between {start:g} and {end:.2f} s")
    return Clip(frames, centisecond_delays(len(frames), rate), loop=0,
                info={"format": "video", "name": video.name, "video": info.describe(start=start, end=end, fps=rate,
                                                                                   max_side=max(w, h))})
