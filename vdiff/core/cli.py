"""Shared command-line pieces of vdiff's commands: one-line errors and the sampling options."""
from __future__ import annotations

import argparse
from typing import Any

from clipkit.cli import OneLineParser

from .options import SAMPLERS, X0_CLIPS

__all__ = ["OneLineParser", "add_sampling_arguments", "sampling_overrides"]


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """--sampler, --steps, --guidance, --x0-clip, --x0-clip-quantile; each defaults to the run's config."""
    group = parser.add_argument_group("sampling (each defaults to the run config's value)")
    group.add_argument("--sampler", choices=SAMPLERS, default=None)
    group.add_argument("--steps", type=int, default=None, help="sampler steps (ddpm always takes all)")
    group.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (1 = none)")
    group.add_argument("--x0-clip", choices=X0_CLIPS, default=None,
                       help="each step's predicted x0: none, static (clip to [-1, 1]) or dynamic (Imagen's thresholding)")
    group.add_argument("--x0-clip-quantile", type=float, default=None, help="the quantile p of --x0-clip dynamic")


def sampling_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The sampling arguments of ``add_sampling_arguments`` as ``SamplingOptions.override`` values."""
    return {"sampler": args.sampler, "steps": args.steps, "guidance": args.guidance,
            "x0_clip": args.x0_clip, "x0_clip_quantile": args.x0_clip_quantile}
