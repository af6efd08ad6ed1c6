"""What happens to each sampler step's predicted x0 before the scheduler steps with it (pure functions).

The sampler clips x0 here, the same way for all three samplers, and hands the scheduler that x0 as a
``prediction_type="sample"`` output, so every scheduler re-derives its noise from the clipped x0
(DDIM's ``use_clipped_model_output``, for all samplers, exactly). diffusers keeps its two own options
apart (``clip_sample`` clips to ``clip_sample_range``, ``thresholding`` is dynamic thresholding); here
one option, ``SamplingOptions.x0_clip``, decides.
"""
from __future__ import annotations

import torch

from ..core.options import X0_CLIPS


def dynamic_threshold(x_start: torch.Tensor, quantile: float = 0.995) -> torch.Tensor:
    """Imagen's dynamic thresholding (Saharia et al. 2022), per sample over all of C*F*H*W.

    s = quantile(|x0|, p), s = max(s, 1), x0 = clamp(x0, -s, s) / s. When s <= 1 this is plain
    clipping to [-1, 1]; the quantile is taken in fp32 (torch.quantile has no half kernels and
    bf16 would round s).
    """
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"x0_clip_quantile must be in (0, 1], got {quantile}")
    b = x_start.shape[0]
    flat = x_start.float().reshape(b, -1)
    s = torch.quantile(flat.abs(), quantile, dim=1).clamp(min=1.0).unsqueeze(1)
    return (flat.clamp(-s, s) / s).reshape(x_start.shape).to(x_start.dtype)


def clip_x0(x_start: torch.Tensor, x0_clip: str, quantile: float = 0.995) -> torch.Tensor:
    """``x0_clip``: "none" leaves x0 alone, "static" clips it to [-1, 1], "dynamic" is
    ``dynamic_threshold`` at ``quantile`` (``vdiff.core.options.X0_CLIPS``)."""
    if x0_clip == "none":
        return x_start
    if x0_clip == "static":
        return x_start.clamp(-1.0, 1.0)
    if x0_clip == "dynamic":
        return dynamic_threshold(x_start, quantile)
    raise ValueError(f"unknown x0_clip {x0_clip!r}; choose one of: {', '.join(X0_CLIPS)}")
