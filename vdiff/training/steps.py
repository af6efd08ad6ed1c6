"""The parts of training that need none of the trainer's state: the step's clips with their random
draws, their split into micro-batches, the out-of-memory rule, the log window and the sample grids.

Random draws are made per loaded batch of ``batch_size`` clips from generators keyed by (seed, step,
loaded batch, rank) (vdiff.core.rng), so a step split into smaller micro-batches after an out-of-memory
error trains on exactly the same clips and noise; only the order of the sums changes.
"""
from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from ..core.rng import step_generator
from .given_frames import draw_given_mask

LOSSES = ("loss", "noise_loss", "perceptual_loss")


class TrainingStopped(RuntimeError):
    """The run stopped on its own (non-finite losses, out of memory); a loadable checkpoint was saved."""


def draw_step(batches: Iterator[dict[str, Any]], config: Any, num_timesteps: int, step: int, rank: int,
              device: torch.device, clock: Callable[[], float]) -> tuple[dict[str, torch.Tensor], float]:
    """The step's ``grad_accum`` loaded batches, joined, with timesteps ``t``, ``noise``, caption
    ``drop`` (``self_cond`` rows for a self-conditioned model, ``given_mask`` for a frame-conditioned one);
    and the seconds spent waiting for data."""
    from ..diffusion.process import sample_timesteps

    parts, waited = [], 0.0
    for micro in range(config.grad_accum):
        t0 = clock()
        batch = next(batches)
        waited += clock() - t0
        part = {k: batch[k] for k in ("video", "text_emb", "text_tokens", "text_mask") if k in batch}
        if "frame_stride" in batch:  # a stride-conditioned run's strides, on the model's device
            part["stride"] = batch["frame_stride"].to(device)
        g = step_generator(config.seed, step, micro, rank, device)
        b = part["video"].shape[0]
        part["t"] = sample_timesteps(b, num_timesteps, config.timestep_shift, generator=g, device=g.device).to(device)
        part["noise"] = torch.randn(part["video"].shape, generator=g, device=g.device).to(device)
        part["drop"] = (torch.rand(b, generator=g, device=g.device) < config.cond_drop_prob).to(device)
        if config.self_condition:  # drawn only then, so the other runs keep their draws
            part["self_cond"] = (torch.rand(b, generator=g, device=g.device) < 0.5).to(device)
        if config.frame_conditioning:  # likewise
            part["given_mask"] = draw_given_mask(b, part["video"].shape[2], config.given_frames_share,
                                                 config.given_frames_patterns, g).to(device)
        parts.append(part)
    joined = parts[0] if len(parts) == 1 else {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    return joined, waited


def micro_batches(batch: dict[str, torch.Tensor], size: int) -> list[tuple[dict[str, torch.Tensor], float]]:
    """``batch`` in pieces of ``size`` clips, each with its share: the step's mean loss is the sum of
    each piece's mean loss divided by its share (its number of equal pieces)."""
    n = batch["video"].shape[0]
    pieces = [{k: v[s:s + size] for k, v in batch.items()} for s in range(0, n, size)]
    return [(p, n / p["video"].shape[0]) for p in pieces]


def halved_micro_batch(current: int, config: Any, world: int, step: int) -> int:
    """The micro-batch to retry a step with after CUDA ran out of memory, or TrainingStopped saying what
    to change. Only ``micro_batch="auto"`` in a single process halves: the processes of a multi-GPU
    run would have to agree on it inside a step that failed in one of them."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if config.micro_batch != "auto" or current == 1 or world > 1:
        hint = ('set micro_batch to "auto" or a smaller number' if config.micro_batch != "auto" and world == 1
                else "lower batch_size or image_size/num_frames, or use a GPU with more memory")
        raise TrainingStopped(f"CUDA ran out of memory at step {step + 1} with micro-batches of {current} clips: {hint}")
    return max(current // 2, 1)


def accumulation(config: Any, micro_batch: int) -> int:
    """Micro-batches per optimizer step at ``micro_batch`` clips each."""
    return math.ceil(config.batch_size * config.grad_accum / micro_batch)


class LogWindow:
    """Sums over the steps since the last log record."""

    def __init__(self, now: float) -> None:
        self.sums = dict.fromkeys((*LOSSES, "grad_norm"), 0.0)
        self.finite_steps, self.steps, self.data_s, self.t0 = 0, 0, 0.0, now

    def add(self, finite: bool, losses: dict[str, float], grad_norm: float) -> None:
        if finite:
            for k, v in losses.items():
                self.sums[k] += v
            self.sums["grad_norm"] += grad_norm
            self.finite_steps += 1
        self.steps += 1

    def record(self, step: int, now: float, **extra: Any) -> dict[str, Any]:
        """The log.jsonl record: mean losses and grad norm (None when no step was finite), steps/s, data wait."""
        elapsed, n = max(now - self.t0, 1e-9), self.finite_steps
        means = {k: (v / n if n else None) for k, v in self.sums.items()}
        return {"step": step, **means, **extra, "steps_per_s": self.steps / elapsed,
                "data_wait_share": self.data_s / elapsed}


def to_device(x: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if x is None else x.to(device)


def sample_grid_gifs(diffusion: Any, nets: dict[str, torch.nn.Module], prompt_emb: Any, config: Any,
                     device: torch.device, run_folder: Any, step: int) -> list[Path]:
    """``samples/step_XXXXXXX_<name>.gif`` of ``run_folder`` for each of ``nets``: the sample prompts
    (``prompt_emb``) sampled with the config's sampling options and seed, 4 clips a row."""
    from ..core.media import gif_grid, to_uint8
    from ..diffusion.guidance import Condition
    from ..diffusion.sampler import sample

    cross = config.cross_attention
    cond = Condition(prompt_emb.pooled.to(device), prompt_emb.tokens.to(device) if cross else None,
                     prompt_emb.mask.to(device) if cross else None)
    paths = []
    for name, net in nets.items():
        clips = sample(diffusion, net, cond, config.sampling, generator=config.seed, progress=False)
        paths.append(gif_grid(to_uint8(clips), run_folder.sample_file(step, name), ncols=4))
    return paths
