"""``python -m vdiff.bench``: speed and memory of the 3D UNet, optionally against the reference model.

    python -m vdiff.bench [--baseline] [--preset bench | --config FILE] [--batch 4] [--device auto|cpu|cuda]
                          [--precision auto|fp32|bf16] [--compile] [--iters 5] [--warmup 2]

Prints one JSON object. Our numbers are top-level (``clips_per_s``, ``denoise_call_s``,
``params_m``, ``gflop_per_call``, ``achieved_tflops``, ``flop_utilisation``, ``peak_mem_mb``,
``sampling``); with ``--baseline`` the same keys for lucidrains' video-diffusion-pytorch 0.7.0
``Unet3D`` at the same size sit under ``baseline``, and ``ratios`` compares the two.

Caption embeddings are random vectors of the encoder's width (384 for minilm): the text encoder
runs once per caption, outside the denoiser loop, so it is not what is being measured. The
measuring is ``vdiff.evaluation.bench``'s; its names are here too, as before the layers.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

from .core.cli import OneLineParser
from .core.config import Config, preset_names
from .evaluation.bench import BASELINE, Baseline, Ours, measure, resolve_device, resolve_precision, run

__all__ = ["BASELINE", "Baseline", "Ours", "measure", "resolve_device", "resolve_precision", "run", "parse_args",
           "main"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m vdiff.bench", description="Speed and memory benchmark of the 3D UNet, "
                           "optionally against the reference model.")
    parser.add_argument("--baseline", action="store_true", help=f"also measure {BASELINE} at the same size")
    parser.add_argument("--preset", default="bench", help="config preset (default: bench)")
    parser.add_argument("--config", default=None, help="a config JSON file instead of --preset (a model option's cost)")
    parser.add_argument("--batch", type=int, default=4, help="clips per training step and denoiser call")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                        help="auto: bf16 autocast on GPUs with compute capability >= 8.0, else fp32")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model (not the baseline)")
    parser.add_argument("--iters", type=int, default=5, help="timed repetitions (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed repetitions first")
    parser.add_argument("--text-dim", type=int, default=384, help="caption embedding width (minilm: 384)")
    parser.add_argument("--sample-clips", type=int, default=4)
    parser.add_argument("--sample-steps", type=int, default=None, help="our sampler's steps (default: the preset's)")
    parser.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the preset's)")
    parser.add_argument("--baseline-sample-steps", type=int, default=3,
                        help="baseline sampler steps actually timed (then extrapolated to 1000)")
    parser.add_argument("--no-sample", action="store_true", help="skip the sampling comparison")
    parser.add_argument("--memory-only", action="store_true",
                        help="only parameters and activation memory (e.g. msrvtt at batch 8 on a CPU)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.config is not None:
        try:
            Config.from_json(args.config)
        except ValueError as e:
            parser.error(str(e))
    elif args.preset not in preset_names():
        parser.error(f"unknown preset {args.preset!r}; choose one of: {', '.join(preset_names())}")
    for name in ("batch", "iters", "text_dim", "sample_clips", "sample_steps", "baseline_sample_steps"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    try:
        args.device = resolve_device(args.device)
    except ValueError as e:
        parser.error(str(e))
    return args



def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        # Libraries print progress (e.g. torch.hub downloads) to stdout: keep stdout for the JSON.
        with contextlib.redirect_stdout(sys.stderr):
            result = run(args)
    except ValueError as e:
        sys.stderr.write(f"vdiff.bench: error: {e}\n")
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
