"""Sampling from a trained run: ``load_pipeline(run_dir)`` and the ``python -m vdiff.generate`` command.

Generating needs only the run's ``weights/`` folder (safetensors + config.json), no optimizer state.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch

from .cli import OneLineParser, add_sampling_arguments, sampling_overrides
from .config import Config
from .env import autocast_for, autocast_precision
from .sampling import sampling_options


class Pipeline:
    """Callable text -> uint8 clips [N, F, H, W, 3] for one trained model."""

    def __init__(self, model: torch.nn.Module, config: Config, text_encoder, device: torch.device,
                 diffusion=None) -> None:
        """``diffusion`` (a ``vdiff.diffusion.Diffusion``) replaces ``Diffusion(config)``, e.g. one on
        another project's explicit beta schedule."""
        from .diffusion import Diffusion

        self.model = model.eval()
        self.config = config
        self.text_encoder = text_encoder
        self.device = device
        self.diffusion = Diffusion(config) if diffusion is None else diffusion
        # The denoiser runs under bf16 autocast where the GPU has native bf16 (the precision the run
        # trained in there); the sampler's arithmetic stays fp32 (guided_output casts back).
        self.precision = autocast_precision(device)
        self.source: Path | None = None  # the folder load_pipeline read (its log and eval.json feed the model card)
        self.weights_kind = "ema"

    def save_pretrained(self, folder: str | Path, **kwargs) -> Path:
        """A self-contained folder: config, weights, model card, sample GIF (see ``vdiff.hub``)."""
        from .hub import save_pretrained
        return save_pretrained(self, folder, **kwargs)

    def push_to_hub(self, repo_id: str, *, private: bool = True, token: str | None = None, **kwargs) -> str:
        """Upload the ``save_pretrained`` folder to a Hub model repo (private by default); returns its URL."""
        from .hub import push_to_hub
        return push_to_hub(self, repo_id, private=private, token=token, **kwargs)

    def reprompt(self, clips: np.ndarray, prompts: str | list[str], **kwargs):
        """SDEdit a uint8 clip [F, H, W, 3] (or [N, ...]) towards new prompts (``vdiff.edit.reprompt``)."""
        from .edit import reprompt
        return reprompt(self, clips, prompts, **kwargs)

    def regenerate(self, clips: np.ndarray, prompts: str | list[str], **kwargs):
        """Regenerate a box and/or frames of a clip, keeping the rest (``vdiff.edit.regenerate``)."""
        from .edit import regenerate
        return regenerate(self, clips, prompts, **kwargs)

    def extend(self, clips: np.ndarray, prompts: str | list[str], num: int, **kwargs):
        """Append ``num`` frames that continue a clip (``vdiff.edit.extend``)."""
        from .edit import extend
        return extend(self, clips, prompts, num, **kwargs)

    @torch.no_grad()
    def __call__(self, prompts: str | list[str], *, num: int = 1, seed: int = 0, steps: int | None = None,
                 sampler: str | None = None, guidance: float | None = None, x0_clip: str | None = None,
                 x0_clip_quantile: float | None = None, return_x_start: bool = False,
                 x_start_every_step: bool = False,
                 progress: bool = True) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """``num`` clips per prompt, prompt-major.

        ``steps``, ``sampler``, ``guidance``, ``x0_clip`` and ``x0_clip_quantile`` left at None take
        the run config's values (``vdiff.sampling.sampling_options``).

        With ``return_x_start`` also the final predicted x0 of each clip ``[N, F, H, W, 3]``, or with
        ``x_start_every_step`` as well, the prediction after every sampler step ``[steps, N, F, H, W, 3]``.
        """
        from .video import to_uint8

        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
            raise ValueError("give at least one non-empty prompt")
        if num < 1:
            raise ValueError(f"num must be >= 1, got {num}")
        options = sampling_options(self.config, sampler=sampler, steps=steps, guidance=guidance,
                                   x0_clip=x0_clip, x0_clip_quantile=x0_clip_quantile)
        texts = [p for p in prompts for _ in range(num)]
        emb = self.text_encoder.encode(texts)
        cross = self.config.cross_attention
        with autocast_for(self.device, self.precision):
            out = self.diffusion.sample(
                self.model, emb.pooled.to(self.device),
                text_tokens=emb.tokens.to(self.device) if cross else None,
                text_mask=emb.mask.to(self.device) if cross else None,
                **options.sample_kwargs(), generator=seed, progress=progress, return_x_start=return_x_start or x_start_every_step,
                x_start_every_step=x_start_every_step)
        if x_start_every_step:
            clips, per_step = out
            return _rgb(to_uint8(clips)), np.stack([_rgb(to_uint8(x.clamp(-1, 1))) for x in per_step])
        if return_x_start:
            clips, x_start = out
            return _rgb(to_uint8(clips)), _rgb(to_uint8(x_start.clamp(-1, 1)))
        return _rgb(to_uint8(out))


