"""Edit any clip with a trained pipeline: re-prompt it, regenerate a region or frames, or extend it.

``reprompt``, ``regenerate`` and ``extend`` (also ``pipe.reprompt`` etc. on a ``vdiff.load_pipeline``
pipeline; ``python -m vdiff.edit`` on files). A clip is uint8 [F, H, W, 3] (or a batch [N, F, H, W, 3])
of any size: it is resized to the run's frame size (and, for re-prompt/regenerate, re-timed to its
frame count by picking evenly spaced frames; a grey run sees the mean of the channels), and the result
is resized back to the input's size. Kept pixels and frames are the input's own values, bit for bit.
The sampling loop and the papers it follows are in ``vdiff.diffusion.sampler``; choices and
measurements in docs/editing.md. Importing this module loads no torch (the editor's widget imports it).
"""
from __future__ import annotations

import math
import threading

import numpy as np

from ..core.media import as_rgb, frame_index, resize_frames, to_uint8
from .clips import StepCallback, StepPreviews, as_batch, check_box, parse_frames, prompts_for

__all__ = ["DEFAULT_STRENGTH", "GIVEN_METHODS", "default_strength", "reprompt", "regenerate", "extend", "interpolate"]

# Re-prompt: the share of the schedule the clip is noised to. Measured on tiny (benchmarks/edit_quality.py,
# docs/editing.md): 0.9 had the best mean share of clips with both the prompt's digit and its direction
# over two edits, a new direction (0.00 at 0.9, 0.19 at 1.0) and a new digit (0.38 at 0.9, 0.06 at 1.0).
DEFAULT_STRENGTH = 0.9
DEFAULT_RESAMPLE = 1        # RePaint jumps back per step (1 = plain replacement)
DEFAULT_RECON_WEIGHT = 0.0  # reconstruction guidance weight (0 = off)
# How kept frames steer the frames generated around them: "model" hands them to a frame-conditioned model
# as its given frames (and keeps them on their forward-noised path, as in training); "replace" only keeps
# them (the replacement method, Ho et al. 2022), the one way for a run trained without given frames.
GIVEN_METHODS = ("model", "replace")


def given_method(pipe, method: str | None) -> str:
    """``method``, or the best one the run has: "model" where it was trained with given frames."""
    if method is None:
        return "model" if pipe.config.frame_conditioning else "replace"
    if method not in GIVEN_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(GIVEN_METHODS)}")
    if method == "model" and not pipe.config.frame_conditioning:
        raise ValueError('method "model" needs a run trained with given frames (config.frame_conditioning); '
                         'use method "replace"')
    return method


def default_strength(keeps_pixels: bool) -> float:
    """The one rule for an edit's strength when none is given: 1 (from pure noise) where some of the
    clip is kept, since the kept part anchors the result (RePaint); ``DEFAULT_STRENGTH`` where nothing
    is kept, since the noised input is then the only anchor (SDEdit)."""
    return 1.0 if keeps_pixels else DEFAULT_STRENGTH


def _sample_clips(pipe, known: np.ndarray, keep, prompts: list[str], *, strength: float, seed: int,
                  sampling: dict, resample: int, recon_weight: float, progress: bool,
                  callback: StepPreviews, cancel: threading.Event | None, desc: str,
                  method: str = "replace") -> np.ndarray:
    """One sampler run on model-size uint8 clips [N, F, S, S, 3] -> uint8 [N, F, S, S, 3]; with ``method``
    "model", the whole frames that ``keep`` keeps are the model's given frames too."""
    import torch

    x = torch.from_numpy(known).float().div(127.5).sub(1.0).permute(0, 4, 1, 2, 3)
    if pipe.config.channels == 1:
        x = x.mean(1, keepdim=True)  # a grey run: the channels' mean, as its training data
    given_mask = None
    if method == "model" and keep is not None:
        whole = keep.amin(dim=(3, 4), keepdim=True)  # a frame the model is given is kept whole
        given_mask = whole.expand(len(x), -1, -1, -1, -1) if bool(whole.any()) else None
    out = pipe.sample(prompts, pipe.config.sampling.override(**sampling), seed=seed, known=x, keep=keep,
                      strength=strength, given_mask=given_mask, resample=resample, recon_weight=recon_weight,
                      callback=callback, cancel=cancel, progress=progress, desc=desc)
    return as_rgb(to_uint8(out))


def _result(clips: np.ndarray, steps: StepPreviews, single: bool, return_x_start: bool):
    clips = clips[0] if single else clips
    return (clips, steps.stacked()) if return_x_start else clips


