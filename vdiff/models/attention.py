"""Attention layers of the 3D UNet: temporal (across frames at every pixel), spatial (over the pixels of a
frame, or of all frames at once) and cross-attention to the caption's tokens, all through one ``attention``.

Clips arrive folded as ``(B*F, C, H, W)`` (see ``vdiff.models.layers``); each layer unfolds the axis it
attends over with einops.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from .layers import sinusoidal_embedding, zero_init

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
