"""Re-prompting real clips to the opposite direction, with and without keeping their first frame.

"digit D moving X" becomes "digit D moving <opposite of X>". Today's re-prompt noises the whole clip
(``DEFAULT_STRENGTH``) and keeps its layout, so a digit near the far wall has nowhere to go; with
``keep_first`` frame 0 stays as it is and the rest is animated from it (a frame-conditioned run
continues from it). Only clips whose digit has room to travel its path back from frame 0 are used, and
every row is judged on frames 1 to F-1, the frames ``keep_first`` re-animates: the new direction, the
digit kept, and the old direction's share. ``vdiff.evaluate --reprompt`` and benchmarks/edit_quality.py
call ``reprompt_opposite``.
"""
from __future__ import annotations

import numpy as np
import torch

from data_prep.moving_mnist import caption_for

from ..pipelines.edit import DEFAULT_STRENGTH, given_method
from .judge import judge_clips
from .scores import summarize
from .tracks import MIN_SHIFT, along, mirror_fits, travel

OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}


def _row(judge: torch.nn.Module, frames: np.ndarray, digits: list[int], old: list[str], new: list[str],
         center: np.ndarray) -> dict:
    verdict = judge_clips(judge, frames)
    return {**summarize(verdict, frames, digits, new, center),
            "old_direction": float(np.mean([d == m for d, m in zip(verdict.directions, old)])),
            "travel_px": float(np.mean(travel(frames, new)))}


def reprompt_opposite(pipe, judge: torch.nn.Module, clips: np.ndarray, centers: np.ndarray, digits: list[int],
                      directions: list[str], *, skip: frozenset = frozenset(), max_clips: int | None = None,
                      options: dict | None = None, seed: int = 0, progress: bool = True) -> dict:
    """Re-prompt real clips [N, >=F, S, S, 3] (true centres [N, >=F, 2]) to the opposite direction.

    ``skip``: (digit, direction) combinations left out as source or target (e.g. held-out ones, judged
    elsewhere); ``max_clips``: use at most this many of the clips that have room. Rows: ``input`` (the clip unchanged: the floor), ``reversed`` (the clip played backwards:
    the judge's reading of a true opposite motion), ``reprompt`` (today's, whole clip) and
    ``reprompt_keep_first``.
    """
    f = pipe.config.num_frames
    options = options or {}
    clips, centers = clips[:, :f], centers[:, :f]
    keep, no_room, left_out = [], 0, 0
    for k, (digit, direction) in enumerate(zip(digits, directions)):
        if (digit, direction) in skip or (digit, OPPOSITE[direction]) in skip:
            left_out += 1
        elif not mirror_fits(clips[k, 0], centers[k]):
            no_room += 1
        elif max_clips is None or len(keep) < max_clips:
            keep.append(k)
    clips, centers = clips[keep], centers[keep]
    digits = [digits[k] for k in keep]
    old = [directions[k] for k in keep]
    new = [OPPOSITE[m] for m in old]
    settings = {"frames": f, "clips": len(keep), "skipped_no_room": no_room, "skipped_combinations": left_out,
                "strength": DEFAULT_STRENGTH, "method": given_method(pipe, None), "seed": seed,
                # the true travel over the judged frames 1 to F-1, beside the judge's no-motion threshold
                "true_travel_px": float(np.mean(along(centers[:, -1] - centers[:, 1], old))) if keep else float("nan"),
                "min_travel_px": MIN_SHIFT * clips.shape[2]}
    if not keep:
        return {"settings": settings}
    prompts = [caption_for([d], [m]) for d, m in zip(digits, new)]
    whole = pipe.reprompt(clips, prompts, seed=seed, progress=progress, **options)
    first = pipe.reprompt(clips, prompts, keep_first=True, seed=seed, progress=progress, **options)
    center = judge_clips(judge, clips[:, 1:]).features.mean(axis=(0, 1))
    rows = {name: _row(judge, c[:, 1:], digits, old, new, center)
            for name, c in (("input", clips), ("reversed", clips[:, ::-1]), ("reprompt", whole),
                            ("reprompt_keep_first", first))}
    return {"settings": settings, "first_frame_exact": int(sum(np.array_equal(a[0], b[0]) for a, b in zip(first, clips))),
            **rows}
