"""Exponential moving average of the model's weights, in fp32, with a warm-up decay.

The averaging is torch.optim.swa_utils.AveragedModel's (it counts updates in its ``n_averaged``
buffer, which is saved with its state_dict); the decay schedule is ours:

    decay(n) = clamp(1 - (1 + n / ema_inv_gamma) ** -ema_power, ema_decay_min, ema_decay_max)

where n is the number of EMA updates made before this one (diffusers' EMAModel "warm-up" formula,
counted in EMA updates rather than optimizer steps so ``ema_update_every`` does not stretch it).
With the defaults (inv_gamma 1, power 2/3, min 0.9, max 0.9999) the decay is 0.9 for the first 30
updates, 0.999 after ~31k and reaches 0.9999 after ~1M. A fixed 0.9999 from step 0 would keep 37%
of the random init after 10k updates. The first update copies the online weights (AveragedModel's
rule), so the average starts from the model as it is at ``ema_start_step``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from ..core.config import Config


def ema_decay(update_count: int, config: Config) -> float:
    """The decay used for an update after ``update_count`` earlier updates."""
    raw = 1.0 - (1.0 + update_count / config.ema_inv_gamma) ** -config.ema_power
    return float(min(max(raw, config.ema_decay_min), config.ema_decay_max))


class EMA:
    """fp32 EMA of a (never compiled, never DDP-wrapped) module."""

    def __init__(self, model: nn.Module, config: Config) -> None:
        self.config = config
        self.averaged = AveragedModel(model, multi_avg_fn=self._average, use_buffers=True)
        self.averaged.float().requires_grad_(False).eval()  # bf16 updates would round to zero
        self.last_decay = 0.0

    @property
    def module(self) -> nn.Module:
        """The averaged model itself (use it for sampling)."""
        return self.averaged.module

    @property
    def update_count(self) -> int:
        return int(self.averaged.n_averaged.item())

    def _average(self, averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        decay = ema_decay(int(n.item()), self.config)
        self.last_decay = decay
        current = [c.detach().to(a.dtype) for a, c in zip(averaged, current)]
        torch._foreach_lerp_(averaged, current, 1.0 - decay)  # a += (1 - decay) * (c - a)

    @torch.no_grad()
    def step(self, model: nn.Module) -> None:
        """One EMA update from ``model``'s current weights."""
        if self.update_count == 0:
            self.last_decay = 0.0  # the first update copies
        self.averaged.update_parameters(model)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into ``model``."""
        model.load_state_dict(self.module.state_dict())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.averaged.state_dict()  # holds module.* weights and n_averaged (the update count)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.averaged.load_state_dict(state)
