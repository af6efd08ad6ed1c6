"""The 3D UNet: clips (B, C, F, H, W) -> predicted noise (or v) of the same shape.

Per-frame residual blocks with AdaGN conditioning on time and the pooled caption, temporal mixing
after every block at every resolution, spatial self-attention (and optional cross-attention to
caption tokens) only at ``config.attn_resolutions``, down/upsampling in space only. Where the
FLOPs go is a design choice: the full-resolution level is one block wide and attention-free in
space, the parameters live at low resolution where they are cheap to run.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from ..core.config import Config
from .attention import CrossAttention, SpatialAttention, TemporalAttention
from .layers import (AdaGN, Downsample, ResBlock, TemporalConv, Upsample, group_count, sinusoidal_embedding,
                     zero_init)

__all__ = ["UNet3D", "AdaGN", "group_count"]


def given_channels(x: torch.Tensor, given: torch.Tensor | None,
                   given_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The frame-conditioning input beside the noisy clip ``x``: the given frames (zero where none is given)
    and the mask [B, 1, F, H, W] (MCVD, Voleti et al. 2022: the conditioning frames as extra channels)."""
    b, _, f, h, w = x.shape
    if given is None:
        return torch.zeros_like(x), x.new_zeros(b, 1, f, h, w)
    mask = given_mask.to(x.dtype).expand(b, 1, f, h, w)
    return given.to(x.dtype) * mask, mask


