"""``python -m vdiff.train``: train the text-to-video diffusion model on a folder of GIF + caption pairs.

    python -m vdiff.train --preset tiny --data DIR --out RUN_DIR [--max-steps N] [--max-minutes M] [--resume]
                          [--init-from RUN_OR_SAVED_FOLDER] [--data-cache DIR] [--run-cache DIR]

The trainer itself is ``vdiff.training.trainer`` (``vdiff.Trainer``); its names are here too, as before
the layers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .core.cli import OneLineParser
from .core.config import Config, get_preset
from .core.run_folder import RunFolder
from .training.steps import TrainingStopped
from .training.trainer import Callback, Trainer, run_config, train

__all__ = ["Callback", "Trainer", "TrainingStopped", "run_config", "train", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m vdiff.train", description="Train the text-to-video diffusion model "
                      "on a folder of <name>.gif + <name>.txt pairs. Resumes when RUN_DIR holds checkpoints.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", help="a named preset (smoke, tiny, moving_mnist, msrvtt, ...)")
    src.add_argument("--config", help="a config JSON file (default when resuming: the run folder's config.json)")
    p.add_argument("--data", required=True, help="folder of <name>.gif + <name>.txt pairs")
    p.add_argument("--out", required=True, help="run folder to write (or resume)")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--log-with", choices=("tensorboard", "wandb"), default=None,
                   help="also log to TensorBoard (RUN_DIR/tensorboard) or Weights & Biases")
    p.add_argument("--mixed-precision", choices=("auto", "no", "bf16", "fp16"), default=None,
                   help="autocast precision (default: the config's, auto: bf16 on GPUs of compute capability "
                        ">= 8.0 and on CPUs with native bf16, fp16 on older GPUs, else fp32)")
    p.add_argument("--resume", action="store_true",
                   help="require a checkpoint in RUN_DIR to resume from (without it: resume when there is one)")
    p.add_argument("--init-from", metavar="RUN_OR_SAVED_FOLDER", default=None,
                   help="start from a trained run's (or save_pretrained folder's) model and EMA weights with a fresh "
                        "optimizer and schedule (fine-tuning); without --preset/--config, with its config")
    p.add_argument("--data-cache", metavar="DIR", default=None,
                   help="copy --data under DIR first (checked complete, reused while unchanged) and train from the copy")
    p.add_argument("--run-cache", metavar="DIR", default=None,
                   help="train in a run folder under DIR and copy each checkpoint to --out as it is written "
                        "(resumes from the newer of the two)")
    return p


def run_settings(args: argparse.Namespace, out: Path) -> Config:
    """The config to train ``out`` with: --preset/--config, else the run's own, else --init-from's source's."""
    from .training.init_from import find_source

    started = bool(RunFolder(out).checkpoints())
    source = find_source(args.init_from, args.out) if args.init_from else None
    config = (get_preset(args.preset) if args.preset else Config.from_json(args.config) if args.config
              else run_config(out) or (source.config if source is not None else None))
    if config is None:
        raise ValueError(f"give --preset or --config: {args.out} holds no run to resume")
    if source is not None and started:
        print(f"{args.out} has checkpoints: resuming it (--init-from is used only when a run starts)")
    elif source is not None:
        config = config.replace(init_from=str(source.path.absolute()))
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    mirror = None
    try:
        data, out = Path(args.data), Path(args.out)
        if args.run_cache:
            from .apps.drive_sync import RunMirror
            from .apps.local_first import prepare_local_run

            out = prepare_local_run(args.out, args.run_cache)
            mirror = RunMirror(out, args.out)
        config = run_settings(args, out)
        if args.log_with is not None:
            config = config.replace(log_with=args.log_with)
        if args.mixed_precision is not None:
            config = config.replace(mixed_precision=args.mixed_precision)
        if args.max_steps is not None and args.max_steps < 1:
            raise ValueError(f"--max-steps must be >= 1, got {args.max_steps}")
        if args.data_cache:
            from .apps.local_first import cache_dataset

            data = cache_dataset(args.data, args.data_cache)
        run = train(config, data, out, max_steps=args.max_steps, max_minutes=args.max_minutes,
                    resume=True if args.resume else None, callbacks=[mirror] if mirror else ())
    except (ValueError, TrainingStopped) as e:  # a user error: 2; the run stopped on its own: 1
        if mirror is not None and isinstance(e, TrainingStopped):
            mirror.finish()  # the checkpoint saved on the way out goes to --out too
        print(f"error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1
    if mirror is not None and mirror.failing:
        print(f"error: the run trained, but copying it to {args.out} failed ({mirror.last_error})", file=sys.stderr)
        return 1
    print(f"run folder: {args.out if mirror else run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
