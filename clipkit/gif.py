"""The one GIF reader and writer, and the rules for GIF frame delays.

Facts they rest on (Pillow 10/11, measured here; CompuServe's GIF89a specification):
* Pillow's decompression-bomb check (``Image.MAX_IMAGE_PIXELS``) is per frame, so a GIF of many
  frames passes it while decoding all of them would fill memory: the reader checks width x height
  x frames against a budget from the header and frame count before any frame is decoded.
* GIF delays are whole 1/100 s, and Pillow truncates milliseconds (15 ms -> 10), so delays are
  rounded to 10 ms here. Browsers play delays under 20 ms (0 and 10) as about 100 ms, so no
  delay is written below 20 ms, and a stored 0 is shown (read) as 100 ms.
* Pillow's GIF writer merges a frame identical to the one before it into that frame's delay (even
  with ``optimize=False``): the frame count read back can be lower, the total duration is kept.
* A frame may reach past the logical screen (GIFs from the wild do: a canvas that grows after the
  first frame); Pillow then grows the canvas from that frame on, so frames come back in two sizes.
  The reader pads the earlier ones to the final canvas (transparent in RGBA, black otherwise).
"""
from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from .atomic import atomic_write

MAX_GIF_PIXELS = 1 << 28  # width * height * frames: 256 Mpx, 1 GB as RGBA
MIN_DELAY_MS = 20
UNSET_DELAY_MS = 100      # what browsers show for a stored delay of 0

GifSource = bytes | bytearray | memoryview | str | os.PathLike


def gif_duration_ms(fps: float) -> int:
    """The per-frame delay written for ``fps``: whole centiseconds, never under 20 ms."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return max(MIN_DELAY_MS, int(round(100.0 / fps)) * 10)


def stored_delay_ms(delay: float) -> int:
    """A delay in ms as a GIF can store it (whole centiseconds, rounded rather than truncated)."""
    return int(round(delay / 10.0)) * 10


def shown_delay_ms(delay: int) -> int:
    """The delay a viewer shows for a stored one: 0 (unset) plays as 100 ms."""
    return delay if delay > 0 else UNSET_DELAY_MS


class GifReadError(ValueError):
    """Why a file could not be read; ``category`` is one of "not a GIF", "too large", "undecodable GIF"."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(f"{category}: {detail}")
        self.category, self.detail = category, detail


@dataclass
class GifFrames:
    """Decoded frames (each a separate image in ``mode``) with the file's own timing."""

    frames: list[Image.Image]
    durations: list[int]           # ms as stored (0 = unset; see shown_delay_ms)
    loop: int | None               # None: the file has no loop block (plays once)
    format: str                    # "GIF", or a still format the caller allowed
    transparent: bool              # some pixel of some frame is not opaque (mode "RGBA" only)


def read_gif(source: GifSource, *, mode: str = "RGB", max_pixels: int = MAX_GIF_PIXELS,
             formats: Sequence[str] = ("GIF",)) -> GifFrames:
    """Every frame of a GIF (or of another format in ``formats``), composed by Pillow, in ``mode``.

    Raises GifReadError: "not a GIF" (not one of ``formats``; a missing file too), "too large"
    (frames x width x height over ``max_pixels``, found before decoding any frame) or
    "undecodable GIF" (damaged or truncated data).
    """
    data = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(data, formats=list(formats))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise GifReadError("too large", _bomb_words(_head(source, 10))) from None
    except FileNotFoundError:
        raise GifReadError("not a GIF", f"no such file: {source}") from None
    except Exception as exc:  # UnidentifiedImageError, or a header Pillow gives up on
        if _head(source, 6) in (b"GIF87a", b"GIF89a"):
            raise GifReadError("undecodable GIF", "it starts like a GIF but what follows the header is not "
                                                  f"readable GIF data ({_words(exc)})") from None
        raise GifReadError("not a GIF", f"no {' / '.join(formats)} header") from None
    with im:
        try:
            width, height = im.size
            n_frames = getattr(im, "n_frames", 1)  # skips frame data: decodes nothing
        except Exception as exc:
            raise GifReadError("undecodable GIF", f"damaged before its first frame ({_words(exc)})") from None
        if width * height * n_frames > max_pixels:
            raise GifReadError("too large", f"{n_frames} frames of {width}x{height} = {width * height * n_frames:,} "
                                            f"pixels, over the budget of {max_pixels:,}")
        fmt = im.format
        loop = im.info.get("loop") if fmt == "GIF" else im.info.get("loop", 0)
        frames, durations, transparent = [], [], False
        try:
            for frame in ImageSequence.Iterator(im):
                # convert() returns a new image: the iterator hands back one object that each seek overwrites.
                out = frame.convert(mode)
                out.load()
                frames.append(out)
                durations.append(int(frame.info.get("duration", 0) or 0))
                if mode == "RGBA" and not transparent and out.getextrema()[3][0] < 255:
                    transparent = True
        except Exception as exc:  # truncated data surfaces as OSError, EOFError, IndexError, SyntaxError...
            raise GifReadError("undecodable GIF", f"damaged or truncated at frame {len(frames) + 1} "
                                                  f"({_words(exc)})") from None
    if not frames:
        raise GifReadError("undecodable GIF", "no frames")
    frames, grown = _common_canvas(frames, mode)
    return GifFrames(frames, durations, loop, fmt, transparent or grown)


