"""Command line: python -m gif_editor INPUT -o OUTPUT [options] [--ops FILE.json]

INPUT may be a folder: every GIF in it is edited into the OUTPUT folder (batch mode); a broken
file is skipped, counted and named, and the others are still written.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clipkit.cli import OneLineParser

from .errors import GifEditorError
from .io import load, save
from .ops import normalize
from .optimize import BACKENDS, DEFAULTS, size_note
from .watermark import POSITIONS

BATCH_SUFFIXES = (".gif",)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m gif_editor", description=__doc__.split("\n\n")[0],
                       epilog="Operations run in one fixed order whatever the option order: "
                              "trim, reverse, boomerang, crop, rotate, flips, resize, grayscale, brightness, "
                              "contrast, text, image watermark, speed, delay, optimize. Options override the same "
                              "operation in --ops.")
    p.add_argument("input", help="a GIF (or PNG/JPEG/WebP) file, or a folder of GIFs for batch mode")
    p.add_argument("-o", "--output", required=True, help="output .gif or .mp4 file, or a folder in batch mode")
    p.add_argument("--ops", metavar="FILE.json", help="a JSON list of operations, as the editor builds them")
    p.add_argument("--width", type=int, help="output width in px (50-1000)")
    p.add_argument("--height", type=int, help="output height in px (50-1000)")
    p.add_argument("--keep-aspect", action="store_true", help="derive the missing or second side from the aspect ratio")
    p.add_argument("--crop", type=float, nargs=4, metavar=("L", "R", "T", "B"), help="crop percent from each side")
    p.add_argument("--rotate", type=int, choices=(0, 90, 180, 270), help="rotate clockwise by degrees")
    p.add_argument("--flip-horizontal", action="store_true", help="mirror left-right")
    p.add_argument("--flip-vertical", action="store_true", help="mirror top-bottom")
    p.add_argument("--trim", type=int, nargs=2, metavar=("START", "END"), help="keep frames START..END-1")
    p.add_argument("--reverse", action="store_true", help="play backwards")
    p.add_argument("--boomerang", action="store_true", help="play forwards then backwards")
    p.add_argument("--grayscale", action="store_true")
    p.add_argument("--text", help="watermark text")
    p.add_argument("--font-size", type=int, default=20, help="10-50 (default 20)")
    p.add_argument("--opacity", type=int, default=200, help="watermark opacity 0-255 (default 200)")
    p.add_argument("--color", default="white", help="text colour, a name or #rrggbb (default white)")
    p.add_argument("--position", default="bottom-right", choices=POSITIONS + ("centre",))
    p.add_argument("--logo", help="image watermark file (PNG with alpha works best)")
    p.add_argument("--logo-opacity", type=int, default=128, help="0-255 (default 128)")
    p.add_argument("--logo-scale", type=float, default=0.2, help="logo width as a fraction of the frame width")
    p.add_argument("--brightness", type=float, help="0.1-3.0 (1 = unchanged)")
    p.add_argument("--contrast", type=float, help="0.1-3.0 (1 = unchanged)")
    p.add_argument("--speed", type=float, help="0.1-5.0 (2 = twice as fast)")
    p.add_argument("--delay", type=int, metavar="MS", help="set every frame's delay (20-60000 ms)")
    p.add_argument("--frame-delay", type=int, nargs=2, action="append", metavar=("FRAME", "MS"),
                   help="set one frame's delay (frame numbers from 0, after trim/reverse/boomerang); repeatable")
    p.add_argument("--optimize", action="store_true",
                   help=f"shrink the GIF: {DEFAULTS['colors']} colours, lossy {DEFAULTS['lossy']}, near-duplicate "
                        "frames dropped, frame differencing (gifsicle when installed, else Pillow)")
    p.add_argument("--colors", type=int, help="optimize to at most this many colours (2-256); implies --optimize")
    p.add_argument("--lossy", type=int, help="optimize's lossy level (0 = none, 200 = most); implies --optimize")
    p.add_argument("--duplicates", default=None, metavar="LEVELS",
                   help=f"drop frames within this mean difference of the last kept one (0 = identical only, "
                        f"'off' keeps all; default {DEFAULTS['duplicates']}); implies --optimize")
    p.add_argument("--encoder", choices=BACKENDS, default=None,
                   help="optimize's encoder: auto (gifsicle when installed), gifsicle or pillow")
    p.add_argument("--palette", choices=("octree", "mediancut"), default="octree",
                   help="GIF colour quantiser: octree (fast, default) or mediancut (slower, slightly truer)")
    return p


def ops_from_args(args: argparse.Namespace) -> list[dict]:
    """The operation list: --ops file first, options replacing the same operation."""
    ops: dict[str, dict] = {}
    if args.ops:
        try:
            loaded = json.loads(Path(args.ops).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GifEditorError(f"--ops file not found: {args.ops}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GifEditorError(f"--ops file {args.ops} is not valid JSON: {exc}") from None
        if not isinstance(loaded, list):
            raise GifEditorError(f"--ops file {args.ops} must hold a JSON list of operations")
        ops.update({item["op"]: item for item in normalize(loaded)})

    def put(op: str, **params) -> None:
        ops[op] = {"op": op, **params}

    if args.width is not None or args.height is not None:
        put("resize", width=args.width, height=args.height, keep_aspect=args.keep_aspect)
    if args.crop:
        put("crop", **dict(zip(("left", "right", "top", "bottom"), args.crop)))
    if args.rotate:
        put("rotate", degrees=args.rotate)
    if args.trim:
        put("trim", start=args.trim[0], end=args.trim[1])
    for flag in ("flip_horizontal", "flip_vertical", "reverse", "boomerang", "grayscale"):
        if getattr(args, flag):
            put(flag)
    if args.text:
        put("text", text=args.text, font_size=args.font_size, opacity=args.opacity, color=args.color,
            position=args.position)
    if args.logo:
        put("image_watermark", path=args.logo, opacity=args.logo_opacity, scale=args.logo_scale, position=args.position)
    for name in ("brightness", "contrast", "speed"):
        if getattr(args, name) is not None:
            put(name, factor=getattr(args, name))
    if args.delay is not None or args.frame_delay:
        put("delay", all=args.delay, frames={str(i): ms for i, ms in args.frame_delay or []})
    if args.optimize or any(v is not None for v in (args.colors, args.lossy, args.duplicates, args.encoder)):
        settings = {k: v for k, v in ops.get("optimize", {}).items() if k != "op"}
        for key, value in (("colors", args.colors), ("lossy", args.lossy), ("backend", args.encoder)):
            if value is not None:
                settings[key] = value
        if args.duplicates is not None:
            settings["duplicates"] = None if args.duplicates.lower() == "off" else _float(args.duplicates)
        put("optimize", **settings)
    return normalize(list(ops.values()))


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise GifEditorError(f"--duplicates must be a number of levels or 'off', got {text!r}") from None


def edit_file(src: Path, dst: Path, ops: list[dict], palette: str = "octree") -> str:
    """Edit one file; refuses to write over its own input. Returns a summary line."""
    from .ops import apply

    if dst.exists() and dst.resolve() == src.resolve():
        raise GifEditorError(f"output {dst} is the input file: choose another name (inputs are never modified)")
    if dst.suffix.lower() not in (".gif", ".mp4"):
        raise GifEditorError(f"output {dst.name} must end in .gif or .mp4")
    clip = load(src)
    out = apply(clip, ops)
    data = save(out, dst, palette=palette)
    line = f"{src.name}: {clip.describe()} -> {dst} ({out.describe()})"
    if "encoded_with" in out.info:
        line += f"; {size_note(out, len(data))}"
    return line


def run_batch(src_dir: Path, out_dir: Path, ops: list[dict], palette: str = "octree") -> int:
    files = sorted(p for p in src_dir.iterdir() if p.is_file() and p.suffix.lower() in BATCH_SUFFIXES)
    if not files:
        raise GifEditorError(f"no .gif files in {src_dir}")
    if out_dir.exists() and not out_dir.is_dir():
        raise GifEditorError(f"in batch mode the output must be a folder: {out_dir}")
    if out_dir.resolve() == src_dir.resolve():
        raise GifEditorError("in batch mode the output folder must differ from the input folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = 0, []
    for src in files:
        try:
            edit_file(src, out_dir / src.name, ops, palette)
            written += 1
        except (GifEditorError, OSError) as exc:
            skipped.append(f"{src.name}: {exc}")
    print(f"edited {written} of {len(files)} GIFs into {out_dir}; skipped {len(skipped)}")
    for reason in skipped:
        print(f"  skipped: {reason}")
    return 0 if written else 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        ops = ops_from_args(args)
        src, dst = Path(args.input), Path(args.output)
        if src.is_dir():
            return run_batch(src, dst, ops, args.palette)
        print(edit_file(src, dst, ops, args.palette))
        return 0
    except GifEditorError as exc:
        print(f"gif_editor: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output folder that cannot be written
        print(f"gif_editor: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
