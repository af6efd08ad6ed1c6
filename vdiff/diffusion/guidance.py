"""What a denoiser is conditioned on, and classifier-free guidance as a wrapper around the model.

The sampler (``vdiff.diffusion.sampler``) calls a *denoiser* ``denoise(x, t, x_self_cond) -> output``
(epsilon or v, fp32): the model with its condition and guidance bound in, so masks, editing and the
sampler's loop never need to know about captions (k-diffusion's way: guidance wraps the model, it does
not copy the loop).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

Denoiser = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def _twice(x: torch.Tensor | None) -> torch.Tensor | None:
    return None if x is None else torch.cat([x, x])


@dataclass
class Condition:
    """One row per clip: the pooled caption ``text`` [B, D] and, for a cross-attention model, the
    caption's ``tokens`` [B, L, D] and their ``mask`` [B, L] (None otherwise)."""

    text: torch.Tensor
    tokens: torch.Tensor | None = None
    mask: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.text.ndim != 2:
            raise ValueError(f"text_emb must be [B, D], got shape {tuple(self.text.shape)}")

    def __len__(self) -> int:
        return self.text.shape[0]

    def to(self, device: torch.device | str) -> "Condition":
        move = (lambda v: None if v is None else v.to(device))
        return Condition(self.text.to(device), move(self.tokens), move(self.mask))

    def twice(self) -> "Condition":
        """The rows repeated once more (a guided step's conditional and unconditional halves)."""
        return Condition(torch.cat([self.text, self.text]), _twice(self.tokens), _twice(self.mask))


def guided_denoiser(model: nn.Module, cond: Condition, guidance: float) -> Denoiser:
    """The classifier-free guided model output uncond + g * (cond - uncond), in one forward pass.

    The cond and uncond rows go through the model as one batch of 2B (``drop_mask`` True on the uncond
    half). At g = 1 the result is the conditional output, so the uncond half is skipped; at g = 0 only
    the uncond half runs. ``x_self_cond``: the previous step's (guided) x0 estimate for a
    self-conditioned model, the same for both halves.
    """
    def denoise(x: torch.Tensor, t: torch.Tensor, x_self_cond: torch.Tensor | None = None) -> torch.Tensor:
        b = x.shape[0]
        extra = {} if x_self_cond is None else {"x_self_cond": x_self_cond}
        if guidance == 1.0:
            return model(x, t, cond.text, drop_mask=None, text_tokens=cond.tokens, text_mask=cond.mask,
                         **extra).float()
        if guidance == 0.0:
            drop = torch.ones(b, dtype=torch.bool, device=x.device)
            return model(x, t, cond.text, drop_mask=drop, text_tokens=cond.tokens, text_mask=cond.mask,
                         **extra).float()
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(x.device)
        both = cond.twice()
        extra = {} if x_self_cond is None else {"x_self_cond": _twice(x_self_cond)}
        out = model(torch.cat([x, x]), torch.cat([t, t]), both.text, drop_mask=drop, text_tokens=both.tokens,
                    text_mask=both.mask, **extra).float()
        conditional, unconditional = out.chunk(2)
        return unconditional + guidance * (conditional - unconditional)

    return denoise
