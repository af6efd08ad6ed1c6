"""``Pipeline``: one trained model, its text encoder and its diffusion process, ready to use.

Text in, uint8 clips [N, F, H, W, 3] out (``pipe(prompts)``); the edits of ``vdiff.pipelines.edit``
(``pipe.reprompt``, ``pipe.regenerate``, ``pipe.extend``) and sharing (``pipe.save_pretrained``,
``pipe.push_to_hub``) are methods too. ``vdiff.load_pipeline`` builds one from a run.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..core.config import Config, window_span
from ..core.env import autocast_for, autocast_precision
from ..core.media import as_rgb, to_uint8
from ..core.options import SamplingOptions
from ..diffusion.guidance import Condition
from ..diffusion.process import Diffusion
from ..diffusion.sampler import sample
from . import edit, hub, keyframes
from .clips import StepPreviews

class Pipeline:
    """Callable text -> uint8 clips [N, F, H, W, 3] for one trained model."""

    def __init__(self, model: torch.nn.Module, config: Config, text_encoder, device: torch.device,
                 diffusion: Diffusion | None = None) -> None:
        """``diffusion`` replaces ``Diffusion(config)``, e.g. one on another project's explicit beta schedule."""
        self.model = model.eval()
        self.config = config
        self.text_encoder = text_encoder
        self.device = device
        self.diffusion = Diffusion(config) if diffusion is None else diffusion
        # The denoiser runs under bf16 autocast where the GPU has native bf16 (the precision the run
        # trained in there); the sampler's arithmetic stays fp32 (the guided denoiser casts back).
        self.precision = autocast_precision(device)
        self.source: Path | None = None  # the folder load_pipeline read (its log and eval.json feed the model card)
        self.weights_kind = "ema"

    # --- the model side -------------------------------------------------------------------------
    def condition(self, prompts: list[str]) -> Condition:
        """The prompts encoded as the model is conditioned (tokens only for a cross-attention model)."""
        emb = self.text_encoder.encode(prompts)
        cross = self.config.cross_attention
        return Condition(emb.pooled.to(self.device), emb.tokens.to(self.device) if cross else None,
                         emb.mask.to(self.device) if cross else None)

    def sample(self, prompts: list[str], options: SamplingOptions, *, seed: int = 0,
               known: torch.Tensor | None = None, keep: torch.Tensor | None = None, strength: float = 1.0,
               given_mask: torch.Tensor | None = None, resample: int = 1, recon_weight: float = 0.0,
               callback: Callable | None = None, cancel: threading.Event | None = None, progress: bool = True,
               desc: str | None = None, frame_stride: int = 1) -> torch.Tensor:
        """One sampler run (``vdiff.diffusion.sampler.sample``) for one prompt per clip: [N, C, F, S, S] in [-1, 1].

        ``given_mask`` [N, 1, F, 1, 1]: the frames of ``known`` a frame-conditioned model is handed as given.
        ``frame_stride``: how many frames apart the frames made are (a stride the run trained with,
        ``config.frame_strides``)."""
        if frame_stride not in self.config.frame_strides:
            raise ValueError(f"this run was trained at frame strides {list(self.config.frame_strides)}, "
                             f"not {frame_stride!r}")
        cond = self.condition(prompts)  # outside autocast: the encoder's embeddings stay fp32
        if given_mask is not None:
            cond.given, cond.given_mask = known.to(self.device).float(), given_mask.to(self.device)
        if self.config.stride_conditioned:
            cond.frame_stride = torch.full((len(prompts),), frame_stride, dtype=torch.long, device=self.device)
        with autocast_for(self.device, self.precision):
            return sample(self.diffusion, self.model, cond, options, known=known, keep=keep,
                          strength=strength, generator=seed, resample=resample, recon_weight=recon_weight,
                          callback=callback, cancel=cancel, progress=progress, desc=desc)

    @torch.no_grad()
    def __call__(self, prompts: str | list[str], *, num: int = 1, seed: int = 0, steps: int | None = None,
                 sampler: str | None = None, guidance: float | None = None, x0_clip: str | None = None,
                 x0_clip_quantile: float | None = None, num_frames: int | None = None,
                 keyframe_stride: int | None = None, return_x_start: bool = False, x_start_every_step: bool = False,
                 progress: bool = True) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """``num`` clips per prompt, prompt-major.

        ``steps``, ``sampler``, ``guidance``, ``x0_clip`` and ``x0_clip_quantile`` left at None take
        the run config's values (``Config.sampling``). ``num_frames`` longer than the model's window
        (``config.num_frames``) is made window by window: for a run trained at several frame strides, a
        window of keyframes ``keyframe_stride`` frames apart (None: the largest trained stride that fits)
        and the frames between them (``vdiff.pipelines.keyframes``), then, like a run at one stride (or
        ``keyframe_stride=1``), continuing the clip (``extend``).

        With ``return_x_start`` also the final predicted x0 of each clip ``[N, F, H, W, 3]``, or with
        ``x_start_every_step`` as well, the prediction after every sampler step ``[steps, N, F, H, W, 3]``
        (of the first window: the keyframes where there are any).
        """
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
            raise ValueError("give at least one non-empty prompt")
        if num < 1:
            raise ValueError(f"num must be >= 1, got {num}")
        options = self.config.sampling.override(sampler=sampler, steps=steps, guidance=guidance, x0_clip=x0_clip,
                                                x0_clip_quantile=x0_clip_quantile)
        window = self.config.num_frames
        if num_frames is not None and (isinstance(num_frames, bool) or not isinstance(num_frames, int)
                                       or num_frames < window):
            raise ValueError(f"num_frames must be a whole number >= the model's {window} frames, got {num_frames!r}")
        stride = keyframes.keyframe_stride(self.config, num_frames) if keyframe_stride is None else keyframe_stride
        if stride != 1 and (num_frames is None or window_span(window, stride) > num_frames):
            raise ValueError(f"keyframe_stride {stride}: {window} keyframes {stride} apart need "
                             f"num_frames >= {window_span(window, stride)}")
        steps_seen = StepPreviews(collect=return_x_start or x_start_every_step)
        texts = [p for p in prompts for _ in range(num)]
        out = self.sample(texts, options, seed=seed, callback=steps_seen, progress=progress, frame_stride=stride)
        clips = as_rgb(to_uint8(out))
        next_seed = seed + 1  # the keyframes' fill-in and the extension each take their own run of seeds
        if stride > 1:
            clips = keyframes.fill_between(self, clips, texts, stride, seed=next_seed, progress=progress,
                                           **options.to_dict())
            next_seed += clips.shape[1]  # fill-in makes a frame or more a run: fewer runs than frames
        if num_frames is not None and num_frames > clips.shape[1]:
            clips = edit.extend(self, clips, texts, num_frames - clips.shape[1], seed=next_seed, progress=progress,
                                **options.to_dict())
        if x_start_every_step:
            return clips, steps_seen.stacked()
        if return_x_start:
            return clips, steps_seen.frames[-1]
        return clips

    # --- edits (vdiff.pipelines.edit) ------------------------------------------------------------
    def reprompt(self, clips: np.ndarray, prompts: str | list[str], **kwargs):
        """SDEdit a uint8 clip [F, H, W, 3] (or [N, ...]) towards new prompts (``vdiff.edit.reprompt``)."""
        return edit.reprompt(self, clips, prompts, **kwargs)

    def regenerate(self, clips: np.ndarray, prompts: str | list[str], **kwargs):
        """Regenerate a box and/or frames of a clip, keeping the rest (``vdiff.edit.regenerate``)."""
        return edit.regenerate(self, clips, prompts, **kwargs)

    def extend(self, clips: np.ndarray, prompts: str | list[str], num: int, **kwargs):
        """Append ``num`` frames that continue a clip (``vdiff.edit.extend``)."""
        return edit.extend(self, clips, prompts, num, **kwargs)

    def interpolate(self, first: np.ndarray, last: np.ndarray, num: int, **kwargs):
        """``num`` frames from the end of ``first`` to the start of ``last``, all three joined (``vdiff.edit.interpolate``)."""
        return edit.interpolate(self, first, last, num, **kwargs)

    # --- sharing (vdiff.pipelines.hub) -------------------------------------------------------------
    def save_pretrained(self, folder: str | Path, **kwargs) -> Path:
        """A self-contained folder: config, weights, model card, sample GIF (see ``vdiff.hub``)."""
        return hub.save_pretrained(self, folder, **kwargs)

    def push_to_hub(self, repo_id: str, *, private: bool = True, token: str | None = None, **kwargs) -> str:
        """Upload the ``save_pretrained`` folder to a Hub model repo (private by default); returns its URL."""
        return hub.push_to_hub(self, repo_id, private=private, token=token, **kwargs)
