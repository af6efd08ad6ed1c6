"""Clips longer than the model's window from text: keyframes first, then the frames between them.

A run trained at several frame strides (``config.frame_strides``, each training window every s-th
frame of a longer clip, the model told s) makes a long clip in two stages, as Ho et al. (Video
Diffusion Models, 2022) make long videos: one window of keyframes ``stride`` frames apart from the
prompt alone, whose frames move ``stride`` times as far as consecutive ones, so the caption's
direction is as plain to the model as in a short fast clip (frame-rate conditioning: Singer et al.,
Make-A-Video, 2022); then the frames between them, window by window at stride 1, every keyframe and
every frame made so far given to the model (the "random" given-frames pattern it trained on;
replacement for a run trained without given frames).
Frames past the last keyframe come from ``extend``. A run at one stride extends its first window.
Importing this module loads no torch.
"""
from __future__ import annotations

import numpy as np

from ..core.config import window_span
from .clips import StepPreviews
from .edit import _sample_clips, given_method

__all__ = ["keyframe_stride", "fill_between", "fill_in"]


def keyframe_stride(config, num_frames: int | None) -> int:
    """The largest trained stride whose window of keyframes fits in ``num_frames`` frames (1: none does,
    or the run trained at one stride)."""
    if num_frames is None:
        return 1
    return max((s for s in config.frame_strides if window_span(config.num_frames, s) <= num_frames), default=1)


def fill_in(pipe, seq: np.ndarray, known: np.ndarray, prompts: list[str], *, seed: int, sampling: dict,
            progress: bool = True) -> np.ndarray:
    """Model-size uint8 clips [N, T, S, S, 3] (T >= the window) with the frames ``known`` [T] (bool) does not
    mark made, window by window at stride 1: each window starts one frame before the first frame still to
    make and hands the model every known frame in it. Known frames come back bit for bit."""
    import torch

    f, s = pipe.config.num_frames, pipe.config.image_size
    if seq.shape[1] != len(known) or len(known) < f:
        raise ValueError(f"fill_in needs clips of at least {f} frames and one known flag a frame, "
                         f"got {seq.shape[1]} frames and {len(known)} flags")
    if not known.any():
        raise ValueError("fill_in needs at least one known frame")
    seq, known = seq.copy(), known.astype(bool).copy()
    method = given_method(pipe, None)  # the model's own given-frame path where it trained with one
    run = 0
    while not known.all():
        start = min(max(int(np.argmin(known)) - 1, 0), len(known) - f)
        window = slice(start, start + f)
        given = known[window]
        keep = torch.from_numpy(given.astype(np.float32)).view(1, 1, f, 1, 1).expand(1, 1, f, s, s).contiguous()
        gen = _sample_clips(pipe, seq[:, window], keep, prompts, strength=1.0, seed=seed + run, sampling=sampling,
                            resample=1, recon_weight=0.0, progress=progress, callback=StepPreviews(), cancel=None,
                            desc=f"filling in {run + 1}", method=method)
        seq[:, window] = np.where(given[None, :, None, None, None], seq[:, window], gen)
        known[window] = True
        run += 1
    return seq


def fill_between(pipe, keys: np.ndarray, prompts: list[str], stride: int, *, seed: int, progress: bool = True,
                 **sampling) -> np.ndarray:
    """Keyframes uint8 [N, F, S, S, 3] made ``stride`` frames apart -> the clip [N, (F - 1) * stride + 1, S, S, 3]
    with the frames between them made (``fill_in``); the keyframes bit for bit."""
    n, f = keys.shape[:2]
    span = window_span(f, stride)
    seq = np.zeros((n, span, *keys.shape[2:]), np.uint8)
    seq[:, ::stride] = keys
    known = np.zeros(span, bool)
    known[::stride] = True
    return fill_in(pipe, seq, known, prompts, seed=seed, sampling=sampling, progress=progress)
