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
    """One row per clip: the pooled caption ``text`` [B, D]; for a cross-attention model the caption's
    ``tokens`` [B, L, D] and their ``mask`` [B, L]; for a frame-conditioned model the ``given`` frames
    [B, C, F, H, W] in [-1, 1] and ``given_mask`` [B, 1, F, 1 or H, 1 or W] (1 where given); for a
    stride-conditioned model the ``frame_stride`` [B] (long) of the frames made. None where unused."""

    text: torch.Tensor
    tokens: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    given: torch.Tensor | None = None
    given_mask: torch.Tensor | None = None
    frame_stride: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.text.ndim != 2:
            raise ValueError(f"text_emb must be [B, D], got shape {tuple(self.text.shape)}")
        if (self.given is None) != (self.given_mask is None):
            raise ValueError("given frames and given_mask go together")

    def __len__(self) -> int:
        return self.text.shape[0]

    def _map(self, fn) -> "Condition":
        return Condition(*(None if v is None else fn(v) for v in
                           (self.text, self.tokens, self.mask, self.given, self.given_mask,
                            self.frame_stride)))

    def to(self, device: torch.device | str) -> "Condition":
        return self._map(lambda v: v.to(device))

    def twice(self) -> "Condition":
        """The rows repeated once more (a guided step's conditional and unconditional halves)."""
        return self._map(lambda v: torch.cat([v, v]))

    def model_inputs(self) -> dict[str, torch.Tensor]:
        """The given frames and the stride as the model's keyword arguments (none without: other models take none)."""
        inputs = {} if self.given is None else {"given": self.given, "given_mask": self.given_mask}
        return inputs | ({} if self.frame_stride is None else {"frame_stride": self.frame_stride})


def guided_denoiser(model: nn.Module, cond: Condition, guidance: float) -> Denoiser:
    """The classifier-free guided model output uncond + g * (cond - uncond), in one forward pass.

    The cond and uncond rows go through the model as one batch of 2B (``drop_mask`` True on the uncond
    half). At g = 1 the result is the conditional output, so the uncond half is skipped; at g = 0 only
    the uncond half runs. ``x_self_cond``: the previous step's (guided) x0 estimate for a
    self-conditioned model, the same for both halves; given frames are given to both halves too (only the
    caption is dropped).
    """
    def denoise(x: torch.Tensor, t: torch.Tensor, x_self_cond: torch.Tensor | None = None) -> torch.Tensor:
        b = x.shape[0]
        extra = cond.model_inputs() | ({} if x_self_cond is None else {"x_self_cond": x_self_cond})
        if guidance == 1.0:
            return model(x, t, cond.text, drop_mask=None, text_tokens=cond.tokens, text_mask=cond.mask,
                         **extra).float()
        if guidance == 0.0:
            drop = torch.ones(b, dtype=torch.bool, device=x.device)
            return model(x, t, cond.text, drop_mask=drop, text_tokens=cond.tokens, text_mask=cond.mask,
                         **extra).float()
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(x.device)
        both = cond.twice()
        extra = both.model_inputs() | ({} if x_self_cond is None else {"x_self_cond": _twice(x_self_cond)})
        out = model(torch.cat([x, x]), torch.cat([t, t]), both.text, drop_mask=drop, text_tokens=both.tokens,
                    text_mask=both.mask, **extra).float()
        conditional, unconditional = out.chunk(2)
        return unconditional + guidance * (conditional - unconditional)

    return denoise
