"""Watermark layers: rendered once per clip, then alpha-composited onto every frame."""
from __future__ import annotations

import base64
import io
import unicodedata
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw

from clipkit.fonts import load_font

from .errors import GifEditorError

POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "center", "top", "bottom")
ALIGNS = ("left", "center", "right")


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
    if position in ("top", "bottom"):  # centred across, like a caption or a meme's lines
        return (fw - iw) // 2, y[position]
    vertical, horizontal = position.split("-")
    return x[horizontal], y[vertical]


def text_layer(frame_size: tuple[int, int], text: str, *, font_size: int, opacity: int, color: str,
               position: str, margin: int, stroke_width: int = 0, stroke_color: str = "black",
               shadow: int = 0, shadow_color: str = "black", box: bool = False, box_color: str = "black",
               box_opacity: int = 160, padding: int = 6, align: str = "left") -> Image.Image:
    """A transparent RGBA layer with the text at its position: readable on any background through an
    outline (``stroke_width`` px), a drop shadow (``shadow`` px offset) and/or a background box.

    Each part is its own layer, alpha-composited (box, then shadow, then text): drawing one over
    another on the same layer would replace its pixels and punch holes where the text is see-through.
    Several lines (newlines in ``text``) are laid out by Pillow's multiline text with ``align``.
    """
    # Control characters (other than newlines) make the text shaper fail and draw nothing useful.
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) != "Cc")
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    style = {"spacing": max(2, font_size // 5), "align": align, "stroke_width": stroke_width}
    try:
        font = load_font(font_size)
        left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font, **style)
    except (RuntimeError, OSError, ValueError):
        # Complex-script shaping (raqm) refused the text: fall back to basic layout.
        font = load_font(font_size, basic=True)
        left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font, **style)
    pad = padding if box else 0
    block = (right - left + 2 * pad + shadow, bottom - top + 2 * pad + shadow)
    x, y = place(frame_size, block, position, margin)
    origin = (x + pad - left, y + pad - top)  # where Pillow's anchor goes so the ink starts at the block

    def layer() -> tuple[Image.Image, ImageDraw.ImageDraw]:
        im = Image.new("RGBA", frame_size, (0, 0, 0, 0))
        return im, ImageDraw.Draw(im)

    out = Image.new("RGBA", frame_size, (0, 0, 0, 0))
    if box:
        im, draw = layer()
        draw.rounded_rectangle((x, y, x + block[0] - shadow - 1, y + block[1] - shadow - 1), radius=pad,
                               fill=parse_color(box_color) + (box_opacity * opacity // 255,))
        out = Image.alpha_composite(out, im)
    if shadow:
        im, draw = layer()
        draw.multiline_text((origin[0] + shadow, origin[1] + shadow), text, font=font,
                            fill=parse_color(shadow_color) + (opacity * 3 // 4,),
                            stroke_fill=parse_color(shadow_color) + (opacity * 3 // 4,), **style)
        out = Image.alpha_composite(out, im)
    im, draw = layer()
    draw.multiline_text(origin, text, font=font, fill=parse_color(color) + (opacity,),
                        stroke_fill=parse_color(stroke_color) + (opacity,), **style)
    return Image.alpha_composite(out, im)


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
