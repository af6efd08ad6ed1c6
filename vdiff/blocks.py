"""Building blocks of the 3D UNet: AdaGN residual blocks, attention layers, resampling.

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


# CUDA's attention kernels put the batch on a grid axis of at most 65,535 blocks; temporal attention
# at 64x64 with 16 clips has 65,536 sequences (cuDNN fails with "mha_graph.execute ... is_good()").
ATTENTION_CHUNK = 32768


# On a CPU, PyTorch's bf16 flash-attention kernel costs 2-5x the plain matmul-softmax-matmul for
# the short sequences `tiny` attends over (forward + backward, one thread, heads 4 x 32: 289 against
# 139 ms for temporal attention over 8 frames at 32x32, batch 8; 36 against 7 ms for 64 pixels; at
# 256 keys the kernel wins: 46 against 61 ms; benchmarks/attention_cpu.py). In fp32 the kernel is
# the faster one.
CPU_MATH_MAX_KEYS = 128


def _math_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                    attn_mask: torch.Tensor | None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v with the softmax in fp32, as the fused kernels accumulate it;
    a boolean ``attn_mask`` keeps the keys where it is True (``F.scaled_dot_product_attention``'s rule)."""
    scores = (q @ k.transpose(-1, -2)).float() * q.shape[-1] ** -0.5
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    return scores.softmax(-1).to(v.dtype) @ v


def _use_math_attention(q: torch.Tensor, k: torch.Tensor, attn_mask: torch.Tensor | None) -> bool:
    return (q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16)
            and k.shape[-2] <= CPU_MATH_MAX_KEYS and (attn_mask is None or attn_mask.dtype == torch.bool))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              attn_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` over [N, heads, L, d], in chunks of the batch axis N
    (on a CPU in bf16 with at most ``CPU_MATH_MAX_KEYS`` keys, the same sum computed by matmuls)."""
    if _use_math_attention(q, k, attn_mask):
        return _math_attention(q, k, v, attn_mask)
    if q.shape[0] <= ATTENTION_CHUNK:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    masks = (attn_mask.split(ATTENTION_CHUNK) if attn_mask is not None and attn_mask.shape[0] == q.shape[0]
             else [attn_mask] * math.ceil(q.shape[0] / ATTENTION_CHUNK))
    return torch.cat([F.scaled_dot_product_attention(qc, kc, vc, attn_mask=m) for qc, kc, vc, m in
                      zip(q.split(ATTENTION_CHUNK), k.split(ATTENTION_CHUNK), v.split(ATTENTION_CHUNK), masks)])


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


def _heads(channels: int, head_dim: int, max_heads: int) -> tuple[int, int]:
    """(heads, head_dim) with heads * head_dim <= channels, so attention never widens the layer."""
    head_dim = min(head_dim, channels)
    return max(1, min(max_heads, channels // head_dim)), head_dim


class TemporalAttention(nn.Module):
    """Self-attention across frames at every pixel, with a sinusoidal frame-position encoding.

    The encoding is added to the normalised input of the queries, keys AND values (as AnimateDiff
    does). With it on the queries and keys only, a clip whose frames look alike gives every frame
    the same output: nothing tells the first frame from the last. Works for any number of frames.
    """

    def __init__(self, channels: int, heads: int = 4, head_dim: int = 32) -> None:
        super().__init__()
        self.heads, self.head_dim = _heads(channels, head_dim, heads)
        inner = self.heads * self.head_dim
        self.norm = nn.LayerNorm(channels)
        self.to_qk = nn.Linear(channels, 2 * inner, bias=False)
        self.to_v = nn.Linear(channels, inner, bias=False)
        self.to_out = zero_init(nn.Linear(inner, channels))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        _, _, height, width = x.shape
        seq = rearrange(x, "(b f) c h w -> (b h w) f c", f=frames)
        h = self.norm(seq)
        h = h + sinusoidal_embedding(torch.arange(frames, device=x.device), h.shape[-1]).to(h.dtype)
        q, k = rearrange(self.to_qk(h), "n f (two hd d) -> two n hd f d", two=2, hd=self.heads)
        v = rearrange(self.to_v(h), "n f (hd d) -> n hd f d", hd=self.heads)
        out = rearrange(attention(q, k, v), "n hd f d -> n f (hd d)")
        seq = seq + self.to_out(out)
        return rearrange(seq, "(b h w) f c -> (b f) c h w", h=height, w=width)


class TemporalConv(nn.Module):
    """Cheaper temporal mixing: a residual 3-tap convolution across frames at every pixel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(group_count(channels), channels)
        self.conv = zero_init(nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0)))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        h = rearrange(F.silu(self.norm(x)), "(b f) c h w -> b c f h w", f=frames)
        return x + rearrange(self.conv(h), "b c f h w -> (b f) c h w")


class SpatialAttention(nn.Module):
    """Self-attention over the pixels of each frame (used only at low resolutions); with
    ``frames`` > 1 in ``forward``, over all pixels of all frames of a clip at once (space-time)."""

    def __init__(self, channels: int, heads: int = 4, head_dim: int = 32) -> None:
        super().__init__()
        self.heads, self.head_dim = _heads(channels, head_dim, heads)
        inner = self.heads * self.head_dim
        self.norm = nn.LayerNorm(channels)
        self.to_qkv = nn.Linear(channels, 3 * inner, bias=False)
        self.to_out = zero_init(nn.Linear(inner, channels))

    def forward(self, x: torch.Tensor, frames: int = 1) -> torch.Tensor:
        _, _, height, width = x.shape
        seq = rearrange(x, "(n f) c h w -> n (f h w) c", f=frames)
        q, k, v = rearrange(self.to_qkv(self.norm(seq)), "n s (three hd d) -> three n hd s d",
                            three=3, hd=self.heads)
        out = rearrange(attention(q, k, v), "n hd s d -> n s (hd d)")
        seq = seq + self.to_out(out)
        return rearrange(seq, "n (f h w) c -> (n f) c h w", f=frames, h=height, w=width)


class CrossAttention(nn.Module):
    """Attention from every pixel of every frame to the caption's token embeddings."""

    def __init__(self, channels: int, text_dim: int, heads: int = 4, head_dim: int = 32) -> None:
        super().__init__()
        self.heads, self.head_dim = _heads(channels, head_dim, heads)
        inner = self.heads * self.head_dim
        self.norm = nn.LayerNorm(channels)
        self.to_q = nn.Linear(channels, inner, bias=False)
        self.to_kv = nn.Linear(text_dim, 2 * inner, bias=False)
        self.to_out = zero_init(nn.Linear(inner, channels))

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        frames = x.shape[0] // tokens.shape[0]
        _, _, height, width = x.shape
        seq = rearrange(x, "n c h w -> n (h w) c")
        q = rearrange(self.to_q(self.norm(seq)), "n s (hd d) -> n hd s d", hd=self.heads)
        k, v = rearrange(self.to_kv(tokens.to(seq.dtype)), "b l (two hd d) -> two b hd l d",
                         two=2, hd=self.heads)
        # Every frame of a clip reads the same caption: project the tokens once per clip, then share.
        k, v = (repeat(t, "b hd l d -> (b f) hd l d", f=frames) for t in (k, v))
        attn_mask = repeat(mask, "b l -> (b f) 1 1 l", f=frames)
        out = rearrange(attention(q, k, v, attn_mask), "n hd s d -> n s (hd d)")
        seq = seq + self.to_out(out)
        return rearrange(seq, "n (h w) c -> n c h w", h=height, w=width)


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
