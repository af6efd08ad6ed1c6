"""Sampling options: the one name, the one default and the one check of every setting a run samples with.

A run's config holds its defaults (``Config.sampling``); every caller that samples from a run (the
pipeline, ``vdiff.evaluate``, the trainer's sample grids, ``vdiff.bench``, the notebooks) starts from
them and replaces only what it is given (``SamplingOptions.override``: None keeps the run's value).
Torch-free, so configs and command lines use it without loading the model stack.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

SAMPLERS = ("ddim", "ddpm", "dpm++")
# What happens to each step's predicted x0 before the scheduler step:
#   "none"    left as the model predicts it;
#   "static"  clipped to [-1, 1] (the data range);
#   "dynamic" Imagen's dynamic thresholding (Saharia et al. 2022): s = max(quantile(|x0|, p), 1),
#             x0 = clamp(x0, -s, s) / s, per sample, p = ``x0_clip_quantile``.
X0_CLIPS = ("none", "static", "dynamic")


@dataclass(frozen=True)
class SamplingOptions:
    """How clips are sampled; an impossible value raises ValueError naming it.

    ``sampler``: one of ``SAMPLERS`` ("ddpm" always runs every training timestep); ``steps``: sampler
    steps; ``guidance``: classifier-free guidance scale (1 = the conditional model alone, 0 = the
    unconditional one); ``x0_clip`` / ``x0_clip_quantile``: see ``X0_CLIPS``.
    """

    sampler: str = "ddim"
    steps: int = 20
    guidance: float = 2.0
    x0_clip: str = "dynamic"
    x0_clip_quantile: float = 0.995

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose one of: {', '.join(SAMPLERS)}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {self.steps!r}")
        if isinstance(self.guidance, bool) or not isinstance(self.guidance, (int, float)) or self.guidance < 0:
            raise ValueError(f"guidance must be a number >= 0, got {self.guidance!r}")
        if self.x0_clip not in X0_CLIPS:
            raise ValueError(f"unknown x0_clip {self.x0_clip!r}; choose one of: {', '.join(X0_CLIPS)}")
        if not isinstance(self.x0_clip_quantile, (int, float)) or not 0.0 < self.x0_clip_quantile <= 1.0:
            raise ValueError(f"x0_clip_quantile must be in (0, 1], got {self.x0_clip_quantile!r}")
        object.__setattr__(self, "guidance", float(self.guidance))  # JSON may hand an int
        object.__setattr__(self, "x0_clip_quantile", float(self.x0_clip_quantile))

    def override(self, **values: Any) -> "SamplingOptions":
        """These options with every given value that is not None put in its place (checked again)."""
        unknown = sorted(set(values) - set(self.to_dict()))
        if unknown:
            raise ValueError(f"unknown sampling option(s): {', '.join(unknown)}")
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
