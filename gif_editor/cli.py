"""Command line: python -m gif_editor INPUT -o OUTPUT [options] [--ops FILE.json]

INPUT is a GIF, a still image or a video (MP4, WebM, MOV, MKV), or a folder: every GIF and video
in it is edited into the OUTPUT folder (batch mode); a broken file is skipped, counted and named,
and the others are still written. `python -m gif_editor INPUT --probe` prints what INPUT holds
(for a video: the frames and size the options would decode) without decoding it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clipkit.cli import OneLineParser

from .errors import GifEditorError
from .fit import parse_size
from .geometry import ASPECTS
from .io import describe_gif, load, save
from .ops import normalize
from .optimize import BACKENDS, DEFAULTS, size_note
from .timing import timing_notice
from .video import DEFAULT_FPS, DEFAULT_MAX_SIDE, VIDEO_SUFFIXES, is_video, probe_video
from .watermark import ALIGNS, POSITIONS

BATCH_SUFFIXES = (".gif", *VIDEO_SUFFIXES)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m gif_editor", description=__doc__.split("\n\n")[0],
                       epilog="Operations run in one fixed order whatever the option order: "
                              "trim, delete frames, every n-th, reverse, boomerang, crop, rotate, flips, resize, "
                              "grayscale, brightness, contrast, text, image watermark, speed, delay, hold, optimize, "
                              "max size. Options override the same operation in --ops.")
    p.add_argument("input", help="a GIF, PNG/JPEG/WebP or video (MP4, WebM, MOV, MKV) file, or a folder for batch mode")
    p.add_argument("-o", "--output", help="output .gif or .mp4 file, or a folder in batch mode")
    p.add_argument("--probe", action="store_true", help="print what INPUT holds and what a video would decode to; no -o")
    video = p.add_argument_group("video input")
    video.add_argument("--start", type=float, metavar="S", help="first second to decode (default 0)")
    video.add_argument("--end", type=float, metavar="S", help="second to stop at (default: the end)")
    video.add_argument("--fps", type=float, help=f"frames per second to take (default {DEFAULT_FPS:g}, at most the video's)")
    video.add_argument("--max-side", type=int, metavar="PX", help=f"longest side in px (default {DEFAULT_MAX_SIDE}; never enlarged)")
    p.add_argument("--ops", metavar="FILE.json", help="a JSON list of operations, as the editor builds them")
    p.add_argument("--width", type=int, help="output width in px (50-1000)")
    p.add_argument("--height", type=int, help="output height in px (50-1000)")
    p.add_argument("--keep-aspect", action="store_true", help="derive the missing or second side from the aspect ratio")
    p.add_argument("--crop", type=float, nargs=4, metavar=("L", "R", "T", "B"), help="crop percent from each side")
    p.add_argument("--aspect", metavar="W:H", help=f"crop to this shape ({', '.join(ASPECTS)} or any W:H), inside --crop")
    p.add_argument("--aspect-at", type=float, nargs=2, metavar=("X", "Y"),
                   help="where the --aspect box sits, percent: 0 0 = top left, 50 50 = centred (default)")
    p.add_argument("--rotate", type=int, choices=(0, 90, 180, 270), help="rotate clockwise by degrees")
    p.add_argument("--flip-horizontal", action="store_true", help="mirror left-right")
    p.add_argument("--flip-vertical", action="store_true", help="mirror top-bottom")
    p.add_argument("--trim", type=int, nargs=2, metavar=("START", "END"), help="keep frames START..END-1")
    p.add_argument("--delete-frames", type=int, nargs=2, metavar=("START", "END"), help="delete frames START..END-1")
    p.add_argument("--every-nth", type=int, metavar="N",
                   help="keep every N-th frame; the dropped frames' time goes to the kept ones (same length)")
    p.add_argument("--reverse", action="store_true", help="play backwards")
    p.add_argument("--boomerang", action="store_true", help="play forwards then backwards")
    p.add_argument("--grayscale", action="store_true")
    p.add_argument("--text", help=r"text to draw; \n starts a new line")
    p.add_argument("--font-size", type=int, default=20, help="10-50 (default 20)")
    p.add_argument("--opacity", type=int, default=200, help="watermark opacity 0-255 (default 200)")
    p.add_argument("--color", default="white", help="text colour, a name or #rrggbb (default white)")
    p.add_argument("--position", default="bottom-right", choices=POSITIONS + ("centre",))
    p.add_argument("--outline", type=int, default=0, metavar="PX", help="text outline width (0 = none)")
    p.add_argument("--outline-color", default="black", help="text outline colour (default black)")
    p.add_argument("--shadow", type=int, default=0, metavar="PX", help="text drop shadow offset (0 = none)")
    p.add_argument("--shadow-color", default="black")
    p.add_argument("--text-box", action="store_true", help="draw a background box behind the text")
    p.add_argument("--box-color", default="black")
    p.add_argument("--box-opacity", type=int, default=160, help="0-255 (default 160)")
    p.add_argument("--align", choices=ALIGNS, default="left", help="how several lines align")
    p.add_argument("--text-frames", type=int, nargs=2, metavar=("START", "END"),
                   help="show the text only on frames START..END-1")
    p.add_argument("--logo", help="image watermark file (PNG with alpha works best)")
    p.add_argument("--logo-opacity", type=int, default=128, help="0-255 (default 128)")
    p.add_argument("--logo-scale", type=float, default=0.2, help="logo width as a fraction of the frame width")
    p.add_argument("--brightness", type=float, help="0.1-3.0 (1 = unchanged)")
    p.add_argument("--contrast", type=float, help="0.1-3.0 (1 = unchanged)")
    p.add_argument("--speed", type=float, help="0.1-5.0 (2 = twice as fast)")
    p.add_argument("--delay", type=int, metavar="MS", help="set every frame's delay (20-60000 ms)")
    p.add_argument("--frame-delay", type=int, nargs=2, action="append", metavar=("FRAME", "MS"),
                   help="set one frame's delay (frame numbers from 0, after trim/reverse/boomerang); repeatable")
    p.add_argument("--hold", type=int, nargs=2, action="append", metavar=("FRAME", "MS"),
                   help="hold a frame MS longer (-1 = the last frame); repeatable")
    p.add_argument("--keep-fast-delays", action="store_true",
                   help="write delays under 20 ms as they are (by default they become 20 ms: browsers play "
                        "10 ms or less as 100 ms)")
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
    p.add_argument("--max-size", metavar="SIZE",
                   help="at most this big, e.g. 8MB or 500KB (MB = 1,000,000 bytes): colours, lossy level, frame "
                        "dropping and scale are searched for the best-looking GIF that fits")
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
    if args.crop or args.aspect:
        crop = dict(zip(("left", "right", "top", "bottom"), args.crop or (0, 0, 0, 0)))
        if args.aspect:
            crop.update(aspect=args.aspect, **dict(zip(("x", "y"), args.aspect_at or (50, 50))))
        put("crop", **crop)
    if args.rotate:
        put("rotate", degrees=args.rotate)
    if args.trim:
        put("trim", start=args.trim[0], end=args.trim[1])
    if args.delete_frames:
        put("delete_frames", start=args.delete_frames[0], end=args.delete_frames[1])
    if args.every_nth is not None:
        put("every_nth", n=args.every_nth)
    for flag in ("flip_horizontal", "flip_vertical", "reverse", "boomerang", "grayscale"):
        if getattr(args, flag):
            put(flag)
    if args.text:
        text = {"text": args.text.replace("\\n", "\n"), "font_size": args.font_size, "opacity": args.opacity,
                "color": args.color, "position": args.position, "stroke_width": args.outline,
                "stroke_color": args.outline_color, "shadow": args.shadow, "shadow_color": args.shadow_color,
                "box": args.text_box, "box_color": args.box_color, "box_opacity": args.box_opacity, "align": args.align}
        if args.text_frames:
            text.update(start=args.text_frames[0], end=args.text_frames[1])
        put("text", **text)
    if args.logo:
        put("image_watermark", path=args.logo, opacity=args.logo_opacity, scale=args.logo_scale, position=args.position)
    for name in ("brightness", "contrast", "speed"):
        if getattr(args, name) is not None:
            put(name, factor=getattr(args, name))
    if args.delay is not None or args.frame_delay:
        put("delay", all=args.delay, frames={str(i): ms for i, ms in args.frame_delay or []})
    if args.hold:
        put("hold", frames={str(i): ms for i, ms in args.hold})
    if args.optimize or any(v is not None for v in (args.colors, args.lossy, args.duplicates, args.encoder)):
        settings = {k: v for k, v in ops.get("optimize", {}).items() if k != "op"}
        for key, value in (("colors", args.colors), ("lossy", args.lossy), ("backend", args.encoder)):
            if value is not None:
                settings[key] = value
        if args.duplicates is not None:
            settings["duplicates"] = None if args.duplicates.lower() == "off" else _float(args.duplicates)
        put("optimize", **settings)
    if args.max_size:
        put("max_size", bytes=parse_size(args.max_size))
    return normalize(list(ops.values()))


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise GifEditorError(f"--duplicates must be a number of levels or 'off', got {text!r}") from None


def video_options(args: argparse.Namespace) -> dict:
    return {"start": args.start, "end": args.end, "fps": args.fps, "max_side": args.max_side}


def edit_file(src: Path, dst: Path, ops: list[dict], palette: str = "octree", *, keep_fast_delays: bool = False,
              video: dict | None = None) -> str:
    """Edit one file; refuses to write over its own input. Returns the summary (and notice) lines."""
    from .ops import apply

    if dst.exists() and dst.resolve() == src.resolve():
        raise GifEditorError(f"output {dst} is the input file: choose another name (inputs are never modified)")
    if dst.suffix.lower() not in (".gif", ".mp4"):
        raise GifEditorError(f"output {dst.name} must end in .gif or .mp4")
    clip = load(src, **(video or {})) if is_video(src) else load(src)
    out = apply(clip, ops)
    data = save(out, dst, palette=palette, keep_fast_delays=keep_fast_delays)
    # The file as written: Pillow merges identical neighbouring frames, so the clip's count can differ.
    written = describe_gif(data) if dst.suffix.lower() == ".gif" else out.describe()
    lines = [f"{src.name}: {clip.info.get('video') or clip.describe()} -> {dst} ({written})"]
    if "encoded_with" in out.info:
        lines[0] += f"; {size_note(out, len(data))}"
    lines += out.info.get("notes", [])
    notice = timing_notice(*out.info.get("timing", (0, 0)), "--keep-fast-delays")
    return "\n".join(lines + ([notice] if notice else []))


def probe(src: Path, args: argparse.Namespace) -> str:
    """What INPUT holds; for a video also what the options would decode (no frame is decoded)."""
    if is_video(src):
        return probe_video(src).describe(**video_options(args))
    clip = load(src)
    return f"{src.name}: {clip.describe()}"


def run_batch(src_dir: Path, out_dir: Path, ops: list[dict], palette: str = "octree", **options) -> int:
    files = sorted(p for p in src_dir.iterdir() if p.is_file() and p.suffix.lower() in BATCH_SUFFIXES)
    if not files:
        raise GifEditorError(f"no .gif or video files in {src_dir}")
    if out_dir.exists() and not out_dir.is_dir():
        raise GifEditorError(f"in batch mode the output must be a folder: {out_dir}")
    if out_dir.resolve() == src_dir.resolve():
        raise GifEditorError("in batch mode the output folder must differ from the input folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = 0, []
    for src in files:
        try:
            edit_file(src, out_dir / f"{src.stem}.gif", ops, palette, **options)
            written += 1
        except (GifEditorError, OSError) as exc:
            skipped.append(f"{src.name}: {exc}")
    print(f"edited {written} of {len(files)} files into {out_dir}; skipped {len(skipped)}")
    for reason in skipped:
        print(f"  skipped: {reason}")
    return 0 if written else 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        src = Path(args.input)
        if args.probe:
            print(probe(src, args))
            return 0
        if not args.output:
            raise GifEditorError("give -o OUTPUT (or --probe to only look at INPUT)")
        if not src.is_dir() and not is_video(src) and any(v is not None for v in video_options(args).values()):
            raise GifEditorError("--start, --end, --fps and --max-side apply to video input (MP4, WebM, MOV, MKV)")
        ops, dst = ops_from_args(args), Path(args.output)
        options = {"keep_fast_delays": args.keep_fast_delays, "video": video_options(args)}
        if src.is_dir():
            return run_batch(src, dst, ops, args.palette, **options)
        print(edit_file(src, dst, ops, args.palette, **options))
        return 0
    except GifEditorError as exc:
        print(f"gif_editor: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output folder that cannot be written
        print(f"gif_editor: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
