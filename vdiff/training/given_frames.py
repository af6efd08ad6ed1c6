"""Which frames a training clip is given (frame conditioning, ``config.frame_conditioning``).

For a share ``config.given_frames_share`` of the clips in a batch some frames are given clean and the
loss counts only the others (RaMViD, Höppe et al. 2022; MCVD, Voleti et al. 2022, which trains one model
for prediction, interpolation and generation by masking past and future frames); the rest train plain
text-to-video. Each given clip draws one of ``config.given_frames_patterns``:

* ``prefix``: the first k frames (continuing a clip), k in 1..F-1;
* ``suffix``: the last k frames (what led to them);
* ``ends``: the first a and the last b frames, a + b <= F - 1 (filling in between two clips);
* ``random``: each frame given with probability 1/2, at least one given and one to make.

The draws come from the step's generator (``vdiff.core.rng``), so a resumed run gives the same clips the
same frames.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

PATTERNS = ("prefix", "suffix", "ends", "random")


def _int(generator: torch.Generator, low: int, high: int) -> int:
    """An integer in [low, high] from ``generator``."""
    return int(torch.randint(low, high + 1, (1,), generator=generator, device=generator.device))


def draw_pattern(pattern: str, frames: int, generator: torch.Generator) -> torch.Tensor:
    """One clip's given frames [F] (bool) for ``pattern``; at least one frame is given and one is not."""
    given = torch.zeros(frames, dtype=torch.bool)
    if pattern == "prefix":
        given[:_int(generator, 1, frames - 1)] = True
    elif pattern == "suffix":
        given[frames - _int(generator, 1, frames - 1):] = True
    elif pattern == "ends" and frames < 3:  # no room for two ends and a frame between them: the first
        given[0] = True
    elif pattern == "ends":
        first = _int(generator, 1, frames - 2)
        last = _int(generator, 1, frames - 1 - first)
        given[:first] = True
        given[frames - last:] = True
    elif pattern == "random":
        coins = torch.rand(frames, generator=generator, device=generator.device).cpu() < 0.5
        if coins.all() or not coins.any():  # keep one of each: flip one frame chosen at random
            coins[_int(generator, 0, frames - 1)] ^= True
        given = coins
    else:
        raise ValueError(f"unknown given-frames pattern {pattern!r}; choose from {', '.join(PATTERNS)}")
    return given


def draw_given_mask(batch: int, frames: int, share: float, patterns: Sequence[str],
                    generator: torch.Generator) -> torch.Tensor:
    """[batch, 1, F, 1, 1] float: 1 where a frame is given; all 0 for the clips trained without."""
    if frames < 2:
        raise ValueError("frame conditioning needs clips of at least 2 frames")
    chosen = torch.rand(batch, generator=generator, device=generator.device).cpu() < share
    picks = torch.randint(len(patterns), (batch,), generator=generator, device=generator.device).cpu()
    mask = torch.zeros(batch, 1, frames, 1, 1)
    for row in range(batch):
        if chosen[row]:
            mask[row, 0, :, 0, 0] = draw_pattern(patterns[int(picks[row])], frames, generator).float()
    return mask
