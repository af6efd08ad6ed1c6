"""The one sampling loop: generation from noise, and every edit (start part-way, keep known pixels).

``sample`` serves all of them:

* **generation**: from pure noise over the sampler's timesteps (DDPM, DDIM or DPM-Solver++, each
  handed a clipped x0 "sample" prediction, see ``vdiff.diffusion.thresholding``).
* **re-prompt** (SDEdit, Meng et al. 2022): ``known`` is noised to timestep ``strength * T`` with the
  forward process and denoised from there; ``strength`` 1 starts from pure noise exactly as generation
  does (same seed, same noise, same clip).
* **regenerate** a region or frames (``keep`` mask): at every step the known pixels of the model's
  x0 prediction are replaced by the original, so the scheduler steps the known region along its own
  forward-noised path; after the step the known region of x_{t-1} is re-imposed as
  q(x_{t-1} | x_known) with the clip's noise. Plain replacement lets the two parts disagree at
  the border; two remedies:
    - ``resample`` u > 1: RePaint's resampling (Lugmayr et al. 2022): after a step t -> t', noise
      x_{t'} back to t with q(x_t | x_{t'}) and redo the step, u times in all, so the generated part
      is denoised again while seeing a harmonised known part;
    - ``recon_weight`` w > 0: reconstruction guidance (Ho et al. 2022, Video Diffusion Models,
      eq. 7): the unknown part of x0 moves by -w * sqrt(alpha_bar_t) / 2 * grad_x ||x_known - x0(x)||^2
      over the known pixels, a gradient through the model that pulls the generated part towards
      what makes the known part come out right. It costs a backward pass per step.
* **extend** uses the same mask on the frame axis (known = the last frames of the clip so far).

``callback(i, n, x0)`` sees every step's predicted x0 (a preview, or the trajectory), ``cancel`` stops
the loop between steps (``EditCancelled``).
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

import torch
from diffusers.utils.torch_utils import randn_tensor
from torch import nn
from tqdm.auto import tqdm

from ..core.errors import EditCancelled
from ..core.options import SamplingOptions
from .guidance import Condition, guided_denoiser
from .process import Diffusion
from .thresholding import clip_x0

Callback = Callable[[int, int, torch.Tensor], None]


def start_index(num_steps: int, strength: float) -> int:
    """Index into the sampler's timesteps where an edit of ``strength`` starts (diffusers' img2img rule).

    ``int(num_steps * strength)`` steps are run: strength 1 runs all of them from pure noise, a
    strength too small for one step runs none (the input comes back).
    """
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    return num_steps - min(int(num_steps * strength), num_steps)


def as_generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    """A generator from an int seed (a CPU one: the same seed then gives the same noise on any device)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator("cpu").manual_seed(generator)
    raise ValueError(f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}")


