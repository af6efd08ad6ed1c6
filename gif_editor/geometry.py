"""Geometry operations and their size arithmetic: crop (percentages or an aspect ratio), rotate,
flips and resize. Pure functions of a clip and its parameters."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PIL import Image

from .clip import Clip
from .errors import GifEditorError
from .params import number

SIZE_RANGE = (50, 1000)
# The shapes people post to: square and 4:5 feeds, 16:9 players, 9:16 stories and shorts.
ASPECTS = ("1:1", "4:5", "16:9", "9:16")


def map_frames(clip: Clip, fn: Callable[[Image.Image], Image.Image]) -> Clip:
    """The clip with ``fn`` applied to every frame."""
    return replace(clip, frames=[fn(f) for f in clip.frames])


def keep_aspect_size(src: tuple[int, int], width: int | None = None, height: int | None = None) -> tuple[int, int]:
    """Output size when one side is given and the other follows the source aspect ratio (width wins)."""
    sw, sh = src
    if width is not None:
        return width, max(1, round(width * sh / sw))
    if height is not None:
        return max(1, round(height * sw / sh)), height
    return sw, sh


def crop_box(size: tuple[int, int], left: float, right: float, top: float, bottom: float) -> tuple[int, int, int, int]:
    """Pixel box for percentage margins. Margins must sum under 100% per axis; rounding that would
    eat the last pixel is clamped, so a valid crop always keeps at least 1 px each way."""
    if left + right >= 100 or top + bottom >= 100:
        raise GifEditorError(
            f"crop of {left:g}/{right:g}/{top:g}/{bottom:g}% leaves nothing: left+right and top+bottom must stay under 100%"
        )

    def axis(length: int, start_pct: float, end_pct: float) -> tuple[int, int]:
        start = min(length - 1, round(length * start_pct / 100))
        end = max(start + 1, length - round(length * end_pct / 100))
        return start, end

    x0, x1 = axis(size[0], left, right)
    y0, y1 = axis(size[1], top, bottom)
    return x0, y0, x1, y1


def parse_aspect(value) -> float:
    """Width / height from "16:9" (any two positive numbers W:H), or from a positive number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    try:
        w, h = (float(part) for part in str(value).replace("/", ":").split(":"))
        if w > 0 and h > 0:
            return w / h
    except ValueError:
        pass
    raise GifEditorError(f"crop: aspect must look like {' or '.join(ASPECTS)} (W:H), got {value!r}")


def aspect_box(box: tuple[int, int, int, int], aspect: float, x: float = 50.0, y: float = 50.0) -> tuple[int, int, int, int]:
    """The largest box of ``aspect`` (width / height) inside ``box``; ``x``/``y`` (0-100) place it along
    the side that has room: 0 = left/top, 50 = centred, 100 = right/bottom. At least 1 px each way."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w / h > aspect:  # too wide: narrow it
        new_w = max(1, min(w, round(h * aspect)))
        left = x0 + round((w - new_w) * x / 100)
        return left, y0, left + new_w, y1
    new_h = max(1, min(h, round(w / aspect)))
    top = y0 + round((h - new_h) * y / 100)
    return x0, top, x1, top + new_h


def crop_target(size: tuple[int, int], p: dict) -> tuple[int, int, int, int]:
    """The crop op's pixel box: percentage margins first, then (with ``aspect``) the shape inside them."""
    margins = {k: number("crop", p, k, 0, 99.9, default=0) for k in ("left", "right", "top", "bottom")}
    box = crop_box(size, **margins)
    if p.get("aspect") in (None, "", "free"):
        return box
    x = number("crop", p, "x", 0, 100, default=50)
    y = number("crop", p, "y", 0, 100, default=50)
    return aspect_box(box, parse_aspect(p["aspect"]), x, y)


def op_crop(clip: Clip, p: dict) -> Clip:
    box = crop_target(clip.size, p)
    if box == (0, 0) + clip.size:
        return clip
    return map_frames(clip, lambda f: f.crop(box))


_ROTATIONS = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


def op_rotate(clip: Clip, p: dict) -> Clip:
    """Clockwise by 90/180/270 degrees: exact transposes, the canvas follows."""
    degrees = p.get("degrees", 0)
    if degrees not in (0, 90, 180, 270) or isinstance(degrees, bool):
        raise GifEditorError(f"rotate: degrees must be 0, 90, 180 or 270 (clockwise), got {degrees!r}")
    if degrees == 0:
        return clip
    return map_frames(clip, lambda f: f.transpose(_ROTATIONS[int(degrees)]))


def op_flip_horizontal(clip: Clip, p: dict) -> Clip:
    return map_frames(clip, lambda f: f.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


def op_flip_vertical(clip: Clip, p: dict) -> Clip:
    return map_frames(clip, lambda f: f.transpose(Image.Transpose.FLIP_TOP_BOTTOM))


def resize_target(src: tuple[int, int], p: dict) -> tuple[int, int]:
    lo, hi = SIZE_RANGE
    width = number("resize", p, "width", lo, hi, integer=True) if p.get("width") is not None else None
    height = number("resize", p, "height", lo, hi, integer=True) if p.get("height") is not None else None
    if width is None and height is None:
        raise GifEditorError("resize: give 'width', 'height' or both")
    if p.get("keep_aspect", False) or width is None or height is None:
        return keep_aspect_size(src, width, height)
    return width, height


def scale_frames(clip: Clip, size: tuple[int, int]) -> Clip:
    """Every frame resized to ``size``; bilinear, which on RGBA frames is real interpolation
    (a P-mode resize would be forced to nearest neighbour)."""
    if size == clip.size:
        return clip
    return map_frames(clip, lambda f: f.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0))


def op_resize(clip: Clip, p: dict) -> Clip:
    return scale_frames(clip, resize_target(clip.size, p))