class SpaceTimeBlock(nn.Module):
    """One residual block followed by its temporal layer, spatial attention and cross-attention."""

    def __init__(self, in_ch: int, out_ch: int, resolution: int, config: Config, text_dim: int,
                 time_dim: int, cond_dim: int) -> None:
        super().__init__()
        self.res = ResBlock(in_ch, out_ch, time_dim, cond_dim, config.adagn, config.dropout)
        heads, head_dim = config.attn_heads, config.attn_head_dim
        attends = config.temporal_attention and (config.temporal_attention_resolutions is None
                                                 or resolution in config.temporal_attention_resolutions)
        self.temporal = TemporalAttention(out_ch, heads, head_dim) if attends else TemporalConv(out_ch)
        use_attn = resolution in config.attn_resolutions
        self.spatial = SpatialAttention(out_ch, heads, head_dim) if use_attn else None
        self.space_time = config.space_time_attention
        self.cross = (CrossAttention(out_ch, text_dim, heads, head_dim)
                      if use_attn and config.cross_attention else None)

    def forward(self, x: torch.Tensor, frames: int, time_emb: torch.Tensor, cond_emb: torch.Tensor,
                tokens: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
        x = self.res(x, time_emb, cond_emb)
        if self.spatial is not None:
            x = self.spatial(x, frames if self.space_time else 1)
        if self.cross is not None:
            x = self.cross(x, tokens, mask)
        return self.temporal(x, frames)


class UNet3D(nn.Module):
    """Text-conditioned 3D UNet; see the module docstring and docs/model.md."""

    def __init__(self, config: Config, text_dim: int) -> None:
        super().__init__()
        self.config = config
        self.text_dim = text_dim
        dim = config.dim
        time_dim = 4 * dim
        # The caption path is at least as wide as the encoder: text is what this model is about,
        # and these per-sample MLPs cost parameters, not FLOPs per pixel.
        cond_dim = max(time_dim, text_dim)
        widths = [dim * m for m in config.dim_mults]

        self.time_mlp = nn.Sequential(nn.Linear(dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        # How many frames apart the clip's frames are, added to the timestep embedding (Make-A-Video's
        # frame-rate conditioning, Singer et al. 2022); zero at the start, so training begins as without it.
        self.stride_emb = None
        if config.stride_conditioned:
            self.stride_emb = nn.Embedding(max(config.frame_strides) + 1, time_dim)
            nn.init.zeros_(self.stride_emb.weight)
        # Sentence embeddings are unit vectors (entries ~1/sqrt(D)) and one dataset's captions differ
        # by a small angle; LayerNorm rescales them to unit-variance entries (~20x for MiniLM) so
        # that the caption is not a whisper next to the timestep embedding. See docs/model.md.
        self.text_mlp = nn.Sequential(nn.LayerNorm(text_dim) if config.text_norm else nn.Identity(),
                                      nn.Linear(text_dim, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))
        # Fitted to the training captions before training (fit_text_whitening), saved with the weights.
        if config.text_whitening:
            self.register_buffer("text_mean", torch.zeros(text_dim))
            self.register_buffer("text_whitening", torch.eye(text_dim))
        # The learned "no caption" condition for classifier-free guidance (rows with drop_mask=True).
        self.null_text_emb = nn.Parameter(torch.randn(text_dim) * 0.02)
        self.null_text_tokens = nn.Parameter(torch.randn(1, text_dim) * 0.02) if config.cross_attention else None

        # Self-conditioning reads the clip and the model's previous x0 estimate side by side; frame
        # conditioning reads the given frames (clean, zero elsewhere) and a mask channel saying which they are.
        in_channels = (config.channels * (2 if config.self_condition else 1)
                       + (config.channels + 1 if config.frame_conditioning else 0))
        self.init_conv = nn.Conv2d(in_channels, dim, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skip_widths = []
        ch, res = dim, config.image_size
        for i, width in enumerate(widths):
            for _ in range(config.num_res_blocks):
                self.down.append(SpaceTimeBlock(ch, width, res, config, text_dim, time_dim, cond_dim))
                ch = width
                skip_widths.append(ch)
            last = i == len(widths) - 1
            self.downsample.append(nn.Identity() if last else Downsample(ch))
            res = res if last else res // 2

        self.mid1 = SpaceTimeBlock(ch, ch, res, config, text_dim, time_dim, cond_dim)
        self.mid2 = ResBlock(ch, ch, time_dim, cond_dim, config.adagn, config.dropout)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, width in reversed(list(enumerate(widths))):
            for _ in range(config.num_res_blocks):
                self.up.append(SpaceTimeBlock(ch + skip_widths.pop(), width, res, config, text_dim, time_dim, cond_dim))
                ch = width
            first = i == 0
            self.upsample.append(nn.Identity() if first else Upsample(ch))
            res = res if first else res * 2

        self.out_norm = nn.GroupNorm(group_count(ch), ch)
        self.out_conv = zero_init(nn.Conv2d(ch, config.channels, 3, padding=1))

    # --- input checks -------------------------------------------------------------------
    def _check_inputs(self, x, timesteps, text_emb, drop_mask, text_tokens, text_mask, x_self_cond, given,
                      given_mask, frame_stride) -> None:
        c = self.config
        if not isinstance(x, torch.Tensor) or x.ndim != 5:
            raise ValueError(f"x must be a 5D tensor (batch, channels, frames, height, width), got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        b, ch, frames, height, width = x.shape
        if ch != c.channels:
            raise ValueError(f"x has {ch} channels but the config says channels={c.channels}")
        if frames != c.num_frames:
            raise ValueError(f"x has {frames} frames but the config says num_frames={c.num_frames}")
        if height != c.image_size or width != c.image_size:
            raise ValueError(f"x is {height}x{width} but the config says image_size={c.image_size}")
        if timesteps.ndim != 1 or timesteps.shape[0] != b:
            raise ValueError(f"timesteps must have shape [{b}], got {tuple(timesteps.shape)}")
        if text_emb.shape != (b, self.text_dim):
            raise ValueError(f"text_emb must have shape [{b}, {self.text_dim}], got {tuple(text_emb.shape)}")
        if x_self_cond is not None and x_self_cond.shape != x.shape:
            raise ValueError(f"x_self_cond must have the shape of x {tuple(x.shape)}, got {tuple(x_self_cond.shape)}")
        if (given is None) != (given_mask is None):
            raise ValueError("given frames and given_mask go together")
        if given is not None:
            if not c.frame_conditioning:
                raise ValueError("this model was not trained with given frames (config.frame_conditioning is False)")
            if given.shape != x.shape:
                raise ValueError(f"given must have the shape of x {tuple(x.shape)}, got {tuple(given.shape)}")
            if given_mask.ndim != 5 or given_mask.shape[:3] != (b, 1, frames):
                raise ValueError(f"given_mask must be [{b}, 1, {frames}, 1 or H, 1 or W], got {tuple(given_mask.shape)}")
        if frame_stride is not None:
            if not c.stride_conditioned:
                raise ValueError("this model was trained at one frame stride (config.frame_strides is (1,))")
            if frame_stride.shape != (b,):  # (the values are the caller's: reading them would sync a GPU)
                raise ValueError(f"frame_stride must have shape [{b}], got {tuple(frame_stride.shape)}")
        if drop_mask is not None and drop_mask.shape != (b,):
            raise ValueError(f"drop_mask must have shape [{b}], got {tuple(drop_mask.shape)}")
        if c.cross_attention:
            if text_tokens is None or text_mask is None:
                raise ValueError("config.cross_attention is on: text_tokens and text_mask are required")
            if text_tokens.ndim != 3 or text_tokens.shape[0] != b or text_tokens.shape[2] != self.text_dim:
                raise ValueError(f"text_tokens must have shape [{b}, L, {self.text_dim}], "
                                 f"got {tuple(text_tokens.shape)}")
            if text_mask.shape != text_tokens.shape[:2]:
                raise ValueError(f"text_mask must have shape {list(text_tokens.shape[:2])}, "
                                 f"got {tuple(text_mask.shape)}")

    # --- forward ------------------------------------------------------------------------
    @torch.no_grad()
    def fit_text_whitening(self, caption_embeddings: torch.Tensor) -> None:
        """Set the caption whitening from the training captions' pooled embeddings [N, text_dim]."""
        from .text import whitening_transform

        if not self.config.text_whitening:
            raise ValueError("this model has no caption whitening (config.text_whitening is False)")
        mean, matrix = whitening_transform(caption_embeddings)
        self.text_mean.copy_(mean)
        self.text_whitening.copy_(matrix)

    def whiten_text(self, text_emb: torch.Tensor) -> torch.Tensor:
        """Pooled captions [B, D] as the blocks' text MLP reads them: in the weights' dtype, whitened
        where the run fitted a whitening."""
        text_emb = text_emb.to(self.null_text_emb.dtype)
        if self.config.text_whitening:
            text_emb = (text_emb - self.text_mean) @ self.text_whitening
        return text_emb

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, text_emb: torch.Tensor,
                drop_mask: torch.Tensor | None = None, text_tokens: torch.Tensor | None = None,
                text_mask: torch.Tensor | None = None, x_self_cond: torch.Tensor | None = None,
                given: torch.Tensor | None = None, given_mask: torch.Tensor | None = None,
                frame_stride: torch.Tensor | None = None) -> torch.Tensor:
        """Predict the noise (or v) for clips ``x`` [B, C, F, H, W] at ``timesteps`` [B].

        ``x_self_cond``: with ``config.self_condition``, the model's previous x0 estimate of the same
        clips (None: zeros, "no estimate yet"); ignored otherwise. ``given`` [B, C, F, H, W] and
        ``given_mask`` [B, 1, F, 1 or H, 1 or W] (1 where a frame is given): with ``config.frame_conditioning``,
        clean frames the clip must continue, join or keep (None: none given, plain text-to-video).
        ``frame_stride`` [B] (long): with ``config.frame_strides``, how many frames apart the clip's frames
        are (None: 1, consecutive frames)."""
        if isinstance(timesteps, (int, float)) or (isinstance(timesteps, torch.Tensor) and timesteps.ndim == 0):
            timesteps = torch.full((x.shape[0],), float(timesteps), device=x.device)
        self._check_inputs(x, timesteps, text_emb, drop_mask, text_tokens, text_mask, x_self_cond, given, given_mask,
                           frame_stride)
        frames = x.shape[2]
        param_dtype = self.null_text_emb.dtype

        text_emb = self.whiten_text(text_emb)
        tokens = mask = None
        if self.config.cross_attention:
            tokens, mask = text_tokens.to(param_dtype), text_mask.bool().clone()
            mask[:, 0] = True  # an all-masked row would give NaN attention; position 0 is BERT's [CLS]
        if drop_mask is not None:
            drop = drop_mask.bool().to(x.device)
            text_emb = torch.where(drop[:, None], self.null_text_emb[None], text_emb)
            if tokens is not None:
                tokens = torch.where(drop[:, None, None], self.null_text_tokens[None], tokens)
                mask = mask | drop[:, None]

        time_emb = self.time_mlp(sinusoidal_embedding(timesteps, self.config.dim).to(param_dtype))
        if self.stride_emb is not None:
            stride = torch.ones_like(timesteps, dtype=torch.long) if frame_stride is None else frame_stride.long()
            time_emb = time_emb + self.stride_emb(stride.to(x.device))
        cond_emb = self.text_mlp(text_emb)

        if self.config.self_condition:
            x = torch.cat([x, torch.zeros_like(x) if x_self_cond is None else x_self_cond.to(x.dtype)], dim=1)
        if self.config.frame_conditioning:
            x = torch.cat([x, *given_channels(x, given, given_mask)], dim=1)
        h = self.init_conv(rearrange(x, "b c f h w -> (b f) c h w"))
        skips = []
        blocks = iter(self.down)
        for downsample in self.downsample:
            for _ in range(self.config.num_res_blocks):
                h = next(blocks)(h, frames, time_emb, cond_emb, tokens, mask)
                skips.append(h)
            h = downsample(h)

        h = self.mid1(h, frames, time_emb, cond_emb, tokens, mask)
        h = self.mid2(h, time_emb, cond_emb)

        blocks = iter(self.up)
        for upsample in self.upsample:
            for _ in range(self.config.num_res_blocks):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), frames, time_emb, cond_emb, tokens, mask)
            h = upsample(h)

        out = self.out_conv(torch.nn.functional.silu(self.out_norm(h)))
        return rearrange(out, "(b f) c h w -> b c f h w", f=frames)