def _common_canvas(frames: list[Image.Image], mode: str) -> tuple[list[Image.Image], bool]:
    """Frames padded to the largest canvas (anchored top left, where GIF frame offsets count from);
    True when padding added see-through pixels to an RGBA clip."""
    width, height = max(f.width for f in frames), max(f.height for f in frames)
    if all(f.size == (width, height) for f in frames):
        return frames, False
    fill = (0, 0, 0, 0) if mode == "RGBA" else 0
    padded = []
    for f in frames:
        if f.size != (width, height):
            canvas = Image.new(mode, (width, height), fill)
            canvas.paste(f, (0, 0))
            f = canvas
        padded.append(f)
    return padded, mode == "RGBA"


def _head(source: GifSource, n: int) -> bytes:
    """The first ``n`` bytes of the data or file (b"" when unreadable)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:n])
    try:
        with open(source, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def _words(exc: Exception) -> str:
    """An exception as words for a user: Pillow's messages name the stream object
    ("cannot identify image file <_io.BytesIO object at 0x...>"), which means nothing to them."""
    text = re.sub(r"\s*<_?io\.\w+ (object|name=[^>]*) at 0x[0-9a-f]+>|\s*<_io\.\w+ name=[^>]*>", "", str(exc)).strip()
    text = text.replace("cannot identify image file", "Pillow cannot identify the image data")
    return text or exc.__class__.__name__


def _bomb_words(header: bytes) -> str:
    """Why Pillow refused to open a file as a decompression bomb, with the canvas size when it is a GIF."""
    limit = Image.MAX_IMAGE_PIXELS or 0
    if header[:6] in (b"GIF87a", b"GIF89a") and len(header) >= 10:
        w, h = int.from_bytes(header[6:8], "little"), int.from_bytes(header[8:10], "little")
        return (f"its {w}x{h} canvas is {w * h:,} pixels, over Pillow's limit of {limit:,} per frame "
                "(a decompression bomb)")
    return f"one frame is over Pillow's limit of {limit:,} pixels (a decompression bomb)"


def read_gif_array(source: GifSource, max_pixels: int = MAX_GIF_PIXELS) -> np.ndarray:
    """Every frame of a GIF as uint8 [F, H, W, 3]."""
    return np.stack([np.asarray(f) for f in read_gif(source, max_pixels=max_pixels).frames])


def as_frames(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    """Validate a uint8 clip (a numpy array, or anything ``np.asarray`` takes); returns [F, H, W, C], C in (1, 3)."""
    arr = np.asarray(frames)
    if arr.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (convert float clips with vdiff.video.to_uint8), got {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or min(arr.shape[:3]) < 1:
        raise ValueError(f"{name} must be [F, H, W, 3] or [F, H, W, 1] uint8, got shape {arr.shape}")
    return arr


def to_images(frames: np.ndarray) -> list[Image.Image]:
    """uint8 [F, H, W, C] -> Pillow frames; grey clips (C = 1, or R = G = B) become L frames, whose
    GIF palette is exactly the 256 greys (an adaptive palette could merge nearby greys)."""
    arr = as_frames(frames)
    if arr.shape[-1] == 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2]):
        arr = arr[..., :1]
    return [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in arr]


def encode_gif(images: Sequence[Image.Image], durations: int | Sequence[float], *, loop: int | None = 0,
               disposal: int | None = None, transparency: int | None = None) -> bytes:
    """GIF bytes of ready frames (P, L or RGB) with one delay for all or one per frame (ms).

    ``loop`` None writes no loop block (plays once); ``disposal`` 2 clears each frame before the
    next (needed for transparency); ``transparency`` is the see-through palette index of every frame
    (P frames may instead carry their own in ``image.info["transparency"]``).
    """
    if not images:
        raise ValueError("no frames to write")
    delays = stored_delay_ms(durations) if isinstance(durations, (int, float)) else [stored_delay_ms(d) for d in durations]
    kwargs: dict = {"save_all": True, "append_images": list(images[1:]), "duration": delays, "optimize": False}
    if loop is not None:
        kwargs["loop"] = loop
    if disposal is not None:
        kwargs["disposal"] = disposal
    if transparency is not None:
        kwargs["transparency"] = transparency
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", **kwargs)
    return buf.getvalue()


def write_gif(frames: np.ndarray, path: str | os.PathLike, fps: float = 8) -> Path:
    """Save a uint8 clip [F, H, W, C] as a looping GIF at ``fps``, atomically; returns ``path``."""
    data = encode_gif(to_images(frames), gif_duration_ms(fps))
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
