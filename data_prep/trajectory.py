"""Where a labeled digit is in each frame: its speed, the rule that its path fits, and the positions.

A caption names one direction for the whole clip, and a trainer may cut any window out of it, so
the digit must move the captioned way in every frame. With ``walls="fit"`` (the default) that
holds by construction: the path, ``speed * (frames - 1)`` pixels long, must fit in the room the
glyph leaves in the frame, ``size - glyph_size(size)`` pixels; a speed that does not fit is
refused rather than silently bounced. ``"bounce"`` reflects the digit off the walls and
``"leave"`` lets it slide out; both are for clips whose captions may then be untrue.

Positions are the glyph box's top-left corner in pixels, floats: the renderer draws fractions of a
pixel, so a digit at 0.5 px a frame moves in every frame instead of pausing every other one.
"""
from __future__ import annotations

import math

import numpy as np

WALLS: tuple[str, ...] = ("fit", "bounce", "leave")
# (dx, dy) in image coordinates: y grows downwards, so "up" is -y.
VECTORS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
# A step of s px changes an edge pixel by about s x the edge's contrast: slow enough, no pixel
# changes by a whole grey level, two frames come out identical and the GIF writer merges them (a
# pause the caption does not describe). With scikit-learn's glyphs at 16, 32 and 64 px every
# 0.05 px step still changed some pixel by 3 levels or more.
MIN_SPEED = 0.05
# Float noise: at 48 px (27 px of room) and 14 frames, max_fit_speed * 13 is 27.000000000000004.
_SLACK = 1e-9


def glyph_size(size: int) -> int:
    """Digit height in pixels: ~44% of the frame (14 px at 32, 28 px at 64), like Moving MNIST's 28/64."""
    return max(6, round(0.44 * size))


def room(size: int) -> int:
    """How far the glyph box can move inside a ``size`` px frame along either axis."""
    return size - glyph_size(size)


def max_fit_speed(size: int, frames: int) -> float:
    """The fastest speed (px per frame) whose straight path over ``frames`` frames stays in the frame."""
    return room(size) / max(frames - 1, 1)


def default_speed(size: int, frames: int) -> float:
    """Pixels per frame so that the whole path fits in the frame with room to spare (no bounce needed).

    80% of ``max_fit_speed`` leaves the start a fifth of the room to vary in; the cap of size/8
    keeps very short clips from jumping.
    """
    return min(size / 8, 0.8 * max_fit_speed(size, frames))


def resolve_speed(size: int, frames: int, speed: float | None, walls: str) -> float:
    """The speed a clip moves at (``default_speed`` when None), checked against the fitting rule.

    Raises ValueError with one line saying what fits when ``walls="fit"`` and the path is too long.
    """
    if walls not in WALLS:
        raise ValueError(f"walls must be one of {', '.join(WALLS)}, got {walls!r}")
    speed = default_speed(size, frames) if speed is None else float(speed)
    if not (math.isfinite(speed) and speed >= MIN_SPEED):
        raise ValueError(f"speed must be at least {MIN_SPEED} px per frame (slower frames repeat), got {speed}")
    travel = speed * (frames - 1)
    if walls == "fit" and travel > room(size) + _SLACK:
        fastest = math.floor(max_fit_speed(size, frames) * 1000) / 1000  # floor: the suggestion itself must fit
        raise ValueError(f"--speed {speed:g} over {frames} frames travels {travel:.4g} px, but a {glyph_size(size)} px "
                         f"digit has {room(size)} px of room in a {size} px frame: use --speed <= {fastest:g}, "
                         f"fewer --frames, or --walls bounce")
    return speed


def start_position(direction: str, travel: float, free: int, rng: np.random.Generator,
                   on_grid: bool) -> tuple[float, float]:
    """Start (x, y): along the motion axis leave room for the whole path; across it, anywhere.

    ``on_grid`` rounds the start to whole pixels (within the range that fits): the digit is then
    crisp across its motion, and at a whole-pixel speed every frame is on the pixel grid, exactly
    as clips were drawn before sub-pixel motion. The random draws are the same either way.
    """
    dx, dy = VECTORS[direction]
    forward = (dx + dy) > 0
    if travel <= free:
        along = rng.uniform(0, free - travel)
        along = along if forward else free - along
        if on_grid:  # round, then keep the end of the path inside the frame
            lo, hi = (0, math.floor(free - travel + _SLACK)) if forward else (math.ceil(travel - _SLACK), free)
            along = float(min(max(round(along), lo), hi))
    else:  # path longer than the frame: start at the far wall so most of it goes the right way
        along = 0.0 if forward else float(free)
    across = rng.uniform(0, free)
    if on_grid:
        across = float(round(across))
    return (along, across) if dx else (across, along)


def positions(start: tuple[float, float], direction: str, speed: float, frames: int, free: int,
              walls: str) -> np.ndarray:
    """Top-left corner per frame, float [frames, 2] as (x, y); reflected at the walls with "bounce"."""
    vector = np.asarray(VECTORS[direction], np.float64)
    p = np.asarray(start, np.float64) + speed * np.arange(frames)[:, None] * vector
    if walls == "bounce" and free > 0:
        p = np.mod(p, 2 * free)
        p = np.where(p > free, 2 * free - p, p)
    return p