def regenerate(pipe, clips: np.ndarray, prompts: str | list[str], *, box: tuple[int, int, int, int] | None = None,
               frames: str | list[int] | None = None, strength: float | None = None, seed: int = 0,
               method: str | None = None, resample: int = DEFAULT_RESAMPLE, recon_weight: float = DEFAULT_RECON_WEIGHT,
               return_x_start: bool = False, callback: StepCallback | None = None,
               cancel: threading.Event | None = None, progress: bool = True, **sampling):
    """Regenerate ``box`` (L T R B in the input's pixels, right/bottom exclusive) of ``frames`` (a SPEC
    like "0-3,6" or a list; numbered as the run sees the clip) under ``prompts``; the rest is kept.

    Without box and frames the whole clip is regenerated (a re-prompt). ``strength`` None: the rule of
    ``default_strength``. Returns uint8 clips at the input's size with the run's frame count; with
    ``return_x_start`` also every step's predicted x0 [steps, (N,) F, S, S, 3] at the run's size.
    ``sampling``: steps, sampler, guidance, x0_clip, x0_clip_quantile (None = the run's config);
    ``callback(i, n, clips)`` sees every step's prediction; ``cancel`` set: EditCancelled. ``method``: how
    the frames kept whole steer the others (``GIVEN_METHODS``; None: "model" where the run has it).
    """
    import torch

    method = given_method(pipe, method)
    src, single = as_batch(clips)
    prompts = prompts_for(prompts, len(src))
    keeps_pixels = box is not None or frames is not None
    strength = default_strength(keeps_pixels) if strength is None else strength
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    n, f_in, h, w = src.shape[:4]
    cfg = pipe.config
    f, s = cfg.num_frames, cfg.image_size
    picked = src[:, frame_index(f_in, f)]
    keep_out = None  # at the input's size: True where the input is kept
    keep = None      # at the run's size: 1 where kept; a pixel is generated if any input pixel it covers is
    if keeps_pixels:
        chosen = parse_frames(frames, f) if isinstance(frames, str) else (list(range(f)) if frames is None else
                                                                           sorted(set(int(i) for i in frames)))
        if not chosen or min(chosen) < 0 or max(chosen) >= f:
            raise ValueError(f"frames must be numbers in 0-{f - 1}, got {frames!r}")
        left, top, right, bottom = check_box(box, w, h) if box is not None else (0, 0, w, h)
        keep_out = np.ones((f, h, w), bool)
        keep_out[np.ix_(chosen, range(top, bottom), range(left, right))] = False
        keep = torch.ones(1, 1, f, s, s)
        sl = lambda a, b, size: slice(math.floor(a * s / size), math.ceil(b * s / size))  # noqa: E731
        keep[0, 0, chosen, sl(top, bottom, h), sl(left, right, w)] = 0.0
    steps = StepPreviews(callback, return_x_start, single=single)
    gen = _sample_clips(pipe, resize_frames(picked, (s, s)), keep, prompts, strength=strength, seed=seed,
                        sampling=sampling, resample=resample, recon_weight=recon_weight, progress=progress,
                        callback=steps, cancel=cancel, desc="regenerating" if keep is not None else "re-prompting",
                        method=method)
    out = resize_frames(gen, (w, h))
    if keep_out is not None:
        out = np.where(keep_out[None, ..., None], picked, out)  # the kept pixels, exactly the input's
    return _result(out, steps, single, return_x_start)


def reprompt(pipe, clips: np.ndarray, prompts: str | list[str], *, strength: float | None = None,
             keep_first: bool = False, **kwargs):
    """SDEdit: noise the clip to ``strength`` of the schedule (default ``DEFAULT_STRENGTH``) and denoise it
    under ``prompts``. Strength 1 is generation from noise (the input is ignored); near 0 the input comes
    back. ``keep_first``: keep the first frame as it is and re-animate the others from it (strength 1 by
    ``default_strength``; a run trained with given frames continues from it). Keyword arguments as ``regenerate``."""
    if keep_first:
        kwargs["frames"] = list(range(1, pipe.config.num_frames))
    return regenerate(pipe, clips, prompts, strength=strength, **kwargs)


