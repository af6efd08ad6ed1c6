"""The edit operations and `apply`, which runs an operation list in one fixed order.

An edit is a JSON-serialisable list like
    [{"op": "resize", "width": 320, "keep_aspect": true}, {"op": "speed", "factor": 2}]
Each operation may appear once. Whatever order the list has, they run in ORDER:

    trim, delete_frames, every_nth,     frame range first: later steps touch fewer frames
    reverse, boomerang
    crop, rotate, flip_horizontal,      geometry of the source: crop percentages refer to it,
    flip_vertical, resize               and resize names the final size after rotating
    grayscale, brightness, contrast     colour on the final (usually smaller) frames
    text, image_watermark               drawn last so colour edits do not tint them
    speed, delay, hold                  timing only; delay sets delays outright (after speed), hold adds time
    optimize, max_size                  encoding: colours, lossy level, duplicates (optimize.py); a size
                                        limit that the encoder settings are searched to meet (fit.py)

so the UI, the CLI and batch mode produce the same result from the same list. The frame and timing
operations live in timing.py, the geometry in geometry.py.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from PIL import Image

from .clip import Clip
from .errors import GifEditorError
from .fit import fit_settings
from .geometry import (SIZE_RANGE, crop_box, crop_target, keep_aspect_size, map_frames, op_crop,  # noqa: F401
                       op_flip_horizontal, op_flip_vertical, op_resize, op_rotate, resize_target)
# SIZE_RANGE, crop_box, keep_aspect_size and the timing ranges are re-exported: ops is where they were
from .optimize import drop_duplicates, settings_from
from .params import check_position, flag, number
from .timing import (DELAY_RANGE, HOLD_RANGE, NTH_RANGE, SPEED_RANGE, op_boomerang, op_delay,  # noqa: F401
                     op_delete_frames, op_every_nth, op_hold, op_reverse, op_speed, op_trim, speed_delay)
from .watermark import ALIGNS, load_logo, logo_layer, parse_color, text_layer

ORDER = (
    "trim", "delete_frames", "every_nth", "reverse", "boomerang",
    "crop", "rotate", "flip_horizontal", "flip_vertical", "resize",
    "grayscale", "brightness", "contrast",
    "text", "image_watermark",
    "speed", "delay", "hold",
    "optimize", "max_size",
)
FACTOR_RANGE = (0.1, 3.0)
FONT_RANGE = (10, 120)


# ---------------------------------------------------------------- colour

def _rgb_lut(fn: Callable[[int], float]) -> list[int]:
    """A 4-band point table: fn on R, G, B; alpha left exactly as it is."""
    table = [min(255, max(0, int(round(fn(v))))) for v in range(256)]
    return table * 3 + list(range(256))


def op_grayscale(clip: Clip, p: dict) -> Clip:
    def gray(f: Image.Image) -> Image.Image:
        lum = f.convert("L")
        return Image.merge("RGBA", (lum, lum, lum, f.getchannel("A")))
    return map_frames(clip, gray)


def op_brightness(clip: Clip, p: dict) -> Clip:
    """ImageEnhance.Brightness arithmetic as a lookup table, so alpha stays untouched."""
    factor = number("brightness", p, "factor", *FACTOR_RANGE)
    if factor == 1.0:
        return clip
    lut = _rgb_lut(lambda v: v * factor)
    return map_frames(clip, lambda f: f.point(lut))


def op_contrast(clip: Clip, p: dict) -> Clip:
    """ImageEnhance.Contrast arithmetic (towards each frame's mean grey), alpha untouched."""
    factor = number("contrast", p, "factor", *FACTOR_RANGE)
    if factor == 1.0:
        return clip

    def contrast(f: Image.Image) -> Image.Image:
        histogram = f.convert("L").histogram()
        mean = int(sum(i * n for i, n in enumerate(histogram)) / max(1, sum(histogram)) + 0.5)
        return f.point(_rgb_lut(lambda v: mean + (v - mean) * factor))
    return map_frames(clip, contrast)


def _composite(clip: Clip, layer: Image.Image, frames: range | None = None) -> Clip:
    """Alpha-composite one layer onto every frame (or those in ``frames``), touching only the layer's box."""
    box = layer.getbbox()
    if box is None:
        return clip
    patch = layer.crop(box)
    chosen = range(clip.n_frames) if frames is None else frames

    def draw(frame: Image.Image) -> Image.Image:
        out = frame.copy()
        out.paste(Image.alpha_composite(frame.crop(box), patch), box[:2])
        return out
    return replace(clip, frames=[draw(f) if i in chosen else f for i, f in enumerate(clip.frames)])


def _colour(op: str, p: dict, key: str, default: str) -> str:
    value = p.get(key, default)
    parse_color(value)
    return value


def op_text(clip: Clip, p: dict) -> Clip:
    """Text with an optional outline, shadow and background box, on all frames or on ``start``..``end``
    (frame numbers, end exclusive). Newlines in ``text`` make several lines."""
    text = str(p.get("text", ""))
    opacity = number("text", p, "opacity", 0, 255, default=200, integer=True)
    font_size = number("text", p, "font_size", *FONT_RANGE, default=20, integer=True)
    n = clip.n_frames
    start = number("text", p, "start", 0, n - 1, default=0, integer=True)
    end = number("text", p, "end", start + 1, n, default=n, integer=True) if p.get("end") is not None else n
    align = p.get("align", "left")
    if align not in ALIGNS:
        raise GifEditorError(f"text: align must be one of {', '.join(ALIGNS)}, got {align!r}")
    style = {
        "margin": number("text", p, "margin", 0, 500, default=10, integer=True),
        "position": check_position("text", p),
        "color": _colour("text", p, "color", "white"),
        "stroke_width": number("text", p, "stroke_width", 0, 20, default=0, integer=True),
        "stroke_color": _colour("text", p, "stroke_color", "black"),
        "shadow": number("text", p, "shadow", 0, 20, default=0, integer=True),
        "shadow_color": _colour("text", p, "shadow_color", "black"),
        "box": flag("text", p, "box"),
        "box_color": _colour("text", p, "box_color", "black"),
        "box_opacity": number("text", p, "box_opacity", 0, 255, default=160, integer=True),
        "padding": number("text", p, "padding", 0, 100, default=6, integer=True),
        "align": align,
    }
    if not text.strip() or opacity == 0:
        return clip
    # One layer for all frames: drawing per frame is the slow part of the naive loop.
    layer = text_layer(clip.size, text.replace("\r\n", "\n"), font_size=font_size, opacity=opacity, **style)
    return _composite(clip, layer, None if (start, end) == (0, n) else range(start, end))


def op_image_watermark(clip: Clip, p: dict) -> Clip:
    opacity = number("image_watermark", p, "opacity", 0, 255, default=128, integer=True)
    scale = number("image_watermark", p, "scale", 0.01, 1.0, default=0.2)
    margin = number("image_watermark", p, "margin", 0, 500, default=10, integer=True)
    position = check_position("image_watermark", p)
    logo = load_logo(p.get("path"), p.get("data_base64"))
    if opacity == 0:
        return clip
    return _composite(clip, logo_layer(clip.size, logo, scale=scale, opacity=opacity, position=position, margin=margin))


def op_optimize(clip: Clip, p: dict) -> Clip:
    """Drop (near-)duplicate frames now; the encoder settings travel in ``info`` to ``save``."""
    settings = settings_from(p)
    before = clip  # kept so the editor and the CLI can show the size without optimize
    clip = drop_duplicates(clip, settings.pop("duplicates"))
    return replace(clip, info={**clip.info, "optimize": settings, "before_optimize": before})


def op_max_size(clip: Clip, p: dict) -> Clip:
    """Mark the clip to be saved within ``bytes``: save() searches colours, lossy level, frame dropping
    and scale for the best-looking GIF that fits (fit.py), or raises GifEditorError when none does."""
    return replace(clip, info={**clip.info, "max_size": fit_settings(p, clip.info.get("optimize"))})


_FUNCTIONS = (op_trim, op_delete_frames, op_every_nth, op_reverse, op_boomerang, op_crop, op_rotate,
              op_flip_horizontal, op_flip_vertical, op_resize, op_grayscale, op_brightness, op_contrast, op_text,
              op_image_watermark, op_speed, op_delay, op_hold, op_optimize, op_max_size)
OPERATIONS: dict[str, Callable[[Clip, dict], Clip]] = {f.__name__[3:]: f for f in _FUNCTIONS}
assert tuple(OPERATIONS) == ORDER, "every operation has one function, listed in ORDER"


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
    clip = replace(clip, info=dict(clip.info))  # notes that save() writes must not land on the source
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
            box = crop_target((w, h), item)
            w, h = box[2] - box[0], box[3] - box[1]
        elif name == "rotate" and item.get("degrees") in (90, 270):
            w, h = h, w
        elif name == "resize":
            w, h = resize_target((w, h), item)
    return w, h
