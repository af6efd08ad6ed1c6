"""``python -m vdiff.evaluate``: judge a trained run on labeled moving digits.

    python -m vdiff.evaluate --run RUN_DIR --data DIR [--num-per-prompt N] [--steps 20] --out FILE.json
        [--continuation [--given N]] [--long FRAMES] [--interpolation] [--reprompt]

The evaluator is ``vdiff.evaluation.evaluate``; its names (and the metrics'), are here too, as before the layers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .core.cli import OneLineParser, add_sampling_arguments, sampling_overrides
from .evaluation.evaluate import (Prompt, evaluate, load_real, match_shape, noise_clips, read_prompts, score_clips,
                                  summary_table)
from .evaluation.metrics import clip_features, flicker, frechet_distance, i3d_features, temporal_consistency
from .evaluation.report import write_report

__all__ = ["Prompt", "evaluate", "load_real", "match_shape", "noise_clips", "read_prompts", "score_clips",
           "summary_table", "clip_features", "flicker", "frechet_distance", "i3d_features", "temporal_consistency",
           "write_report", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m vdiff.evaluate", description="Judge a trained run on labeled moving digits.")
    p.add_argument("--run", required=True, help="run folder written by vdiff.train")
    p.add_argument("--data", required=True, help="labeled pairs folder (manifest rows with digits/directions/split)")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--num-per-prompt", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-prompts", type=int, default=None, help="evaluate at most this many prompts (spread out)")
    p.add_argument("--no-ema", action="store_true", help="judge the online weights instead of the EMA")
    p.add_argument("--device", default=None)
    p.add_argument("--i3d", default=None, help="TorchScript I3D (i3d_torchscript.pt) to add FVD; not bundled")
    p.add_argument("--judge", default=None, help="judge weights (default: vdiff/assets/judge.safetensors)")
    g = p.add_argument_group("continuing and filling in clips (each off by default; real clips whose path fits)")
    g.add_argument("--continuation", action="store_true",
                   help="continue the first --given frames of real clips to their length; judge the new frames")
    g.add_argument("--given", type=int, default=None, help="frames given to --continuation (default: the run's window)")
    g.add_argument("--long", type=int, default=None, metavar="FRAMES",
                   help="also generate clips of FRAMES frames (longer than the window) and judge every frame")
    g.add_argument("--interpolation", action="store_true",
                   help="give the first and last frame of real clips' first window; judge the frames between")
    g.add_argument("--reprompt", action="store_true",
                   help="re-prompt real clips to the opposite direction, whole and keeping the first frame")
    add_sampling_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not Path(args.run).is_dir():
            raise ValueError(f"run folder not found: {args.run}")
        if not Path(args.data).is_dir():
            raise ValueError(f"data folder not found: {args.data}")
        if args.given is not None and not args.continuation:
            raise ValueError("--given goes with --continuation")
        report = evaluate(args.run, args.data, num_per_prompt=args.num_per_prompt, **sampling_overrides(args),
                          seed=args.seed, max_prompts=args.max_prompts, use_ema=not args.no_ema,
                          device=args.device, i3d_path=args.i3d, judge_path=args.judge,
                          continuation=args.continuation, given=args.given, long_frames=args.long,
                          interpolation=args.interpolation, reprompt=args.reprompt)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_report(report, args.out)
    print(summary_table(report))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
