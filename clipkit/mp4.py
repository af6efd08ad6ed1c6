"""The one MP4 writer: H.264 in yuv420p through the ffmpeg that imageio-ffmpeg ships."""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .atomic import atomic_write

CRF = 20  # x264's constant quality: visually lossless for flat-colour clips, small files


def write_mp4(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float,
              repeats: Sequence[int] | None = None) -> Path:
    """Write uint8 RGB frames [H, W, 3] (all one size) to ``path`` atomically; returns ``path``.

    Frame i is shown ``repeats[i]`` times (default once): a constant-rate MP4 keeps uneven GIF delays
    that way. yuv420p needs even sides, so an odd side gets one more row or column repeating the edge
    instead of letting ffmpeg rescale the picture.
    """
    import imageio_ffmpeg

    frames = iter(frames)
    first = np.asarray(next(frames))
    if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f"MP4 frames must be uint8 [H, W, 3], got {first.dtype} {first.shape}")
    h, w = first.shape[:2]
    pad = ((0, h % 2), (0, w % 2), (0, 0))

    def write(tmp: str) -> None:
        writer = imageio_ffmpeg.write_frames(tmp, (w + w % 2, h + h % 2), fps=fps, codec="libx264",
                                             pix_fmt_out="yuv420p", macro_block_size=1, quality=None,
                                             bitrate=None, output_params=["-crf", str(CRF)],
                                             ffmpeg_log_level="error")
        writer.send(None)
        try:
            for i, frame in enumerate(itertools.chain([first], frames)):
                frame = np.asarray(frame)
                if frame.shape != first.shape:
                    raise ValueError(f"MP4 frame {i} is {frame.shape}, the first is {first.shape}")
                raw = np.ascontiguousarray(np.pad(frame, pad, mode="edge") if any(p[1] for p in pad) else frame)
                for _ in range(1 if repeats is None else repeats[i]):
                    writer.send(raw)
        finally:
            writer.close()

    return atomic_write(path, write, suffix=".tmp.mp4")  # ffmpeg picks the container from the name
