"""Building blocks of the 3D UNet: embeddings, AdaGN residual blocks, temporal convolution, resampling.

Clips travel through the network folded as ``(B*F, C, H, W)`` so every spatial convolution is a
plain per-frame ``conv2d`` (the fastest kernel on CPU and GPU alike); temporal layers unfold the
frame axis with einops only where they need it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn


def group_count(channels: int, max_groups: int = 32, min_group_size: int = 4) -> int:
    """GroupNorm groups for ``channels``: the largest divisor <= 32 with >= 4 channels a group."""
    limit = max(1, min(max_groups, channels // min_group_size))
    return next(g for g in range(limit, 0, -1) if channels % g == 0)


def zero_init(module: nn.Module) -> nn.Module:
    """Zero a layer's weights and bias so the residual branch it closes starts as identity."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def sinusoidal_embedding(positions: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer-style sin/cos features [N, dim] of (possibly fractional) positions [N]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=positions.device,
                                                           dtype=torch.float32) / half)
    args = positions.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class AdaGN(nn.Module):
    """GroupNorm, then ``x * (1 + scale) + shift`` with scale/shift from the time and text conditions.

    ``mode="separate"`` (ours): two MLPs (SiLU + Linear), the time one weighted by a learnable
    ``time_scale``, summed. ``mode="concat"``: one MLP on ``[time, text]`` (the reference's FiLM).
    Both MLPs start at zero, so a fresh AdaGN is a plain GroupNorm.
    """

    def __init__(self, channels: int, time_dim: int, cond_dim: int, mode: str = "separate") -> None:
        super().__init__()
        if mode not in ("separate", "concat"):
            raise ValueError(f"unknown AdaGN mode {mode!r}: use 'separate' or 'concat'")
        self.mode = mode
        self.norm = nn.GroupNorm(group_count(channels), channels)
        if mode == "separate":
            self.time_mlp = nn.Sequential(nn.SiLU(), zero_init(nn.Linear(time_dim, 2 * channels)))
            self.text_mlp = nn.Sequential(nn.SiLU(), zero_init(nn.Linear(cond_dim, 2 * channels)))
            self.time_scale = nn.Parameter(torch.ones(()))
        else:
            self.mlp = nn.Sequential(nn.SiLU(), zero_init(nn.Linear(time_dim + cond_dim, 2 * channels)))

    def scale_shift(self, time_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """Per-sample modulation [B, 2C] (scale then shift)."""
        if self.mode == "separate":
            return self.time_mlp(time_emb) * self.time_scale + self.text_mlp(text_emb)
        return self.mlp(torch.cat([time_emb, text_emb], dim=-1))

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        frames = x.shape[0] // time_emb.shape[0]
        mod = repeat(self.scale_shift(time_emb, text_emb), "b c -> (b f) c 1 1", f=frames)
        scale, shift = mod.to(x.dtype).chunk(2, dim=1)
        return torch.addcmul(shift, self.norm(x), 1 + scale)


class ResBlock(nn.Module):
    """Per-frame residual block: GN-SiLU-conv, AdaGN-SiLU-dropout-conv (zero-init), plus skip."""

    def __init__(self, in_ch: int, out_ch: int, time_dim: int, cond_dim: int,
                 adagn: str = "separate", dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(group_count(in_ch), in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.adagn = AdaGN(out_ch, time_dim, cond_dim, adagn)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.adagn(h, time_emb, text_emb))))
        return self.skip(x) + h


class TemporalConv(nn.Module):
    """Cheaper temporal mixing: a residual 3-tap convolution across frames at every pixel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(group_count(channels), channels)
        self.conv = zero_init(nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0)))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        h = rearrange(F.silu(self.norm(x)), "(b f) c h w -> b c f h w", f=frames)
        return x + rearrange(self.conv(h), "b c f h w -> (b f) c h w")


class Downsample(nn.Module):
    """Halve height and width (never frames) with a strided 3x3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double height and width (never frames): a 3x3 convolution at the low resolution, then nearest.

    Convolving before upsampling costs a quarter of the usual upsample-then-convolve; the next
    block's 3x3 convolutions (at full resolution) smooth the 2x2 blocks away.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(x), scale_factor=2.0, mode="nearest")
