"""Continuing, lengthening and filling in clips, judged against real clips' true digit paths.

Three sections of ``vdiff.evaluate``, each with real clips as its ceiling and clips that know where the
digit was but not where it goes as its floors (docs/evaluation.md, "Continuation, long clips and
in-betweening"):
  * ``continuation``: the first ``given`` frames of real clips whose path fits, continued by
    ``pipe.extend`` to the clips' length; the new frames judged (digit, direction, per-frame digit),
    their centroids against the true second half beside holding the last given frame, and the seam;
  * ``long_generation``: ``pipe(prompts, num_frames=N)``, judged over all N frames (for a run that makes
    keyframes first, the same clips by extending the first window beside them, row ``extended``);
  * ``interpolation``: the first and last frame of the model's window of real clips given, the frames
    between made by ``pipe.interpolate``, their centroids against the true in-between centres.
"""
from __future__ import annotations

import numpy as np
import torch

from ..pipelines.edit import given_method
from ..pipelines.keyframes import keyframe_stride
from .judge import judge_clips
from .labeled import Prompt, Tracked, noise_clips
from .scores import judge_summary
from .tracks import (MIN_SHIFT, along, cross_fade, distance, frame_step, measured_track, repeat_frame, seam_ratio,
                     segment_distance, travel)

SEAM_LIMIT = 1.5  # the seam target: a jump of at most 1.5 of the clip's own frame steps


def _mean(values) -> float:
    values = np.asarray(values, np.float64)
    return float(values.mean()) if values.size else float("nan")


def _center(judge: torch.nn.Module, real: np.ndarray) -> np.ndarray:
    """The real frames' mean judge feature: temporal consistency is measured about it (``metrics``)."""
    return judge_clips(judge, real).features.mean(axis=(0, 1))


def _labels(tracked: Tracked, prompts: list[Prompt]) -> tuple[list[str], list[int], list[str]]:
    return [prompts[i].caption for i in tracked.owner], tracked.digits(prompts), tracked.directions(prompts)


def check_sections(window: int, given: int | None, long_frames: int | None) -> None:
    """Refuse section settings the run cannot do, before anything is sampled (one-line ValueErrors)."""
    if given is not None and (isinstance(given, bool) or given < 1):
        raise ValueError(f"--given must be at least 1 frame, got {given}")
    if long_frames is not None and long_frames < window:
        raise ValueError(f"--long must be at least the run's {window} frames, got {long_frames}")


def continuation(pipe, judge: torch.nn.Module, tracked: Tracked, prompts: list[Prompt], *, given: int,
                 options: dict, seed: int = 0, progress: bool = True) -> dict:
    """Continue the first ``given`` frames of each tracked clip to its full length and score the new frames."""
    clips, truth = tracked.clips, tracked.centers
    length, size = clips.shape[1], clips.shape[2]
    if not 1 <= given < length:
        raise ValueError(f"--given must be between 1 and {length - 1} for {length}-frame real clips, got {given}")
    new = length - given
    captions, digits, directions = _labels(tracked, prompts)
    out = pipe.extend(clips[:, :given], captions, new, seed=seed, progress=progress, **options)
    step = frame_step(truth)
    candidates = {"generated": out, "real": clips,
                  "repeat_last": np.concatenate([clips[:, :given], repeat_frame(clips[:, given - 1], new)], axis=1)}
    center = _center(judge, clips[:, given:])
    rows = {}
    for name, joined in candidates.items():
        track, empty = measured_track(joined[:, given:])
        seam = seam_ratio(joined, given, step)
        rows[name] = {**judge_summary(judge, joined[:, given:], digits, directions, center),
                      "centroid_error_px": _mean(distance(track, truth[:, given:])),
                      "seam_ratio": _mean(seam), f"seam_within_{SEAM_LIMIT}x": _mean(seam <= SEAM_LIMIT),
                      "travel_px": _mean(travel(joined[:, given:], directions)), "no_ink_frames": _mean(empty)}
    floor = rows["repeat_last"]["centroid_error_px"]
    for row in rows.values():  # the target: at most half the error of holding the last given frame
        row["centroid_error_vs_repeat"] = row["centroid_error_px"] / floor if floor > 0 else float("nan")
    return {"settings": {"given": given, "new_frames": new, "clip_frames": length, "clips": len(clips),
                         "method": given_method(pipe, None), "seed": seed, "truth": tracked.truth,
                         "skipped_real_clips": tracked.skipped, "frame_step_px": _mean(step),
                         "true_travel_px": _mean(along(truth[:, -1] - truth[:, given], directions)),
                         "min_travel_px": MIN_SHIFT * size},
            "given_exact": int(sum(np.array_equal(o[:given], c[:given]) for o, c in zip(out, clips))),
            **rows}


