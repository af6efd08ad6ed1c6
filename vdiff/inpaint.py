"""The sampling loop behind ``vdiff.edit``: start part-way down the schedule and keep known pixels.

One loop serves the three edits:

* **re-prompt** (SDEdit, Meng et al. 2022): the clip is noised to timestep ``strength * T`` with
  the forward process and denoised from there with a new prompt; ``strength`` 1 starts from pure
  noise exactly as ``Diffusion.sample`` does (same seed, same noise, same clip).
* **regenerate** a region or frames (``keep`` mask): at every step the known pixels of the model's
  x0 prediction are replaced by the original, so every scheduler (DDPM, DDIM, DPM++; all take an
  x0 "sample" prediction here, see ``vdiff.diffusion``) steps the known region along its own
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

from .diffusion import Diffusion, _as_generator
from .edit import EditCancelled


def start_index(num_steps: int, strength: float) -> int:
    """Index into the sampler's timesteps where an edit of ``strength`` starts (diffusers' img2img rule).

    ``int(num_steps * strength)`` steps are run: strength 1 runs all of them from pure noise, a
    strength too small for one step runs none (the input comes back).
    """
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    return num_steps - min(int(num_steps * strength), num_steps)


def _renoise(diffusion: Diffusion, x: torch.Tensor, t_from: int, t_to: int, generator) -> torch.Tensor:
    """A sample of q(x_{t_to} | x_{t_from}) for t_to > t_from: the forward process between two timesteps."""
    ab = diffusion.alphas_cumprod
    ab_to = float(ab[t_to])
    ab_from = float(ab[t_from]) if t_from >= 0 else 1.0
    ratio = ab_to / ab_from
    z = randn_tensor(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return ratio ** 0.5 * x + (1 - ratio) ** 0.5 * z


@torch.no_grad()
def masked_sample(
    diffusion: Diffusion,
    model: nn.Module,
    text_emb: torch.Tensor,
    known: torch.Tensor,
    *,
    keep: torch.Tensor | None = None,
    strength: float = 1.0,
    text_tokens: torch.Tensor | None = None,
    text_mask: torch.Tensor | None = None,
    sampler: str = "ddim",
    steps: int = 20,
    guidance_scale: float = 2.0,
    clip_x0: Callable[[torch.Tensor], torch.Tensor] = lambda x: x.clamp(-1, 1),
    generator: torch.Generator | int | None = None,
    resample: int = 1,
    recon_weight: float = 0.0,
    progress: bool = True,
    desc: str = "editing",
    callback: Callable[[int, int, torch.Tensor], None] | None = None,
    cancel: threading.Event | None = None,
) -> torch.Tensor:
    """Edit ``known`` [B, C, F, H, W] in [-1, 1]; returns the edited clips in [-1, 1].

    ``keep`` [B or 1, 1, F, H, W] is 1 where the original is kept and 0 where it is generated
    (None: nothing kept, a pure re-prompt). ``clip_x0`` is the run's x0 clipping. ``callback(i,
    n, x0)`` gets every step's predicted x0 (a UI preview); ``cancel`` set raises EditCancelled.
    """
    if known.ndim != 5 or text_emb.ndim != 2 or text_emb.shape[0] != known.shape[0]:
        raise ValueError(f"known must be [B, C, F, H, W] and text_emb [B, D]; got {tuple(known.shape)}, "
                         f"{tuple(text_emb.shape)}")
    if resample < 1:
        raise ValueError(f"resample must be >= 1, got {resample}")
    if recon_weight < 0:
        raise ValueError(f"recon_weight must be >= 0, got {recon_weight}")
    scheduler = diffusion.make_scheduler(sampler, steps)
    timesteps = [int(t) for t in scheduler.timesteps]
    begin = start_index(len(timesteps), strength)
    generator = _as_generator(generator)
    param = next(model.parameters(), None)
    device = param.device if param is not None else known.device
    known = known.to(device).float()
    keep = None if keep is None else keep.to(device).float()
    text_emb = text_emb.to(device)
    text_tokens = None if text_tokens is None else text_tokens.to(device)
    text_mask = None if text_mask is None else text_mask.to(device)
    b = known.shape[0]
    # Drawn first and in the same way as Diffusion.sample: strength 1 then starts from its noise.
    noise = randn_tensor(known.shape, generator=generator, device=device, dtype=torch.float32)
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
    if sampler == "ddim":
        step_kwargs["eta"] = 0.0

    def predict(x: torch.Tensor, t: int, estimate: torch.Tensor | None) -> torch.Tensor:
        """x0 at step t; ``estimate`` is a self-conditioned model's previous x0 (None otherwise)."""
        t_batch = torch.full((b,), t, dtype=torch.long, device=device)
        if keep is None or recon_weight == 0:
            out = diffusion.guided_output(model, x, t_batch, text_emb, guidance_scale, text_tokens, text_mask,
                                          estimate)
            x0 = diffusion.predict_x_start(x, t_batch, out)
        else:
            with torch.enable_grad():
                xg = x.detach().requires_grad_(True)
                out = diffusion.guided_output(model, xg, t_batch, text_emb, guidance_scale, text_tokens, text_mask,
                                              estimate)
                x0 = diffusion.predict_x_start(xg, t_batch, out)
                err = ((known - x0) * keep).square().sum()
                (grad,) = torch.autograd.grad(err, xg)
            alpha = float(diffusion.alphas_cumprod[t]) ** 0.5
            x0 = x0.detach() - recon_weight * alpha / 2 * grad * (1 - keep)
        x0 = clip_x0(x0)
        return x0 if keep is None else keep * known + (1 - keep) * x0

    total = len(timesteps) - begin
    was_training = model.training
    model.eval()
    x0 = x
    estimate = None  # what a self-conditioned model is handed: its previous step's x0
    try:
        bar = tqdm(range(begin, len(timesteps)), desc=desc, disable=not progress, leave=False)
        for i in bar:
            t = timesteps[i]
            prev = timesteps[i + 1] if i + 1 < len(timesteps) else None
            rounds = resample if (prev is not None and keep is not None) else 1
            snapshot = copy.deepcopy(scheduler) if rounds > 1 else None
            for r in range(rounds):
                if r:
                    scheduler = copy.deepcopy(snapshot)  # multistep samplers keep history: redo from the same state
                x0 = predict(x, t, estimate)
                if diffusion.config.self_condition:
                    estimate = x0
                x = scheduler.step(x0, t, x, **step_kwargs).prev_sample
                if keep is not None and prev is not None:
                    x = keep * noised(prev) + (1 - keep) * x
                if r < rounds - 1:
                    x = _renoise(diffusion, x, prev, t, generator)
            if callback is not None:
                callback(i - begin + 1, total, x0)
            if cancel is not None and cancel.is_set():
                raise EditCancelled("edit cancelled")
    finally:
        model.train(was_training)
    # Like Diffusion.sample: the last step lands on the x0 prediction; return that x0 itself.
    return x0.clamp(-1, 1)
