"""vdiff's diffusion layer: the process (schedule, forward process, training loss), x0 clipping, guidance
and the one sampling loop. Imports ``vdiff.core`` and ``vdiff.models`` only.

``vdiff.diffusion`` was one module before the layers; the names it had are here still.
"""
from .guidance import Condition, guided_denoiser
from .process import BETA_SCHEDULES, Diffusion, sample_timesteps
from .sampler import as_generator, sample, start_index
from .thresholding import clip_x0, dynamic_threshold

__all__ = ["BETA_SCHEDULES", "Condition", "Diffusion", "as_generator", "clip_x0", "dynamic_threshold",
           "guided_denoiser", "sample", "sample_timesteps", "start_index"]
