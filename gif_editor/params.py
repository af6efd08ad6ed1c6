"""Parameter checks every operation shares: a bad value is one readable line naming the operation.

Kept apart from ops.py and optimize.py so both can use it without importing each other.
"""
from __future__ import annotations

import math
from typing import Any

from .errors import GifEditorError
from .watermark import POSITIONS

MAX_PIXELS = 150_000_000  # decoded width x height x frames; RGBA frames cost 4 bytes per pixel (600 MB)


def number(op: str, params: dict, key: str, lo: float, hi: float, default: Any = None,
           integer: bool = False) -> int | float:
    """``params[key]`` (or ``default``) checked to be a number in [lo, hi]; whole when ``integer``."""
    value = params.get(key, default)
    if value is None:
        raise GifEditorError(f"{op}: '{key}' is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and int(value) != value):
        raise GifEditorError(f"{op}: '{key}' must be {'a whole number' if integer else 'a number'}, got {value!r}")
    if not (lo <= value <= hi) or (isinstance(value, float) and math.isnan(value)):
        raise GifEditorError(f"{op}: '{key}' must be between {lo} and {hi}, got {value}")
    return int(value) if integer else float(value)


def flag(op: str, params: dict, key: str, default: bool = False) -> bool:
    """``params[key]`` checked to be true or false."""
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise GifEditorError(f"{op}: '{key}' must be true or false, got {value!r}")
    return value


def check_position(op: str, params: dict, default: str = "bottom-right") -> str:
    """One of POSITIONS ("centre" is read as "center")."""
    value = params.get("position", default)
    value = "center" if value == "centre" else value
    if value not in POSITIONS:
        raise GifEditorError(f"{op}: position must be one of {', '.join(POSITIONS)}, got {value!r}")
    return value
