"""``python -m vdiff.edit``: edit any GIF with a trained run: re-prompt it, regenerate a region or frames, or extend it.

    python -m vdiff.edit --run RUN --input IN.gif --out OUT.gif --prompt "digit 3 moving left"
    python -m vdiff.edit --run RUN --input IN.gif --out OUT.gif --prompt P --box 0 0 16 32 --frames 2-5
    python -m vdiff.edit --run RUN --input IN.gif --out OUT.gif --extend 16
    python -m vdiff.edit --run RUN --input IN.gif --out OUT.gif --prompt "digit 3 moving left" --keep-first
    python -m vdiff.edit --run RUN --input A.gif --out OUT.gif --interpolate B.gif 6

From Python: ``pipe.reprompt(clip, prompt)``, ``pipe.regenerate(clip, prompt, box=..., frames=...)``,
``pipe.extend(clip, prompt, 16)`` on a ``vdiff.load_pipeline`` pipeline, or the functions of
``vdiff.pipelines.edit``, whose names are here too (as before the layers). Importing this module loads
no torch: the editor's widget imports it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .core.cli import OneLineParser, add_sampling_arguments, sampling_overrides
from .core.errors import EditCancelled
from .pipelines.clips import check_box, parse_frames, read_clip, result_durations, sidecar_caption, write_clip
from .pipelines.edit import DEFAULT_STRENGTH, GIVEN_METHODS, default_strength, extend, interpolate, regenerate, reprompt

__all__ = ["DEFAULT_STRENGTH", "EditCancelled", "default_strength", "reprompt", "regenerate", "extend", "interpolate",
           "parse_frames", "check_box", "result_durations", "read_clip", "write_clip", "build_parser", "edit_file",
           "main"]


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m vdiff.edit", description="Edit a GIF with a trained run: re-prompt it, "
                      "regenerate a region or frames, extend it, or fill in between it and another GIF.")
    p.add_argument("--run", required=True, help="run folder (or a save_pretrained folder)")
    p.add_argument("--input", required=True, help="the GIF to edit (never modified)")
    p.add_argument("--out", required=True, help="where to write the edited GIF")
    p.add_argument("--prompt", help="the new prompt (default: the caption in IN.txt beside the input)")
    p.add_argument("--strength", type=float, help=f"how far to noise the clip, in (0, 1]; default "
                   f"{DEFAULT_STRENGTH} for a re-prompt, 1 where --box/--frames keep the rest")
    p.add_argument("--box", type=int, nargs=4, metavar=("L", "T", "R", "B"), help="region to regenerate, in pixels")
    p.add_argument("--frames", metavar="SPEC", help="frames to regenerate, like 0-3,6")
    p.add_argument("--extend", type=int, metavar="N", help="append N new frames")
    p.add_argument("--keep-first", action="store_true", help="re-prompt: keep the first frame, re-animate the rest")
    p.add_argument("--interpolate", nargs=2, metavar=("LAST.gif", "N"),
                   help="N new frames from the end of the input to the start of LAST.gif, all three joined")
    p.add_argument("--method", choices=GIVEN_METHODS, default=None,
                   help="how kept frames steer the new ones: model (a run trained with given frames; its default) "
                        "or replace")
    p.add_argument("--seed", type=int, default=0)
    add_sampling_arguments(p)
    return p


def edit_file(args: argparse.Namespace) -> Path:
    """Run the edit the arguments describe; ValueError (one line) for any bad input."""
    from .pipelines.loading import load_pipeline  # torch loads here, when an edit runs

    src, out = Path(args.input), Path(args.out)
    if args.strength is not None and not 0.0 < args.strength <= 1.0:
        raise ValueError(f"--strength must be in (0, 1], got {args.strength}")
    if args.extend is not None and (args.extend < 1 or args.box or args.frames or args.strength is not None):
        raise ValueError("--extend N needs N >= 1 and goes without --box, --frames and --strength")
    if args.keep_first and (args.box or args.frames or args.extend is not None):
        raise ValueError("--keep-first is a re-prompt: it goes without --box, --frames and --extend")
    last, between = _interpolation(args)
    if out.suffix.lower() != ".gif":
        raise ValueError(f"--out must end in .gif, got {out.name!r}")
    if out.resolve() == src.resolve():
        raise ValueError("--out must differ from --input: the input is never modified")
    frames, durations, loop = read_clip(src)
    if args.box:
        check_box(args.box, frames.shape[2], frames.shape[1])
    prompt = args.prompt or sidecar_caption(src)
    if not prompt:
        raise ValueError(f"give --prompt (there is no caption file {src.with_suffix('.txt').name} beside the input)")
    if args.prompt is None and args.box is None and args.frames is None and args.extend is None and last is None:
        raise ValueError("nothing to do: give --prompt, --box/--frames, --extend or --interpolate")
    pipe = load_pipeline(args.run)
    common = dict(seed=args.seed, method=args.method, **sampling_overrides(args))
    if last is not None:
        after, after_durations, _ = read_clip(last)
        result = interpolate(pipe, frames, after, between, prompts=prompt, **common)
        return write_clip(result, durations + [durations[-1]] * between + after_durations, out, loop)
    if args.extend is not None:
        result = extend(pipe, frames, prompt, args.extend, **common)
    elif args.keep_first:
        result = reprompt(pipe, frames, prompt, strength=args.strength, keep_first=True, **common)
    else:  # strength None: default_strength's rule
        result = regenerate(pipe, frames, prompt, box=args.box, frames=args.frames, strength=args.strength, **common)
    durations = result_durations(durations, len(frames), len(result), extended=args.extend is not None)
    return write_clip(result, durations, out, loop)


def _interpolation(args: argparse.Namespace) -> tuple[Path | None, int]:
    """--interpolate LAST.gif N as (path, N), checked; (None, 0) without it."""
    if args.interpolate is None:
        return None, 0
    last, count = Path(args.interpolate[0]), args.interpolate[1]
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"--interpolate LAST.gif N needs a whole number N >= 1, got {count!r}")
    if args.box or args.frames or args.extend is not None or args.strength is not None or args.keep_first:
        raise ValueError("--interpolate goes without --box, --frames, --extend, --strength and --keep-first")
    if not last.is_file():
        raise ValueError(f"--interpolate: no file {last}")
    return last, int(count)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        path = edit_file(args)
    except ValueError as e:  # GifEditorError is one too
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