def _renoise(diffusion: Diffusion, x: torch.Tensor, t_from: int, t_to: int, generator) -> torch.Tensor:
    """A sample of q(x_{t_to} | x_{t_from}) for t_to > t_from: the forward process between two timesteps."""
    ab = diffusion.alphas_cumprod
    ab_to = float(ab[t_to])
    ab_from = float(ab[t_from]) if t_from >= 0 else 1.0
    ratio = ab_to / ab_from
    z = randn_tensor(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return ratio ** 0.5 * x + (1 - ratio) ** 0.5 * z


def _check(cond: Condition, known: torch.Tensor | None, keep: torch.Tensor | None, strength: float,
           resample: int, recon_weight: float) -> None:
    if known is not None and (known.ndim != 5 or known.shape[0] != len(cond)):
        raise ValueError(f"known must be [B, C, F, H, W] with one row per condition ({len(cond)}); "
                         f"got {tuple(known.shape)}")
    if known is None and (keep is not None or strength != 1.0):
        raise ValueError("keep and strength < 1 need the clip to edit (known)")
    if resample < 1:
        raise ValueError(f"resample must be >= 1, got {resample}")
    if recon_weight < 0:
        raise ValueError(f"recon_weight must be >= 0, got {recon_weight}")


@torch.no_grad()
def sample(
    diffusion: Diffusion,
    model: nn.Module,
    cond: Condition,
    options: SamplingOptions,
    *,
    known: torch.Tensor | None = None,
    keep: torch.Tensor | None = None,
    strength: float = 1.0,
    generator: torch.Generator | int | None = None,
    eta: float = 0.0,
    resample: int = 1,
    recon_weight: float = 0.0,
    callback: Callback | None = None,
    cancel: threading.Event | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> torch.Tensor:
    """One clip per row of ``cond``: [B, C, F, H, W] in [-1, 1], the model's shape.

    Without ``known``: generation from noise. With ``known`` [B, C, F, H, W] in [-1, 1]: an edit of it
    starting at ``strength``; ``keep`` [B or 1, 1, F, H, W] is 1 where the original is kept and 0 where
    it is generated (None: nothing kept, a pure re-prompt). ``options`` says the sampler, its steps,
    the guidance and the x0 clipping; ``generator`` may be an int seed. See the module docstring for
    ``resample``, ``recon_weight``, ``callback`` and ``cancel``; ``eta`` > 0 makes DDIM stochastic (1 = DDPM's
    noise; 0, the default, is deterministic DDIM).
    """
    _check(cond, known, keep, strength, resample, recon_weight)
    scheduler = diffusion.make_scheduler(options.sampler, options.steps)
    timesteps = [int(t) for t in scheduler.timesteps]
    begin = start_index(len(timesteps), strength)
    generator = as_generator(generator)
    param = next(model.parameters(), None)
    device = param.device if param is not None else cond.text.device
    cond = cond.to(device)
    b, cfg = len(cond), diffusion.config
    shape = (b, cfg.channels, cfg.num_frames, cfg.image_size, cfg.image_size) if known is None else known.shape
    known = None if known is None else known.to(device).float()
    keep = None if keep is None else keep.to(device).float()
    # Drawn first and the same way for generation and edits: strength 1 then starts from the same noise.
    noise = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
    if begin >= len(timesteps):
        return known.clamp(-1, 1)

    def noised(t: int) -> torch.Tensor:
        return diffusion.add_noise(known, noise, torch.full((b,), t, dtype=torch.long, device=device))

    x = noise * scheduler.init_noise_sigma if begin == 0 else noised(timesteps[begin])
    if keep is not None:
        x = keep * noised(timesteps[begin]) + (1 - keep) * x
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(begin)  # DPM++ counts its steps; it must know it starts part-way
    step_kwargs: dict[str, Any] = {"generator": generator}
    if options.sampler == "ddim":
        step_kwargs["eta"] = eta
    denoise = guided_denoiser(model, cond, options.guidance)

    def predict(x: torch.Tensor, t: int, estimate: torch.Tensor | None) -> torch.Tensor:
        """x0 at step t; ``estimate`` is a self-conditioned model's previous x0 (None otherwise)."""
        t_batch = torch.full((b,), t, dtype=torch.long, device=device)
        if keep is None or recon_weight == 0:
            x0 = diffusion.predict_x_start(x, t_batch, denoise(x, t_batch, estimate))
        else:
            with torch.enable_grad():
                xg = x.detach().requires_grad_(True)
                x0 = diffusion.predict_x_start(xg, t_batch, denoise(xg, t_batch, estimate))
                err = ((known - x0) * keep).square().sum()
                (grad,) = torch.autograd.grad(err, xg)
            alpha = float(diffusion.alphas_cumprod[t]) ** 0.5
            x0 = x0.detach() - recon_weight * alpha / 2 * grad * (1 - keep)
        x0 = clip_x0(x0, options.x0_clip, options.x0_clip_quantile)
        return x0 if keep is None else keep * known + (1 - keep) * x0

    total = len(timesteps) - begin
    was_training = model.training
    model.eval()
    x0 = x
    estimate = None  # what a self-conditioned model is handed: its previous step's x0
    try:
        bar = tqdm(range(begin, len(timesteps)), desc=desc or f"sampling ({options.sampler})",
                   disable=not progress, leave=False)
        for i in bar:
            t = timesteps[i]
            prev = timesteps[i + 1] if i + 1 < len(timesteps) else None
            rounds = resample if (prev is not None and keep is not None) else 1
            snapshot = copy.deepcopy(scheduler) if rounds > 1 else None
            for r in range(rounds):
                if r:
                    scheduler = copy.deepcopy(snapshot)  # multistep samplers keep history: redo from the same state
                x0 = predict(x, t, estimate)
                if cfg.self_condition:
                    estimate = x0
                x = scheduler.step(x0, t, x, **step_kwargs).prev_sample
                if keep is not None and prev is not None:
                    x = keep * noised(prev) + (1 - keep) * x
                if r < rounds - 1:
                    x = _renoise(diffusion, x, prev, t, generator)
            if callback is not None:
                callback(i - begin + 1, total, x0)
            if cancel is not None and cancel.is_set():
                raise EditCancelled("cancelled")
    finally:
        model.train(was_training)
    # Every sampler's last step lands on its x0 prediction (DDPM at t=0, DDIM with alpha_bar=1, DPM++ with
    # sigma=0), so return that x0 itself: diffusers' DDIM steps t -> t - T // steps, which with "trailing"
    # spacing can end at t=0 instead of x0 (e.g. T=1000, 15 steps). x0_clip="none" may leave it outside
    # [-1, 1]: the returned sample is clamped to the data range.
    return x0.clamp(-1, 1)
