"""Where the digit is in each frame against where it truly is: the pure metrics of continuing and
filling in clips (centroid error, the seam, travel, whether a path fits) and the clips that set their floors.

Positions are (x, y) in pixels with pixel centres at whole numbers, image y downwards: what the judge's
``centroid_track`` measures and what data_prep's manifest records as each digit's true centre. On real
32-px digits the two agree to 0.15 px on average (the judge counts only ink above a quarter of white,
which shifts the centroid a little towards the glyph's heavier strokes).
"""
from __future__ import annotations

import inspect

import numpy as np

from data_prep.trajectory import VECTORS

from .judge import centroid_track, direction_from_track

# The judge calls a move shorter than this share of the frame "no motion" (direction_from_track's own
# default, read from it so a report states the threshold the judge applied): frames that truly travel
# less than this cannot score their direction, which the sections show beside their true travel.
MIN_SHIFT = inspect.signature(direction_from_track).parameters["min_shift"].default


def scale_track(track: np.ndarray, from_size: int, to_size: int) -> np.ndarray:
    """A track [..., 2] in a ``from_size`` px frame, in the same frame resized to ``to_size`` px."""
    return (np.asarray(track, np.float64) + 0.5) * (to_size / from_size) - 0.5


def measured_track(clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The judge's centroid of every frame [N, F, 2], and which frames had no ink [N, F].

    A frame without ink is placed in the middle of the frame: leaving it out would let a model that
    draws nothing score no error at all.
    """
    n, f, h, w = clips.shape[:4]
    track = np.stack([centroid_track(c) for c in clips]) if n else np.zeros((0, f, 2))
    empty = np.isnan(track).any(-1)
    track[empty] = ((w - 1) / 2, (h - 1) / 2)
    return track, empty


def distance(track: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per clip: the mean distance (px) of each frame's position [N, F, 2] from its true one [N, F, 2]."""
    return np.linalg.norm(track - truth, axis=-1).mean(-1)


def frame_step(truth: np.ndarray) -> np.ndarray:
    """Per clip: the mean distance (px) between consecutive true positions [N, F, 2], the clip's own step."""
    return np.linalg.norm(np.diff(truth, axis=1), axis=-1).mean(-1)


def seam_ratio(clips: np.ndarray, given: int, step: np.ndarray) -> np.ndarray:
    """Per clip: the centroid's jump from frame ``given - 1`` (the last given) to frame ``given`` (the
    first new) over the clip's own frame ``step`` (px): 1 is a seamless continuation, 0 a standstill."""
    track, _ = measured_track(clips[:, given - 1:given + 1])
    return np.linalg.norm(track[:, 1] - track[:, 0], axis=-1) / np.maximum(step, 1e-6)


def segment_distance(track: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per clip: the mean distance (px) of positions [N, F, 2] from the straight segment ``start`` -> ``end``
    [N, 2]; unlike ``distance`` it forgives wrong timing along the right path."""
    seg = (end - start)[:, None]
    length2 = np.maximum((seg ** 2).sum(-1), 1e-12)
    along = np.clip(((track - start[:, None]) * seg).sum(-1) / length2, 0.0, 1.0)
    return np.linalg.norm(track - (start[:, None] + along[..., None] * seg), axis=-1).mean(-1)


def along(displacement: np.ndarray, directions: list[str]) -> np.ndarray:
    """Per clip: a displacement (dx, dy) [N, 2] projected on its captioned direction (negative: backwards)."""
    return np.array([float(np.dot(d, VECTORS[m])) for d, m in zip(displacement, directions)])


def travel(clips: np.ndarray, directions: list[str]) -> np.ndarray:
    """Per clip: how far (px) the judge sees the digit move the captioned way over the clip (its
    least-squares displacement, the one the direction is read from)."""
    moves = [direction_from_track(centroid_track(c), c.shape[2])[1] for c in clips]
    return along(np.asarray(moves, np.float64).reshape(-1, 2), directions)


def path_fits(track: np.ndarray, direction: str, size: int) -> bool:
    """Whether a path [F, 2] stays in the frame and goes the captioned way from every frame to the next:
    a bounced or escaping digit breaks its caption somewhere, and a window cut there would be misjudged."""
    track = np.asarray(track, np.float64)
    if not np.isfinite(track).all() or (track < 0).any() or (track > size - 1).any():
        return False
    return bool((np.diff(track, axis=0) @ np.asarray(VECTORS[direction], np.float64) > 0).all())


def mirror_fits(first: np.ndarray, track: np.ndarray, ink: float = 0.25) -> bool:
    """Whether the digit of frame ``first`` [H, W, C] has room to go the path ``track`` [F, 2] the other
    way: its ink box, moved back by the path's whole displacement, stays in the frame."""
    grey = first.astype(np.float32).mean(-1) / 255.0
    ys, xs = np.nonzero(grey > ink)
    if not len(xs):
        return False
    dx, dy = np.asarray(track[0], np.float64) - np.asarray(track[-1], np.float64)
    h, w = grey.shape
    return bool(xs.min() + dx >= 0 and xs.max() + dx <= w - 1 and ys.min() + dy >= 0 and ys.max() + dy <= h - 1)


# --- floors: clips that know where the digit was but not where it goes --------------------------------

def repeat_frame(frames: np.ndarray, n: int) -> np.ndarray:
    """Frames [N, H, W, C] each held for ``n`` frames: [N, n, H, W, C]."""
    return np.repeat(frames[:, None], n, axis=1)


def cross_fade(first: np.ndarray, last: np.ndarray, n: int) -> np.ndarray:
    """``n`` frames fading linearly from ``first`` to ``last`` [N, H, W, C] (neither included): uint8 [N, n, H, W, C].

    Its centroid slides between the two digits as the weights shift, but its frames show two faint
    digits, not one moving: a floor for the in-between frames' shape, not only their position."""
    w = (np.arange(1, n + 1, dtype=np.float32) / (n + 1))[None, :, None, None, None]
    mix = (1 - w) * first[:, None].astype(np.float32) + w * last[:, None].astype(np.float32)
    return np.clip(np.rint(mix), 0, 255).astype(np.uint8)