def extend(pipe, clips: np.ndarray, prompts: str | list[str], num: int, *, context: int | None = None,
           seed: int = 0, method: str | None = None, resample: int = DEFAULT_RESAMPLE,
           recon_weight: float = DEFAULT_RECON_WEIGHT,
           return_x_start: bool = False, callback: StepCallback | None = None,
           cancel: threading.Event | None = None, progress: bool = True, **sampling):
    """Append ``num`` frames that continue the clip: windows of the run's frame count whose first
    ``context`` frames are the last frames so far, kept, and the rest generated from noise (there is no
    original to start from, so an extension takes no strength). ``context`` defaults to half the window
    where the run was trained with given frames (any prefix was one of its training patterns) and 3/4
    with replacement.

    The input frames come back bit for bit, the new ones at the input's size. Keyword arguments as
    ``regenerate``.
    """
    import torch

    method = given_method(pipe, method)
    src, single = as_batch(clips)
    prompts = prompts_for(prompts, len(src))
    f, s = pipe.config.num_frames, pipe.config.image_size
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"extend needs a number of new frames >= 1, got {num!r}")
    if f < 2:
        raise ValueError("the run makes 1-frame clips: there is no window to extend with")
    # Replacement: 3/4 of the window known: on the 8-frame tiny run 6 context frames gave a seam of 1.1x the
    # clip's own frame step against 1.8x with 4 (docs/editing.md).
    if context is None:
        context = max(1, f // 2 if method == "model" else 3 * f // 4)
    context = int(context)
    if not 1 <= context < f:
        raise ValueError(f"context must be between 1 and {f - 1} frames, got {context}")
    h, w = src.shape[2:4]
    seq = resize_frames(src[:, -context:], (s, s))  # only the tail conditions the next window
    new: list[np.ndarray] = []
    windows = math.ceil(num / (f - min(context, seq.shape[1])))
    steps = StepPreviews(callback, return_x_start, runs=windows, single=single)
    made = 0
    while made < num:
        ctx = seq[:, -context:]
        c = ctx.shape[1]
        window = np.concatenate([ctx, np.zeros((len(src), f - c, s, s, 3), np.uint8)], axis=1)
        keep = torch.zeros(1, 1, f, s, s)
        keep[:, :, :c] = 1.0
        gen = _sample_clips(pipe, window, keep, prompts, strength=1.0, seed=seed + steps.run, sampling=sampling,
                            resample=resample, recon_weight=recon_weight, progress=progress, callback=steps,
                            cancel=cancel, desc=f"extending {steps.run + 1}/{windows}", method=method)
        steps.run += 1
        new.append(gen[:, c:])
        made += f - c
        seq = np.concatenate([seq, gen[:, c:]], axis=1)
    added = resize_frames(np.concatenate(new, axis=1)[:, :num], (w, h))
    return _result(np.concatenate([src, added], axis=1), steps, single, return_x_start)


def interpolate(pipe, first: np.ndarray, last: np.ndarray, num: int, *, prompts: str | list[str] | None = None,
                seed: int = 0, method: str | None = None, resample: int = DEFAULT_RESAMPLE,
                recon_weight: float = DEFAULT_RECON_WEIGHT, progress: bool = True, **sampling):
    """``num`` new frames that lead from the end of clip ``first`` to the start of clip ``last`` (same size);
    returns ``first``, the new frames and ``last`` joined, the two inputs bit for bit.

    One window of the run's frame count holds the tail of ``first``, the ``num`` new frames and the head of
    ``last`` (the "ends" pattern a frame-conditioned run trained on); a longer gap first extends ``first``
    until one window can bridge the rest. ``prompts`` None: the unconditional model (guidance 0).
    """
    import torch

    method = given_method(pipe, method)
    a, single = as_batch(first)
    b, _ = as_batch(last)
    if a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
        raise ValueError(f"the two clips must have the same size and count, got {a.shape} and {b.shape}")
    f, s = pipe.config.num_frames, pipe.config.image_size
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"interpolate needs a number of new frames >= 1, got {num!r}")
    if f < 3:
        raise ValueError("the run makes clips of fewer than 3 frames: no window holds two ends and a new frame")
    if prompts is None:  # guidance 0: only the caption-free half runs, so the text is never read
        prompts, sampling = "(no caption)", {**sampling, "guidance": 0.0}
    texts = prompts_for(prompts, len(a))
    h, w = a.shape[2:4]
    lead = max(0, num - (f - 2))  # frames to extend by before one window can bridge the rest
    if lead:
        a = extend(pipe, a, texts, lead, seed=seed, method=method, resample=resample,
                   recon_weight=recon_weight, progress=progress, **sampling)
    gap = num - lead
    tail = min(a.shape[1], math.ceil((f - gap) / 2))
    head = min(b.shape[1], f - gap - tail)
    tail = f - gap - head  # a short ``last`` leaves more of the window to ``first``
    window = np.concatenate([resize_frames(a[:, a.shape[1] - tail:], (s, s)),
                             np.zeros((len(a), gap, s, s, 3), np.uint8), resize_frames(b[:, :head], (s, s))], axis=1)
    keep = torch.ones(1, 1, f, s, s)
    keep[:, :, tail:tail + gap] = 0.0
    gen = _sample_clips(pipe, window, keep, texts, strength=1.0, seed=seed + lead, sampling=sampling,
                        resample=resample, recon_weight=recon_weight, progress=progress,
                        callback=StepPreviews(), cancel=None, desc="interpolating", method=method)
    new = resize_frames(gen[:, tail:tail + gap], (w, h))
    joined = np.concatenate([a, new, b], axis=1)
    return joined[0] if single else joined
