"""Video file -> fixed-size clip: decode only the time window, resize with aspect kept, centre-crop.

ffmpeg (the binary imageio-ffmpeg ships) does the seeking, frame-rate conversion, scaling and
cropping in one pass, so only the window is decoded and Python only sees the final small frames.
Shared by the MSR-VTT and own-video sources.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from PIL import Image

VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".avi", ".mkv", ".m4v")
# imageio-ffmpeg logs a warning whenever the output size differs from the source: that is the point here.
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)

T = TypeVar("T")
R = TypeVar("R")


def _scale_crop_filter(size: int, rate: float) -> str:
    return (f"fps={rate:.6f},scale={size}:{size}:force_original_aspect_ratio=increase:flags=area,"
            f"crop={size}:{size}")


def _read(path: str, size: int, frames: int, rate: float, start: float, duration: float) -> tuple[list[np.ndarray], dict]:
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(
        path, pix_fmt="rgb24",
        # -ss before -i seeks in the input (keyframe jump, then exact): the rest is never decoded.
        input_params=["-ss", f"{start:.3f}"] if start > 0 else [],
        output_params=["-t", f"{duration:.3f}", "-vf", _scale_crop_filter(size, rate), "-frames:v", str(frames)])
    try:
        meta = next(gen)
        out = [np.frombuffer(b, np.uint8).reshape(size, size, 3) for b in gen]
    finally:
        gen.close()
    return out, meta


def extract_clip(path: str | os.PathLike, *, size: int = 64, frames: int = 16, fps: float = 8,
                 start: float = 0.0, duration: float | None = None) -> np.ndarray:
    """``frames`` frames [F, size, size, 3] uint8 from ``start`` s, aspect kept and centre-cropped.

    The window is ``frames / fps`` seconds unless ``duration`` is given (then frames are spread over
    it). A video shorter than the window is sampled over its whole length instead.
    Raises ValueError for an undecodable file or one with no frames.
    """
    if size < 1 or frames < 1 or not fps > 0 or start < 0 or (duration is not None and not duration > 0):
        raise ValueError("size, frames, fps and duration must be positive and start >= 0")
    window = duration if duration is not None else frames / fps
    path = os.fspath(path)
    try:
        got, meta = _read(path, size, frames, frames / window, start, window)
        if len(got) < frames:  # shorter than the window: spread the frames over what there is
            total = float(meta.get("duration") or 0) - start
            if total > 0:
                got, _ = _read(path, size, frames, frames / total, start, total)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise ValueError(f"undecodable video: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__}") from None
    if not got:
        raise ValueError("no frames decoded (empty video or start beyond its end)")
    while len(got) < frames:  # rounding at the very end: repeat the last frame
        got.append(got[-1])
    return np.stack(got[:frames])


def resize_crop(image: Image.Image, size: int) -> Image.Image:
    """Resize so the shorter side is ``size`` (aspect kept), then centre-crop to size x size."""
    w, h = image.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((nw, nh), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return image.crop((left, top, left + size, top + size))


def sample_by_time(durations_ms: list[int], frames: int, fps: float) -> list[int]:
    """Indices of the source frames on screen at times k / fps (k < frames), honouring variable delays.

    A source shorter than frames / fps is sampled evenly over its whole duration instead.
    """
    if not durations_ms:
        raise ValueError("no frames")
    ends = np.cumsum(durations_ms)
    total = float(ends[-1])
    step = 1000.0 / fps
    if step * frames > total:
        step = total / frames
    times = np.arange(frames) * step
    return [int(i) for i in np.minimum(np.searchsorted(ends, times, side="right"), len(durations_ms) - 1)]


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """Map in order with ``workers`` threads (ffmpeg and Pillow do their work outside the GIL)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield from pool.map(fn, items)
    finally:  # on Ctrl-C or an early stop, drop the queued conversions instead of finishing them all
        pool.shutdown(wait=True, cancel_futures=True)


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))