def long_generation(pipe, judge: torch.nn.Module, prompts: list[Prompt], tracked: Tracked, *, frames: int,
                    num_per_prompt: int, options: dict, seed: int = 0, progress: bool = True) -> dict:
    """``num_per_prompt`` clips of ``frames`` frames per prompt, judged over every frame; for a run that
    makes keyframes first (``keyframe_stride``), the same clips made by extending the first window too."""
    window, size = pipe.config.num_frames, pipe.config.image_size
    captions = [p.caption for p in prompts]
    stride = keyframe_stride(pipe.config, frames)
    made = {"generated": pipe(captions, num=num_per_prompt, seed=seed, num_frames=frames, progress=progress,
                              **options)}
    if stride > 1:
        made["extended"] = pipe(captions, num=num_per_prompt, seed=seed, num_frames=frames, keyframe_stride=1,
                                progress=progress, **options)
    generated = made["generated"]
    owner = [i for i in range(len(prompts)) for _ in range(num_per_prompt)]
    gen_digits, gen_dirs = [prompts[i].digit for i in owner], [prompts[i].direction for i in owner]
    _, digits, directions = _labels(tracked, prompts)
    real = tracked.clips[:, :frames]
    # A model that stops after its first window: the real window, then its last frame held.
    held = np.concatenate([real[:, :window], repeat_frame(real[:, window - 1], frames - window)], axis=1)
    center = _center(judge, real)
    rows = {}
    for name, clips, dig, dirs in (*((name, clips, gen_digits, gen_dirs) for name, clips in made.items()),
                                   ("real", real, digits, directions),
                                   ("held", held, digits, directions),
                                   ("noise", noise_clips(len(generated), frames, size, seed), gen_digits, gen_dirs)):
        rows[name] = {**judge_summary(judge, clips, dig, dirs, center), "frames": int(clips.shape[1]),
                      "travel_px": _mean(travel(clips, dirs))}
    return {"settings": {"frames": frames, "window": window, "clips": len(generated), "real_clips": len(real),
                         "num_per_prompt": num_per_prompt, "seed": seed,
                         "method": given_method(pipe, None), "keyframe_stride": stride,
                         "real_travel_px_per_frame": _mean(frame_step(tracked.centers)),
                         "min_travel_px": MIN_SHIFT * size},
            **rows}


def interpolation(pipe, judge: torch.nn.Module, tracked: Tracked, prompts: list[Prompt], *, options: dict,
                  seed: int = 0, progress: bool = True) -> dict:
    """Give the first and last frame of each tracked clip's first window; score the frames made between."""
    f = pipe.config.num_frames
    if f < 3:
        raise ValueError("--interpolation needs a run of at least 3 frames (two ends and one between)")
    if tracked.clips.shape[1] < f:
        raise ValueError(f"--interpolation needs real clips of at least the run's {f} frames")
    clips, truth = tracked.clips[:, :f], tracked.centers[:, :f]
    captions, digits, directions = _labels(tracked, prompts)
    out = pipe.interpolate(clips[:, :1], clips[:, f - 1:], f - 2, prompts=captions, seed=seed, progress=progress,
                           **options)
    half = (f - 2) // 2
    middles = {"generated": out[:, 1:-1], "real": clips[:, 1:-1], "hold_first": repeat_frame(clips[:, 0], f - 2),
               # each in-between frame a copy of the nearer end: a slow digit is never far from one of them
               "nearest_end": np.concatenate([repeat_frame(clips[:, 0], f - 2 - half),
                                              repeat_frame(clips[:, -1], half)], axis=1),
               "cross_fade": cross_fade(clips[:, 0], clips[:, -1], f - 2)}
    center = _center(judge, clips[:, 1:-1])
    rows = {}
    for name, mid in middles.items():
        track, empty = measured_track(mid)
        error = distance(track, truth[:, 1:-1])
        judged = judge_summary(judge, mid, digits, directions, center)
        # The in-between frames are the whole clip's length less two: their travel can fall under the
        # judge's no-motion threshold, so their direction is not scored (the centroid error is).
        rows[name] = {key: judged[key] for key in ("n", "digit_accuracy", "frame_digit_consistency",
                                                   "temporal_consistency", "flicker")}
        rows[name].update({"centroid_error_px": _mean(error), "within_2px": _mean(error <= 2.0),
                           "path_distance_px": _mean(segment_distance(track, truth[:, 0], truth[:, -1])),
                           "no_ink_frames": _mean(empty)})
    ends = [np.array_equal(o[0], c[0]) and np.array_equal(o[-1], c[-1]) for o, c in zip(out, clips)]
    return {"settings": {"frames": f, "new_frames": f - 2, "clips": len(clips), "method": given_method(pipe, None),
                         "seed": seed, "truth": tracked.truth, "skipped_real_clips": tracked.skipped,
                         "frame_step_px": _mean(frame_step(truth))},
            "ends_exact": int(sum(ends)), **rows}
