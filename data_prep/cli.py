"""``python -m data_prep SOURCE ...``: one sub-command per source, plus validate and preview.

A user mistake (bad path, bad value, failed download) prints one line and exits 2; a run that wrote
no pair at all also exits 2. Broken inputs inside a batch are skipped and counted, not fatal.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from clipkit.cli import OneLineParser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text) if text.replace(".", "", 1).isdigit() else -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _clip_args(p: argparse.ArgumentParser, size: int | None = 64, frames: int | None = 16) -> None:
    p.add_argument("--size", type=_positive_int, default=size, help=f"output width = height in px (default {size})")
    p.add_argument("--frames", type=_positive_int, default=frames, help=f"frames per clip (default {frames})")
    p.add_argument("--fps", type=_positive_float, default=8.0, help="frame rate of the written GIFs (default 8)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="redo pairs that an earlier run already wrote")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _video_window(p: argparse.ArgumentParser) -> None:
    p.add_argument("--start", type=_non_negative_float, default=0.0, help="window start in seconds (default 0)")
    p.add_argument("--duration", type=_positive_float, default=None,
                   help="window length in seconds (default frames / fps); frames are spread over it")
    p.add_argument("--workers", type=_positive_int, default=None, help="parallel conversions (default: CPU count)")


def _folder_source_args(p: argparse.ArgumentParser, what: str) -> None:
    """--src, --out and the caption options of a source that reads a folder of the user's files."""
    p.add_argument("--src", required=True, help=f"folder of {what} (searched recursively)")
    p.add_argument("--out", required=True, help="output folder (not --src)")
    p.add_argument("--caption", default="auto", choices=("auto", "txt", "filename", "model", "none"),
                   help="auto: sibling .txt, else the cleaned file name; model: BLIP (downloads it); "
                        "none: empty captions (default auto)")
    p.add_argument("--caption-model", default=None,
                   help="captioning model id or folder (default Salesforce/blip-image-captioning-base)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m data_prep",
                                     description="Datasets -> a folder of <name>.gif + <name>.txt pairs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("moving_mnist", help="moving digits: labeled (offline default) or the canonical file")
    p.add_argument("--out", required=True, help="output folder")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--labeled", action="store_true", help="generate clips with true captions (default)")
    mode.add_argument("--canonical", action="store_true", help="the standard mnist_test_seq.npy (no labels)")
    p.add_argument("--num", type=_positive_int, default=1000, help="number of clips (default 1000)")
    _clip_args(p, size=None, frames=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-digits", type=int, choices=(1, 2), default=1)
    p.add_argument("--speed", type=_positive_float, default=None,
                   help="pixels per frame, fractions allowed; the same value for sets of other --frames keeps "
                        "their motion alike (default: 80%% of the fastest path that fits, at most size/8)")
    p.add_argument("--walls", choices=("fit", "bounce", "leave"), default="fit",
                   help="fit: one straight path inside the frame, and a --speed x --frames that cannot fit is "
                        "an error; bounce: reflect off the walls; leave: slide out (default fit)")
    p.add_argument("--no-bounce", dest="walls", action="store_const", const="leave", help=argparse.SUPPRESS)
    p.add_argument("--whole-pixels", action="store_true",
                   help="round positions to whole pixels, as clips were made before sub-pixel motion "
                        "(reproduces those bytes; below 1 px a frame digits pause)")
    p.add_argument("--holdout", default=None,
                   help="digit:direction combos marked split=holdout, e.g. 0:up,3:right, or 'default' "
                        "(0:up, 3:right, 6:down, 9:left)")
    p.add_argument("--digits", default="auto", choices=("auto", "mnist", "sklearn"),
                   help="glyphs: auto (MNIST if on disk, else scikit-learn's bundled digits), "
                        "mnist (downloads it), sklearn")
    p.add_argument("--canonical-path", default=None, help="a local mnist_test_seq.npy")
    p.add_argument("--download", action="store_true", help="download the canonical file (~800 MB, md5 checked)")
    p.add_argument("--caption-text", default=None, help="caption of every canonical clip "
                                                        "(default 'two handwritten digits moving')")
    _common(p)

    p = sub.add_parser("msrvtt", help="MSR-VTT videos with their captions")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--source", default="hf", help="hf (Hugging Face Hub), kaggle (your credentials) or a folder")
    p.add_argument("--limit", type=_positive_int, default=None, help="at most this many videos")
    p.add_argument("--all-captions", action="store_true", help="one pair per caption (default: one per clip)")
    p.add_argument("--annotations", default=None, help="read captions from this file only")
    p.add_argument("--hf-repo", default=None, help="Hub dataset repo (default friedrichor/MSR-VTT)")
    p.add_argument("--kaggle-dataset", default=None, help="Kaggle dataset handle")
    _clip_args(p)
    _video_window(p)
    _common(p)

    p = sub.add_parser("gif_folder", help="a folder of GIFs (crawled or own), filtered and de-duplicated")
    _folder_source_args(p, "GIFs")
    p.add_argument("--min-size", type=_positive_int, default=32, help="drop GIFs smaller on either side (default 32)")
    p.add_argument("--max-delay-spread", type=_non_negative_float, default=0.5,
                   help="drop GIFs whose (max - min) / median frame delay exceeds this, unless every delay is "
                        "a multiple of the shortest (merged identical frames) (default 0.5)")
    p.add_argument("--dedup-bits", type=int, default=8,
                   help="perceptual-hash distance (bits of 64, mean of 3 frames) that counts as a copy (default 8)")
    p.add_argument("--limit", type=_positive_int, default=None, help="read at most this many files")
    p.add_argument("--giphy", default=None, metavar="QUERY",
                   help="first download GIFs for QUERY from GIPHY into --src (needs $GIPHY_API_KEY)")
    p.add_argument("--giphy-limit", type=_positive_int, default=25)
    _clip_args(p)
    _common(p)

    p = sub.add_parser("videos", help="your own mp4/mov/webm/avi files")
    _folder_source_args(p, "videos")
    p.add_argument("--limit", type=_positive_int, default=None)
    _clip_args(p)
    _video_window(p)
    _common(p)

    p = sub.add_parser("validate", help="check a pairs folder and print a summary table")
    p.add_argument("folder")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("preview", help="write a contact sheet PNG of a pairs folder")
    p.add_argument("folder")
    p.add_argument("--out", default=None, help="PNG path (default FOLDER/preview.png)")
    p.add_argument("--num", type=_positive_int, default=16)
    p.add_argument("--frames", type=_positive_int, default=4)
    p.add_argument("--seed", type=int, default=None, help="a random choice of pairs instead of the first ones")
    return parser


def _run(args: argparse.Namespace) -> int:
    from .pairs import summary_line

    progress = not getattr(args, "quiet", False)
    if args.command == "validate":
        from .validate import format_summary, validate
        result = validate(args.folder)
        print(json.dumps(result, indent=2) if args.json else format_summary(result))
        return 1 if result["problems"] else 0
    if args.command == "preview":
        from .preview import preview
        print(preview(args.folder, args.out, num=args.num, frames=args.frames, seed=args.seed))
        return 0
    if args.command == "moving_mnist":
        from .moving_mnist import CANONICAL_CAPTION, prepare_moving_mnist
        report = prepare_moving_mnist(
            args.out, canonical=args.canonical, num=args.num, size=args.size, frames=args.frames, seed=args.seed,
            num_digits=args.num_digits, speed=args.speed, walls=args.walls, subpixel=not args.whole_pixels,
            holdout=args.holdout, digits=args.digits, canonical_path=args.canonical_path, download=args.download,
            caption=args.caption_text or CANONICAL_CAPTION, fps=args.fps, overwrite=args.overwrite, progress=progress)
    elif args.command == "msrvtt":
        from .msrvtt import HF_REPO, KAGGLE_DATASET, prepare_msrvtt
        report = prepare_msrvtt(
            args.out, source=args.source, limit=args.limit, size=args.size, frames=args.frames, fps=args.fps,
            start=args.start, duration=args.duration, all_captions=args.all_captions, annotations=args.annotations,
            hf_repo=args.hf_repo or HF_REPO, kaggle_dataset=args.kaggle_dataset or KAGGLE_DATASET,
            workers=args.workers, overwrite=args.overwrite, progress=progress)
    elif args.command == "gif_folder":
        from .gif_folder import prepare_gif_folder
        report = prepare_gif_folder(
            args.src, args.out, caption=args.caption, min_size=args.min_size, size=args.size, frames=args.frames,
            fps=args.fps, max_delay_spread=args.max_delay_spread, dedup_bits=args.dedup_bits, limit=args.limit,
            caption_model=args.caption_model, giphy_query=args.giphy, giphy_limit=args.giphy_limit,
            overwrite=args.overwrite, progress=progress)
    else:
        from .videos import prepare_videos
        report = prepare_videos(
            args.src, args.out, caption=args.caption, size=args.size, frames=args.frames, fps=args.fps,
            start=args.start, duration=args.duration, limit=args.limit, workers=args.workers,
            caption_model=args.caption_model, overwrite=args.overwrite, progress=progress)
    print(summary_line(report))
    if report["kept"] + report["already_present"] == 0:
        print(f"error: no pair was written (see {report['out']}/prepare_report.json)", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .pairs import UserError
    try:
        return _run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad values caught by the functions (e.g. --speed, --holdout)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: pairs written so far are complete; re-run to continue", file=sys.stderr)
        return 130
