"""Drawing a glyph along its path: at fractional positions, bilinear, max-blended white on black.

A glyph at x = 3.4 is the glyph at 3 with 60% of its ink and the glyph at 4 with 40%: bilinear
weights keep the total ink and move the centre of mass by exactly the fraction, so the rendered
centroid follows the true path to within grey-level rounding. At a whole-pixel position the
weights are 1 and 0 and the glyph is copied unchanged, as before sub-pixel motion.
"""
from __future__ import annotations

import math

import numpy as np


def _keys(x: float, a: float = -0.5) -> float:
    """Keys' cubic convolution kernel, with Pillow's BICUBIC ``a``: 1 at 0, 0 at every other whole number."""
    x = abs(x)
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def shift_glyph(glyph: np.ndarray, fx: float, fy: float) -> np.ndarray:
    """The glyph [g, g] moved right by ``fx`` and down by ``fy`` (each in [0, 1)): float32 [g + 3, g + 3].

    Row and column 0 of the result are one pixel above and left of the glyph's own (0, 0): a cubic
    tap reaches one pixel back and two ahead.
    """
    g = glyph.shape[0]
    out = np.zeros((g + 3, g + 3), np.float32)
    for oy in range(-1, 3):
        wy = _keys(oy - fy)
        for ox in range(-1, 3):
            w = wy * _keys(ox - fx)
            if w:  # skipping zero weights keeps a whole-pixel glyph bit for bit unchanged
                out[1 + oy:1 + oy + g, 1 + ox:1 + ox + g] += np.float32(w) * glyph
    return out


def _paste_max(canvas: np.ndarray, glyph: np.ndarray, x: int, y: int) -> None:
    """Max-blend glyph into canvas [H, W] at integer (x, y), clipped at the borders (digits may leave)."""
    h, w = canvas.shape
    gh, gw = glyph.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + gw, w), min(y + gh, h)
    if x0 >= x1 or y0 >= y1:
        return
    region = canvas[y0:y1, x0:x1]
    np.maximum(region, glyph[y0 - y:y1 - y, x0 - x:x1 - x], out=region)


def draw_path(glyph: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    """One digit's frames: float32 [F, size, size] in [0, 1], the glyph's top-left corner at ``corners`` [F, 2]."""
    layer = np.zeros((len(corners), size, size), np.float32)
    for frame, (x, y) in zip(layer, corners):
        ix, iy = math.floor(x), math.floor(y)
        _paste_max(frame, shift_glyph(glyph, x - ix, y - iy), ix - 1, iy - 1)
    return layer


def ink_centre(glyph: np.ndarray) -> np.ndarray:
    """The glyph's centre of mass (x, y) in pixels from its top-left pixel's centre."""
    g = glyph.astype(np.float64)
    ys, xs = np.mgrid[: g.shape[0], : g.shape[1]]
    return np.array([(g * xs).sum(), (g * ys).sum()]) / g.sum()
