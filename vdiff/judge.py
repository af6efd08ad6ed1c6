"""``python -m vdiff.judge train|check``: train the digit/direction judge, or check saved weights.

    python -m vdiff.judge train [--out PATH] [--clips 3000] [--epochs 4] [--seed 0]
    python -m vdiff.judge check [--weights PATH]      # held-out accuracy of saved weights

The judge is ``vdiff.evaluation.judge``; its names are here too, as before the layers.
"""
from __future__ import annotations

import argparse
import json
import sys

from .evaluation.judge import (DEFAULT_WEIGHTS, MIN_ACCURACY, NO_MOTION, DigitJudge, Judgement, centroid_track,
                               clip_direction, direction_from_track, heldout_accuracy, judge_clips, judge_metadata,
                               labeled_clips, load_judge, read_judge, save_judge, train_judge)

__all__ = ["DEFAULT_WEIGHTS", "MIN_ACCURACY", "NO_MOTION", "DigitJudge", "Judgement", "centroid_track",
           "clip_direction", "direction_from_track", "heldout_accuracy", "judge_clips", "judge_metadata",
           "labeled_clips", "load_judge", "read_judge", "save_judge", "train_judge", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vdiff.judge", description="The judge: a digit classifier on frames "
                                     "and motion direction from the centroid track.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the judge on real labeled clips and save it")
    t.add_argument("--out", default=str(DEFAULT_WEIGHTS))
    t.add_argument("--clips", type=int, default=3000)
    t.add_argument("--epochs", type=int, default=4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--digits", choices=("sklearn", "mnist", "auto"), default="sklearn", help="glyph source")
    c = sub.add_parser("check", help="held-out accuracy of saved judge weights")
    c.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    c.add_argument("--clips", type=int, default=300)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "train":
            if args.clips < 10 or args.epochs < 1:
                raise ValueError("--clips must be at least 10 and --epochs at least 1")
            report = train_judge(args.out, num_clips=args.clips, epochs=args.epochs, seed=args.seed, source=args.digits)
        else:
            model, meta = read_judge(args.weights)
            settings = json.loads(meta.get("train_settings", "{}"))
            report = {"weights": args.weights, **heldout_accuracy(
                model, num=args.clips, seed=settings.get("seed", 0), source=settings.get("source", "sklearn"))}
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
