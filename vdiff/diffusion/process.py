"""The diffusion process: noise schedule, forward process, training loss, and the samplers' schedulers.

The schedule, the forward process (``add_noise``) and the sampler updates come from diffusers'
schedulers (DDPM for training; DDPM, DDIM and DPM-Solver++ for sampling, built by ``make_scheduler``).
What is ours here is the loss: noise loss (L2 or L1 on epsilon or v) + a perceptual loss on the
predicted x0, weighted per sample by alpha_bar_t (see ``training_losses``). The sampling loop is
``vdiff.diffusion.sampler``'s; it hands the schedulers a clipped x0 as a ``prediction_type="sample"``
output, so the schedulers' own ``clip_sample`` and ``thresholding`` stay off here.
"""
from __future__ import annotations

from typing import Any

import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from torch import nn

from ..core.config import Config
from ..core.options import SAMPLERS

# diffusers' name for the cosine schedule, whose betas it caps at 0.999 (max_beta).
BETA_SCHEDULES = {"cosine": "squaredcos_cap_v2", "linear": "linear"}

def _per_timestep(values: torch.Tensor, t: torch.Tensor, ndim: int) -> torch.Tensor:
    """values[t] shaped to broadcast over a [B, ...] tensor with ``ndim`` dims."""
    return values.to(t.device)[t].float().view(-1, *([1] * (ndim - 1)))


