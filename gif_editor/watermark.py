"""Watermark layers: rendered once per clip, then alpha-composited onto every frame."""
from __future__ import annotations

import base64
import io
import unicodedata
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw

from clipkit.fonts import load_font

from .errors import GifEditorError

POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "center")


def parse_color(color: str) -> tuple[int, int, int]:
    try:
        return ImageColor.getrgb(color)[:3]
    except (ValueError, AttributeError):
        raise GifEditorError(f"not a colour: {color!r} (use a name like 'white' or '#ff8800')") from None


def place(frame_size: tuple[int, int], item_size: tuple[int, int], position: str, margin: int) -> tuple[int, int]:
    """Top-left corner of an item placed at `position`, `margin` px from the edges."""
    fw, fh = frame_size
    iw, ih = item_size
    x = {"left": margin, "right": fw - iw - margin}
    y = {"top": margin, "bottom": fh - ih - margin}
    if position == "center":
        return (fw - iw) // 2, (fh - ih) // 2
    vertical, horizontal = position.split("-")
    return x[horizontal], y[vertical]


def text_layer(frame_size: tuple[int, int], text: str, *, font_size: int, opacity: int, color: str,
               position: str, margin: int) -> Image.Image:
    """A transparent RGBA layer with the text drawn at its position with the given opacity."""
    # Control characters (other than newlines) make the text shaper fail and draw nothing useful.
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) != "Cc")
    layer = Image.new("RGBA", frame_size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    fill = parse_color(color) + (opacity,)
    try:
        font = load_font(font_size)
        left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font)
    except (RuntimeError, OSError, ValueError):
        # Complex-script shaping (raqm) refused the text: fall back to basic layout.
        font = load_font(font_size, basic=True)
        left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font)
    x, y = place(frame_size, (right - left, bottom - top), position, margin)
    draw.multiline_text((x - left, y - top), text, font=font, fill=fill)
    return layer


def load_logo(path: str | None = None, data_base64: str | None = None) -> Image.Image:
    """The watermark image as RGBA, from a file path or base64 bytes (JSON-friendly)."""
    try:
        if data_base64:
            raw = base64.b64decode(data_base64, validate=True)
        elif path:
            raw = Path(path).read_bytes()
        else:
            raise GifEditorError("image watermark needs 'path' or 'data_base64'")
        with Image.open(io.BytesIO(raw), formats=("PNG", "GIF", "JPEG", "WEBP")) as im:
            return im.convert("RGBA")
    except GifEditorError:
        raise
    except FileNotFoundError:
        raise GifEditorError(f"watermark image not found: {path}") from None
    except Exception:
        raise GifEditorError("the watermark image is not a readable PNG, GIF, JPEG or WebP") from None


def logo_layer(frame_size: tuple[int, int], logo: Image.Image, *, scale: float, opacity: int,
               position: str, margin: int) -> Image.Image:
    """A transparent layer holding the logo, `scale` x frame width wide, its alpha times opacity/255."""
    fw, _ = frame_size
    width = max(1, round(fw * scale))
    height = max(1, round(logo.height * width / logo.width))
    resized = logo.resize((width, height), Image.Resampling.LANCZOS)
    alpha = resized.getchannel("A").point(lambda a: a * opacity // 255)
    resized.putalpha(alpha)
    layer = Image.new("RGBA", frame_size, (0, 0, 0, 0))
    layer.paste(resized, place(frame_size, resized.size, position, margin))
    return layer
