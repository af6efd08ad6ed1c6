"""The edit operations and `apply`, which runs an operation list in one fixed order.

An edit is a JSON-serialisable list like
    [{"op": "resize", "width": 320, "keep_aspect": true}, {"op": "speed", "factor": 2}]
Each operation may appear once. Whatever order the list has, they run in ORDER:

    trim, reverse, boomerang            frame range first: later steps touch fewer frames
    crop, rotate, flip_horizontal,      geometry of the source: crop percentages refer to it,
    flip_vertical, resize               and resize names the final size after rotating
    grayscale, brightness, contrast     colour on the final (usually smaller) frames
    text, image_watermark               drawn last so colour edits do not tint them
    speed, delay                        timing only; delay sets frames' delays outright (after speed)
    optimize                            encoding: colours, lossy level, duplicate frames (optimize.py)

so the UI, the CLI and batch mode produce the same result from the same list.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import replace

from PIL import Image

from clipkit.gif import MIN_DELAY_MS  # browsers play delays under 20 ms as ~100 ms

from .clip import Clip
from .errors import GifEditorError
from .optimize import drop_duplicates, settings_from
from .params import check_position, number
from .watermark import load_logo, logo_layer, parse_color, text_layer

ORDER = (
    "trim", "reverse", "boomerang",
    "crop", "rotate", "flip_horizontal", "flip_vertical", "resize",
    "grayscale", "brightness", "contrast",
    "text", "image_watermark",
    "speed", "delay",
    "optimize",
)
SIZE_RANGE = (50, 1000)
FACTOR_RANGE = (0.1, 3.0)
SPEED_RANGE = (0.1, 5.0)
FONT_RANGE = (10, 50)
DELAY_RANGE = (MIN_DELAY_MS, 60_000)


# ---------------------------------------------------------------- size arithmetic (pure)

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


def speed_delay(delay_ms: int, factor: float) -> int:
    """New delay: scaled, rounded to 10 ms (GIF centiseconds), at least 20 ms; 0 ms counts as 100 ms."""
    delay = delay_ms if delay_ms > 0 else 100
    return max(MIN_DELAY_MS, math.floor(delay / factor / 10 + 0.5) * 10)  # half up: 25 ms -> 30


# ---------------------------------------------------------------- operations

def _map(clip: Clip, fn: Callable[[Image.Image], Image.Image]) -> Clip:
    return replace(clip, frames=[fn(f) for f in clip.frames])


def op_trim(clip: Clip, p: dict) -> Clip:
    n = clip.n_frames
    start = number("trim", p, "start", 0, n - 1, default=0, integer=True)
    end = number("trim", p, "end", start + 1, n, default=n, integer=True)  # exclusive
    return replace(clip, frames=clip.frames[start:end], durations=clip.durations[start:end])


def op_reverse(clip: Clip, p: dict) -> Clip:
    return replace(clip, frames=clip.frames[::-1], durations=clip.durations[::-1])


def op_boomerang(clip: Clip, p: dict) -> Clip:
    """Forward then backward, without repeating the two end frames (which would stutter)."""
    back = list(range(clip.n_frames - 2, 0, -1))
    return replace(clip, frames=clip.frames + [clip.frames[i] for i in back],
                   durations=clip.durations + [clip.durations[i] for i in back])


def op_crop(clip: Clip, p: dict) -> Clip:
    margins = {k: number("crop", p, k, 0, 99.9, default=0) for k in ("left", "right", "top", "bottom")}
    box = crop_box(clip.size, **margins)
    if box == (0, 0) + clip.size:
        return clip
    return _map(clip, lambda f: f.crop(box))


_ROTATIONS = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


def op_rotate(clip: Clip, p: dict) -> Clip:
    """Clockwise by 90/180/270 degrees: exact transposes, the canvas follows."""
    degrees = p.get("degrees", 0)
    if degrees not in (0, 90, 180, 270) or isinstance(degrees, bool):
        raise GifEditorError(f"rotate: degrees must be 0, 90, 180 or 270 (clockwise), got {degrees!r}")
    if degrees == 0:
        return clip
    return _map(clip, lambda f: f.transpose(_ROTATIONS[int(degrees)]))


def op_flip_horizontal(clip: Clip, p: dict) -> Clip:
    return _map(clip, lambda f: f.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


def op_flip_vertical(clip: Clip, p: dict) -> Clip:
    return _map(clip, lambda f: f.transpose(Image.Transpose.FLIP_TOP_BOTTOM))


def resize_target(src: tuple[int, int], p: dict) -> tuple[int, int]:
    lo, hi = SIZE_RANGE
    width = number("resize", p, "width", lo, hi, integer=True) if p.get("width") is not None else None
    height = number("resize", p, "height", lo, hi, integer=True) if p.get("height") is not None else None
    if width is None and height is None:
        raise GifEditorError("resize: give 'width', 'height' or both")
    if p.get("keep_aspect", False) or width is None or height is None:
        return keep_aspect_size(src, width, height)
    return width, height


def op_resize(clip: Clip, p: dict) -> Clip:
    size = resize_target(clip.size, p)
    if size == clip.size:
        return clip
    # Frames are RGBA: bilinear here is real interpolation (P-mode resize would be forced to nearest).
    return _map(clip, lambda f: f.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0))


def _rgb_lut(fn: Callable[[int], float]) -> list[int]:
    """A 4-band point table: fn on R, G, B; alpha left exactly as it is."""
    table = [min(255, max(0, int(round(fn(v))))) for v in range(256)]
    return table * 3 + list(range(256))


def op_grayscale(clip: Clip, p: dict) -> Clip:
    def gray(f: Image.Image) -> Image.Image:
        lum = f.convert("L")
        return Image.merge("RGBA", (lum, lum, lum, f.getchannel("A")))
    return _map(clip, gray)


def op_brightness(clip: Clip, p: dict) -> Clip:
    """ImageEnhance.Brightness arithmetic as a lookup table, so alpha stays untouched."""
    factor = number("brightness", p, "factor", *FACTOR_RANGE)
    if factor == 1.0:
        return clip
    lut = _rgb_lut(lambda v: v * factor)
    return _map(clip, lambda f: f.point(lut))


def op_contrast(clip: Clip, p: dict) -> Clip:
    """ImageEnhance.Contrast arithmetic (towards each frame's mean grey), alpha untouched."""
    factor = number("contrast", p, "factor", *FACTOR_RANGE)
    if factor == 1.0:
        return clip

    def contrast(f: Image.Image) -> Image.Image:
        histogram = f.convert("L").histogram()
        mean = int(sum(i * n for i, n in enumerate(histogram)) / max(1, sum(histogram)) + 0.5)
        return f.point(_rgb_lut(lambda v: mean + (v - mean) * factor))
    return _map(clip, contrast)


def _composite(clip: Clip, layer: Image.Image) -> Clip:
    """Alpha-composite one layer onto every frame, touching only the layer's non-empty box."""
    box = layer.getbbox()
    if box is None:
        return clip
    patch = layer.crop(box)

    def draw(frame: Image.Image) -> Image.Image:
        out = frame.copy()
        out.paste(Image.alpha_composite(frame.crop(box), patch), box[:2])
        return out
    return _map(clip, draw)


def op_text(clip: Clip, p: dict) -> Clip:
    text = str(p.get("text", ""))
    opacity = number("text", p, "opacity", 0, 255, default=200, integer=True)
    font_size = number("text", p, "font_size", *FONT_RANGE, default=20, integer=True)
    margin = number("text", p, "margin", 0, 500, default=10, integer=True)
    position = check_position("text", p)
    color = p.get("color", "white")
    parse_color(color)
    if not text.strip() or opacity == 0:
        return clip
    # One layer for all frames: drawing per frame is the slow part of the naive loop.
    return _composite(clip, text_layer(clip.size, text, font_size=font_size, opacity=opacity, color=color,
                                       position=position, margin=margin))


def op_image_watermark(clip: Clip, p: dict) -> Clip:
    opacity = number("image_watermark", p, "opacity", 0, 255, default=128, integer=True)
    scale = number("image_watermark", p, "scale", 0.01, 1.0, default=0.2)
    margin = number("image_watermark", p, "margin", 0, 500, default=10, integer=True)
    position = check_position("image_watermark", p)
    logo = load_logo(p.get("path"), p.get("data_base64"))
    if opacity == 0:
        return clip
    return _composite(clip, logo_layer(clip.size, logo, scale=scale, opacity=opacity, position=position, margin=margin))


def op_speed(clip: Clip, p: dict) -> Clip:
    factor = number("speed", p, "factor", *SPEED_RANGE)
    if factor == 1.0:
        return clip
    return replace(clip, durations=[speed_delay(d, factor) for d in clip.durations])


def op_delay(clip: Clip, p: dict) -> Clip:
    """Set delays in ms: ``all`` for every frame, then ``frames`` {index: ms} for single frames
    (indices of the clip as it is at this point, after trim/reverse/boomerang)."""
    durations = list(clip.durations)
    if p.get("all") is not None:
        durations = [number("delay", p, "all", *DELAY_RANGE, integer=True)] * clip.n_frames
    frames = p.get("frames") or {}
    if not isinstance(frames, dict):
        raise GifEditorError(f'delay: "frames" must map frame numbers to delays in ms, got {frames!r}')
    for key, ms in frames.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise GifEditorError(f"delay: frame numbers must be whole numbers, got {key!r}") from None
        if not 0 <= index < clip.n_frames:
            raise GifEditorError(f"delay: frame {index} does not exist (the clip has frames 0-{clip.n_frames - 1})")
        durations[index] = number("delay", {"ms": ms}, "ms", *DELAY_RANGE, integer=True)
    return replace(clip, durations=durations)


def op_optimize(clip: Clip, p: dict) -> Clip:
    """Drop (near-)duplicate frames now; the encoder settings travel in ``info`` to ``save``."""
    settings = settings_from(p)
    before = clip  # kept so the editor and the CLI can show the size without optimize
    clip = drop_duplicates(clip, settings.pop("duplicates"))
    return replace(clip, info={**clip.info, "optimize": settings, "before_optimize": before})


OPERATIONS: dict[str, Callable[[Clip, dict], Clip]] = {name: globals()[f"op_{name}"] for name in ORDER}


# ---------------------------------------------------------------- the one code path

def normalize(ops: Iterable[dict] | None) -> list[dict]:
    """Check names and duplicates and return the list sorted into ORDER."""
    if ops is None:
        return []
    if isinstance(ops, dict):
        ops = [ops]
    seen: dict[str, dict] = {}
    for item in ops:
        if not isinstance(item, dict) or "op" not in item:
            raise GifEditorError(f'each operation must be an object with an "op" name, got {item!r}')
        name = str(item["op"]).replace("-", "_")
        if name not in OPERATIONS:
            raise GifEditorError(f"unknown operation {item['op']!r}; known: {', '.join(ORDER)}")
        if name in seen:
            raise GifEditorError(f"operation {name!r} appears twice; give each operation once")
        seen[name] = {**item, "op": name}
    return [seen[name] for name in ORDER if name in seen]


def apply(clip: Clip, ops: Iterable[dict] | None) -> Clip:
    """Run an operation list on a clip (in ORDER) and return a new clip; the input is not changed."""
    for item in normalize(ops):
        params = {k: v for k, v in item.items() if k != "op"}
        clip = OPERATIONS[item["op"]](clip, params)
    return clip


def predict_size(size: tuple[int, int], ops: Iterable[dict] | None) -> tuple[int, int]:
    """Frame size after `ops` without touching pixels (used for keep-aspect and checks)."""
    w, h = size
    for item in normalize(ops):
        name = item["op"]
        if name == "crop":
            box = crop_box((w, h), *(float(item.get(k, 0)) for k in ("left", "right", "top", "bottom")))
            w, h = box[2] - box[0], box[3] - box[1]
        elif name == "rotate" and item.get("degrees") in (90, 270):
            w, h = h, w
        elif name == "resize":
            w, h = resize_target((w, h), item)
    return w, h