def _rgb(clips: np.ndarray) -> np.ndarray:
    return np.repeat(clips, 3, axis=-1) if clips.shape[-1] == 1 else clips


def load_pipeline(run_dir: str | Path, use_ema: bool = True, device: str | torch.device | None = None) -> Pipeline:
    """The EMA (or online) model of a run folder, a folder written by ``save_pretrained`` or a Hub repo
    id (downloaded once into the Hugging Face cache), ready to sample; ValueError (one line) otherwise."""
    from .checkpoint import load_weights
    from .hub import locate
    from .text import load_text_encoder
    from .unet import UNet3D

    found = locate(run_dir, use_ema)
    config, file = found.config, found.weights
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    encoder = load_text_encoder(config.text_encoder, device=device, max_length=config.max_text_len)
    model = UNet3D(config, encoder.dim)
    state = load_weights(file)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"weights {file} do not fit the run's config: {str(e).splitlines()[0]}") from None
    pipe = Pipeline(model.to(device), config, encoder, device)
    pipe.source, pipe.weights_kind = found.folder, found.weights_kind  # save_pretrained reads the run's log
    return pipe


def slug(text: str, max_len: int = 60) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return s[:max_len] or "prompt"


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m vdiff.generate", description="Generate GIFs from text with a trained run.")
    p.add_argument("--run", required=True, help="run folder written by python -m vdiff.train")
    p.add_argument("--prompt", action="append", default=[], help="a text prompt (repeat for several)")
    p.add_argument("--out", required=True, help="folder for the GIFs and the contact sheet")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num", type=int, default=1, help="samples per prompt")
    p.add_argument("--no-ema", action="store_true", help="use the online weights instead of the EMA")
    p.add_argument("--x-start", action="store_true", help="also save each sample's final predicted x0 as a GIF")
    p.add_argument("--fps", type=float, default=8)
    add_sampling_arguments(p)
    return p


def generate_files(args: argparse.Namespace) -> list[Path]:
    from .video import contact_sheet, save_gif

    if not args.prompt:
        raise ValueError("give at least one --prompt")
    pipe = load_pipeline(args.run, use_ema=not args.no_ema)
    result = pipe(args.prompt, num=args.num, seed=args.seed, return_x_start=args.x_start, **sampling_overrides(args))
    clips, x_start = result if args.x_start else (result, None)
    out = Path(args.out)
    written, captions = [], []
    for i, clip in enumerate(clips):
        prompt, k = args.prompt[i // args.num], i % args.num
        name = f"{i // args.num:02d}_{slug(prompt)}_{k}"
        written.append(save_gif(clip, out / f"{name}.gif", fps=args.fps))
        captions.append(prompt if args.num == 1 else f"{prompt} (#{k})")
        if x_start is not None:
            written.append(save_gif(x_start[i], out / f"{name}_x_start.gif", fps=args.fps))
    written.append(contact_sheet(clips, captions, out / "contact_sheet.png"))
    return written


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        written = generate_files(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