def sample_timesteps(n: int, num_timesteps: int, shift: float = 1.0,
                     generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` training timesteps in [0, num_timesteps): uniform, or shifted toward noise.

    u ~ U(0, 1) is mapped to shift * u / (1 + (shift - 1) * u), the timestep shift of SD3 (Esser et
    al. 2024) that video models (Open-Sora, Wan) use to train the noisy end more: with shift 3 a
    quarter of the steps land in the noisiest tenth instead of a tenth. The caption-dependent part
    of a clip (where the digit starts, which way it goes) is decided only there.
    """
    u = torch.rand(n, generator=generator, device=device)
    if shift != 1.0:
        u = shift * u / (1 + (shift - 1) * u)
    return (u * num_timesteps).long().clamp(max=num_timesteps - 1)


class Diffusion:
    """Noise schedule, forward process, loss and samplers for one Config."""

    def __init__(self, config: Config, betas: torch.Tensor | None = None) -> None:
        """``betas`` [T] replaces ``config.beta_schedule`` with an explicit schedule (another project's)."""
        self.config = config
        self.num_timesteps = config.timesteps
        self.prediction_type = config.prediction_type
        self.scheduler_config = self._scheduler_config(config)
        if betas is not None:
            if betas.shape != (config.timesteps,):
                raise ValueError(f"betas must have shape [{config.timesteps}], got {tuple(betas.shape)}")
            self.scheduler_config["trained_betas"] = betas.double().cpu().numpy()
        # The training scheduler: forward process (add_noise, get_velocity) and the schedule itself.
        self.scheduler = DDPMScheduler(**self.scheduler_config, prediction_type=config.prediction_type)
        self.betas = self.scheduler.betas.float()
        self.alphas_cumprod = self.scheduler.alphas_cumprod.float()
        self._perceptual: nn.Module | None = None  # built on first use; never part of the model

    @staticmethod
    def _scheduler_config(config: Config) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "num_train_timesteps": config.timesteps,
            "beta_schedule": BETA_SCHEDULES[config.beta_schedule],
            # x0 clipping is ours (clip_x0): the schedulers' clip_sample and thresholding stay off.
            "clip_sample": False,
            "thresholding": False,
        }
        if config.beta_schedule == "linear":
            # DDPM's 1e-4..0.02 is tuned for T=1000; scale it (as improved-diffusion does) so a
            # short schedule (the smoke preset's T=100) still ends in almost pure noise.
            scale = 1000 / config.timesteps
            kwargs.update(beta_start=scale * 1e-4, beta_end=min(scale * 0.02, 0.999))
        return kwargs

    # --- forward process --------------------------------------------------------------------
    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """q(x_t | x_0): sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise."""
        return self.scheduler.add_noise(x0, noise, t)

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The v-prediction target sqrt(alpha_bar_t) noise - sqrt(1 - alpha_bar_t) x0."""
        return self.scheduler.get_velocity(x0, noise, t)

    def predict_x_start(self, x_t: torch.Tensor, t: torch.Tensor, model_output: torch.Tensor) -> torch.Tensor:
        """x0 implied by the model's epsilon or v prediction at x_t."""
        ab = _per_timestep(self.alphas_cumprod, t, x_t.ndim)
        if self.prediction_type == "epsilon":
            return (x_t - (1 - ab).sqrt() * model_output) / ab.sqrt()
        return ab.sqrt() * x_t - (1 - ab).sqrt() * model_output

    # --- training ---------------------------------------------------------------------------
    def min_snr_weight(self, t: torch.Tensor) -> torch.Tensor:
        """Min-SNR-gamma loss weights (Hang et al. 2023) for timesteps ``t``.

        The x0-space weight min(SNR, gamma) expressed for the model's target: divided by SNR for
        epsilon and by SNR + 1 for v (the same rule as diffusers' ``--snr_gamma``). It stops the
        easy low-noise steps from dominating the gradient; for v it also shrinks the weight of the
        noisiest steps (x0 weight SNR instead of SNR + 1), see docs/diffusion.md, so
        ``config.snr_weight_floor`` keeps at least that weight everywhere, and
        ``config.snr_cap_only`` caps v's own x0 weight instead: min(SNR + 1, gamma), which leaves
        every step with SNR + 1 <= gamma at the plain loss (weight 1) and only lowers the easy ones.
        """
        ab = self.alphas_cumprod.to(t.device)[t]
        snr = ab / (1 - ab)
        plain = snr if self.prediction_type == "epsilon" else snr + 1  # the target's own x0 weight
        capped = (plain if self.config.snr_cap_only else snr).clamp(max=float(self.config.snr_gamma))
        return (capped / plain).clamp(min=self.config.snr_weight_floor)

    @property
    def perceptual(self) -> nn.Module | None:
        """The VGG16-BN perceptual loss, built on first use; None when its weight is 0."""
        if self.config.perceptual_weight <= 0:
            return None
        if self._perceptual is None:
            from ..models.perceptual import PerceptualLoss
            self._perceptual = PerceptualLoss(pretrained=self.config.perceptual_pretrained)
        return self._perceptual

    def training_losses(
        self,
        model: nn.Module,
        x0: torch.Tensor,
        text_emb: torch.Tensor,
        drop_mask: torch.Tensor | None = None,
        text_tokens: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        *,
        t: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        self_cond: torch.Tensor | None = None,
        given_mask: torch.Tensor | None = None,
        frame_stride: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Noise loss + perceptual_weight * perceptual loss for a batch of clean clips in [-1, 1].

        ``t`` and ``noise`` default to ``sample_timesteps`` and Gaussian noise (from the global RNG).
        The perceptual term is weighted per sample by alpha_bar_t: the x0 error implied by an
        epsilon error grows like sqrt((1 - alpha_bar) / alpha_bar), so at large t the predicted
        x0 is a blur whose (huge) VGG distance would drown the noise loss; times alpha_bar it
        stays bounded and counts where x0 can actually be sharp (small t).

        With ``config.self_condition``, the rows where ``self_cond`` [B] (bool; default: a fair coin
        each from the global RNG) is True first get the model's own x0 estimate, made without
        gradients, as their ``x_self_cond``; the other rows get zeros (Chen et al. 2022, "Analog Bits"),
        so the model learns both to start and to refine.

        With ``config.frame_conditioning``, ``given_mask`` [B, 1, F, 1, 1] (1 where a frame is given) hands
        the model those frames of ``x0`` clean, beside the noisy clip, and the noise loss counts only the
        frames that are not given (RaMViD, Höppe et al. 2022); rows with no frame given train plain
        text-to-video.

        ``frame_stride`` [B] (long): with ``config.frame_strides`` other than (1,), how many frames apart each
        clip's frames were taken (the model is told; None: 1).
        """
        if x0.ndim != 5:
            raise ValueError(f"x0 must be [B, C, F, H, W], got shape {tuple(x0.shape)}")
        b = x0.shape[0]
        if t is None:
            t = sample_timesteps(b, self.num_timesteps, self.config.timestep_shift, device=x0.device)
        if noise is None:
            noise = torch.randn_like(x0)
        x_t = self.add_noise(x0, noise, t)
        # Only a model with the option is handed x_self_cond or given frames (wrapped reference models take none).
        extra = {}
        if given_mask is not None and self.config.frame_conditioning:
            extra.update(given=x0, given_mask=given_mask.to(x0.dtype))
        if frame_stride is not None and self.config.stride_conditioned:
            extra["frame_stride"] = frame_stride
        if self.config.self_condition:
            if self_cond is None:
                self_cond = torch.rand(b, device=x0.device) < 0.5
            extra["x_self_cond"] = self._self_estimate(model, x_t, t, text_emb, drop_mask, text_tokens, text_mask,
                                                       self_cond.bool().to(x0.device), extra)
        output = model(x_t, t, text_emb, drop_mask=drop_mask, text_tokens=text_tokens, text_mask=text_mask, **extra)
        output = output.float()
        target = noise if self.prediction_type == "epsilon" else self.velocity(x0, noise, t)
        err = output - target.float()
        err = err.square() if self.config.loss_type == "l2" else err.abs()
        if "given_mask" in extra:  # the mean over the frames to make; the given ones are the input
            counted = (1.0 - extra["given_mask"].float()).expand_as(err)
            per_sample = (err * counted).sum(dim=(1, 2, 3, 4)) / counted.sum(dim=(1, 2, 3, 4)).clamp(min=1.0)
        else:
            per_sample = err.mean(dim=(1, 2, 3, 4))
        if self.config.snr_gamma is not None:
            per_sample = per_sample * self.min_snr_weight(t)
        noise_loss = per_sample.mean()

        perceptual = self.perceptual
        if perceptual is None:
            perceptual_loss = torch.zeros((), device=x0.device)
            loss = noise_loss
        else:
            x0_pred = self.predict_x_start(x_t.float(), t, output)
            per_sample_perc = perceptual(x0_pred, x0)
            if self.config.perceptual_weighting == "alpha_bar":
                per_sample_perc = per_sample_perc * self.alphas_cumprod.to(x0.device)[t]
            perceptual_loss = per_sample_perc.mean()
            loss = noise_loss + self.config.perceptual_weight * perceptual_loss
        return {"loss": loss, "noise_loss": noise_loss.detach(), "perceptual_loss": perceptual_loss.detach()}

    @torch.no_grad()
    def _self_estimate(self, model, x_t, t, text_emb, drop_mask, text_tokens, text_mask,
                       rows: torch.Tensor, given: dict[str, torch.Tensor]) -> torch.Tensor:
        """The model's x0 estimate (clipped to [-1, 1]) for ``rows`` of the batch, zeros elsewhere;
        only those rows go through the model, so self-conditioning half the batch costs half a forward.
        ``given``: the given frames' model inputs, when there are any."""
        estimate = torch.zeros_like(x_t)
        if not rows.any():
            return estimate
        pick = (lambda v: None if v is None else v[rows])
        out = model(x_t[rows], t[rows], text_emb[rows], drop_mask=pick(drop_mask), text_tokens=pick(text_tokens),
                    text_mask=pick(text_mask), **{k: v[rows] for k, v in given.items()}).float()
        estimate[rows] = self.predict_x_start(x_t[rows].float(), t[rows], out).clamp(-1.0, 1.0).to(x_t.dtype)
        return estimate

    # --- the samplers' schedulers ----------------------------------------------------------
    def make_scheduler(self, sampler: str = "ddim", steps: int = 20):
        """A diffusers scheduler for ``sampler`` with its timesteps set; spacing starts at T-1.

        "ddpm" is ancestral sampling over all T steps (``steps`` is ignored); "ddim" and "dpm++"
        use ``steps`` with "trailing" spacing ("leading" would never visit the noisiest step).
        """
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}")
        if sampler != "ddpm" and not 1 <= steps <= self.num_timesteps:
            raise ValueError(f"steps must be between 1 and {self.num_timesteps}, got {steps}")
        # The sampler hands the schedulers x0 itself, already clipped: prediction_type "sample".
        common = dict(self.scheduler_config, prediction_type="sample", timestep_spacing="trailing")
        if sampler == "ddpm":
            scheduler = DDPMScheduler(**common)
            scheduler.set_timesteps(self.num_timesteps)
        elif sampler == "ddim":
            scheduler = DDIMScheduler(**common, set_alpha_to_one=True)
            scheduler.set_timesteps(steps)
        else:
            common.pop("clip_sample")
            scheduler = DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2)
            scheduler.set_timesteps(steps)
        return scheduler
