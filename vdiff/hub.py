"""``python -m vdiff.hub``: share a trained model as a self-contained folder or on the Hugging Face Hub.

    python -m vdiff.hub save --run runs/tiny --out tiny-pretrained
    python -m vdiff.hub push --run runs/tiny --repo me/vdiff-tiny [--public] [--token hf_...]

From Python: ``pipe.save_pretrained(folder)``, ``pipe.push_to_hub(repo_id)`` (``vdiff.pipelines.hub``,
whose names are here too, as before the layers).
"""
from __future__ import annotations

import argparse
import sys

from .core.cli import OneLineParser
from .pipelines.hub import eval_table, model_card, preset_of, push_to_hub, save_pretrained
from .pipelines.loading import Located, download, load_pipeline, locate
from .pipelines.saved_folder import (FILES, FORMAT, PIPELINE_FILE, WEIGHTS_FILE, check_repo_id,
                                     is_pretrained_folder, steps_trained)

__all__ = ["FILES", "FORMAT", "PIPELINE_FILE", "WEIGHTS_FILE", "Located", "check_repo_id", "download",
           "eval_table", "is_pretrained_folder", "locate", "model_card", "preset_of", "push_to_hub",
           "save_pretrained", "steps_trained", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m vdiff.hub", description="Save a trained run as a self-contained folder, "
                                                              "or push it to the Hugging Face Hub.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, helptext in (("save", "write the folder"), ("push", "upload to a Hub model repo")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--run", required=True, help="run folder, saved folder or Hub repo id")
        s.add_argument("--no-ema", action="store_true", help="the online weights instead of the EMA")
        s.add_argument("--prompt", action="append", default=None, help="sample GIF prompt (repeat; default: the config's)")
        s.add_argument("--steps", type=int, default=None, help="sampler steps for the sample GIF")
        if name == "save":
            s.add_argument("--out", required=True, help="folder to write (new, empty or an earlier save)")
        else:
            s.add_argument("--repo", required=True, help="Hub model repo id, owner/name")
            s.add_argument("--public", action="store_true", help="make a new repo public (default: private)")
            s.add_argument("--token", default=None, help="Hub token (default: huggingface_hub login or HF_TOKEN)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.steps is not None and args.steps < 1:
            raise ValueError("--steps must be at least 1")
        if args.command == "push":
            check_repo_id(args.repo)
        pipe = load_pipeline(args.run, use_ema=not args.no_ema)
        if args.command == "save":
            print(save_pretrained(pipe, args.out, prompts=args.prompt, steps=args.steps))
            return 0
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        print(push_to_hub(pipe, args.repo, private=not args.public, token=args.token, prompts=args.prompt,
                          steps=args.steps))
    except Exception as e:  # network, authentication, quota: not the user's input, so exit status 1
        print(f"error: upload to {args.repo} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
