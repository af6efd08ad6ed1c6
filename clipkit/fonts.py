"""One font for captions and watermarks: DejaVu Sans (accented, Greek and Cyrillic text), else Pillow's default."""
from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont

SYSTEM_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian/Ubuntu fonts-dejavu-core


@functools.lru_cache(maxsize=None)
def font_path() -> str | None:
    """DejaVuSans.ttf from matplotlib (a dependency) or the system, or None when neither has it."""
    candidates = []
    try:
        import matplotlib

        candidates.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    except ImportError:  # the default font still draws ASCII
        pass
    candidates.append(SYSTEM_DEJAVU)
    return next((str(p) for p in candidates if p.is_file()), None)


@functools.lru_cache(maxsize=64)
def load_font(size: int, basic: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """The font at ``size`` px; ``basic`` uses Pillow's basic layout (no libraqm shaping)."""
    path = font_path()
    if path is not None:
        return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC if basic else None)
    return ImageFont.load_default(size=size)
