"""How a run samples by default: the sampler names, the x0 clipping modes and ``sampling_options``.

Torch-free, so configs and command lines can use it without loading the model stack. Every caller
that samples from a run (the pipeline, ``vdiff.evaluate``, the trainer's sample grids, ``vdiff.bench``,
the notebooks) fills its unset options from the run's config here, so a run samples the way its
config says unless the caller overrides a value.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config

SAMPLERS = ("ddim", "ddpm", "dpm++")
# What happens to each step's predicted x0 before the scheduler step:
#   "none"    left as the model predicts it;
#   "static"  clipped to [-1, 1] (the data range);
#   "dynamic" Imagen's dynamic thresholding (Saharia et al. 2022): s = max(quantile(|x0|, p), 1),
#             x0 = clamp(x0, -s, s) / s, per sample, p = ``x0_clip_quantile``.
X0_CLIPS = ("none", "static", "dynamic")


@dataclass(frozen=True)
class SamplingOptions:
    """One resolved set of sampling options; ``sample_kwargs()`` feeds ``Diffusion.sample``."""

    sampler: str
    steps: int
    guidance: float
    x0_clip: str
    x0_clip_quantile: float

    def sample_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``Diffusion.sample`` (which calls guidance ``guidance_scale``)."""
        return {"sampler": self.sampler, "steps": self.steps, "guidance_scale": self.guidance,
                "x0_clip": self.x0_clip, "x0_clip_quantile": self.x0_clip_quantile}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_sampling(sampler: str, steps: int, guidance: float, x0_clip: str, x0_clip_quantile: float) -> None:
    """Raise ValueError naming the first impossible sampling value."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if guidance < 0:
        raise ValueError(f"guidance must be >= 0, got {guidance}")
    if x0_clip not in X0_CLIPS:
        raise ValueError(f"unknown x0_clip {x0_clip!r}; choose one of: {', '.join(X0_CLIPS)}")
    if not 0.0 < x0_clip_quantile <= 1.0:
        raise ValueError(f"x0_clip_quantile must be in (0, 1], got {x0_clip_quantile}")


def sampling_options(config: "Config", *, sampler: str | None = None, steps: int | None = None,
                     guidance: float | None = None, x0_clip: str | None = None,
                     x0_clip_quantile: float | None = None) -> SamplingOptions:
    """The run's sampling defaults (``config.sampler``, ``sample_steps``, ``guidance_scale``,
    ``x0_clip``, ``x0_clip_quantile``) with every override that is not None put in their place."""
    options = SamplingOptions(
        sampler=config.sampler if sampler is None else sampler,
        steps=config.sample_steps if steps is None else steps,
        guidance=config.guidance_scale if guidance is None else float(guidance),
        x0_clip=config.x0_clip if x0_clip is None else x0_clip,
        x0_clip_quantile=config.x0_clip_quantile if x0_clip_quantile is None else float(x0_clip_quantile),
    )
    check_sampling(**options.to_dict())
    return options
