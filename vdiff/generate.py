"""``python -m vdiff.generate``: GIFs from text prompts with a trained run.

    python -m vdiff.generate --run RUN_DIR --prompt TEXT [--prompt TEXT ...] --out DIR [--frames N [--keyframe-stride S]] [--steps N] [--seed 0] ...

The pipeline is ``vdiff.pipelines`` (``vdiff.load_pipeline``); its names are here too, as before the layers.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .core.cli import OneLineParser, add_sampling_arguments, sampling_overrides
from .core.media import contact_sheet, save_gif
from .pipelines.loading import load_pipeline
from .pipelines.pipeline import Pipeline

__all__ = ["Pipeline", "load_pipeline", "slug", "build_parser", "generate_files", "main"]


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
    p.add_argument("--frames", type=int, default=None, metavar="N",
                   help="frames per clip (default: the model's window; more: keyframes then the frames between "
                        "for a run trained at several frame strides, then continuing each clip window by window)")
    p.add_argument("--keyframe-stride", type=int, default=None, metavar="S",
                   help="with --frames: keyframes S frames apart (default: the largest trained stride that fits; "
                        "1: continue the first window instead)")
    p.add_argument("--no-ema", action="store_true", help="use the online weights instead of the EMA")
    p.add_argument("--x-start", action="store_true", help="also save each sample's final predicted x0 as a GIF")
    p.add_argument("--fps", type=float, default=8)
    add_sampling_arguments(p)
    return p


def generate_files(args: argparse.Namespace) -> list[Path]:
    if not args.prompt:
        raise ValueError("give at least one --prompt")
    pipe = load_pipeline(args.run, use_ema=not args.no_ema)
    result = pipe(args.prompt, num=args.num, seed=args.seed, num_frames=args.frames,
                  keyframe_stride=args.keyframe_stride, return_x_start=args.x_start, **sampling_overrides(args))
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
