"""Edit any clip with a trained run: re-prompt it, regenerate a region or frames, or extend it.

    python -m vdiff.edit --run RUN --input IN.gif --out OUT.gif --prompt "digit 3 moving left"
    python -m vdiff.edit --run RUN --input IN.gif --out OUT.gif --prompt P --box 0 0 16 32 --frames 2-5
    python -m vdiff.edit --run RUN --input IN.gif --out OUT.gif --extend 16

From Python: ``pipe.reprompt(clip, prompt)``, ``pipe.regenerate(clip, prompt, box=..., frames=...)``,
``pipe.extend(clip, prompt, 16)`` on a ``vdiff.load_pipeline`` pipeline (or the functions below).
A clip is uint8 [F, H, W, 3] (or a batch [N, F, H, W, 3]) of any size: it is resized to the run's
frame size (and, for re-prompt/regenerate, re-timed to its frame count by picking evenly spaced
frames; a grey run sees the mean of the channels), and the result is resized back to the input's
size. Kept pixels and frames are the input's own values, bit for bit. The sampling loop and the
papers it follows are in ``vdiff.inpaint``; choices and measurements in docs/editing.md.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .cli import OneLineParser, add_sampling_arguments, sampling_overrides

if TYPE_CHECKING:  # torch loads only when an edit runs: the editor widget imports this module
    import torch

__all__ = ["DEFAULT_STRENGTH", "EditCancelled", "reprompt", "regenerate", "extend", "parse_frames", "check_box",
           "result_durations", "read_clip", "write_clip", "main"]

# Re-prompt: the share of the schedule the clip is noised to. Measured on tiny (benchmarks/edit_quality.py,
# docs/editing.md): 0.9 had the best mean share of clips with both the prompt's digit and its direction
# over two edits, a new direction (0.00 at 0.9, 0.19 at 1.0) and a new digit (0.38 at 0.9, 0.06 at 1.0).
DEFAULT_STRENGTH = 0.9
DEFAULT_RESAMPLE = 1        # RePaint jumps back per step (1 = plain replacement)
DEFAULT_RECON_WEIGHT = 0.0  # reconstruction guidance weight (0 = off)

Callback = Callable[[int, int, np.ndarray], None]


class EditCancelled(Exception):
    """Raised by an edit whose cancel event was set (checked once per sampler step)."""


# --- clips in and out --------------------------------------------------------------------------

def _batch(clips: np.ndarray) -> tuple[np.ndarray, bool]:
    """uint8 [F, H, W, C] or [N, F, H, W, C] (C = 1 or 3) -> ([N, F, H, W, 3], was one clip)."""
    arr = np.asarray(clips)
    single = arr.ndim == 4
    arr = arr[None] if single else arr
    if arr.dtype != np.uint8 or arr.ndim != 5 or arr.shape[-1] not in (1, 3) or min(arr.shape[:4]) < 1:
        raise ValueError(f"a clip must be uint8 [F, H, W, 3] or a batch [N, F, H, W, 3], got {arr.dtype} {arr.shape}")
    return (np.repeat(arr, 3, axis=-1) if arr.shape[-1] == 1 else arr), single


def _prompts(prompts: str | list[str], n: int) -> list[str]:
    items = [prompts] * n if isinstance(prompts, str) else list(prompts)
    if len(items) != n or not all(isinstance(p, str) and p.strip() for p in items):
        raise ValueError(f"give one non-empty prompt, or one per clip ({n})")
    return items


def frame_index(n_in: int, n_out: int) -> np.ndarray:
    """``n_out`` evenly spaced frame numbers of an ``n_in``-frame clip (re-timing by picking frames)."""
    return np.linspace(0, n_in - 1, n_out).round().astype(int)


def resize_frames(clips: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[N, F, H, W, 3] uint8 -> [N, F, h, w, 3] for size (w, h); bilinear, a no-op at the same size."""
    if clips.shape[3:1:-1] == size:
        return clips
    return np.stack([np.stack([np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in c])
                     for c in clips])


def parse_frames(spec: str, n: int) -> list[int]:
    """Frame numbers from a SPEC like "0-3,6" (inclusive ranges), each in [0, n)."""
    frames: set[int] = set()
    for part in str(spec).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ValueError(f"--frames takes numbers and ranges like 0-3,6; got {spec!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo > hi or hi >= n:
            raise ValueError(f"--frames {spec!r}: frames are numbered 0-{n - 1} here")
        frames.update(range(lo, hi + 1))
    return sorted(frames)


def check_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """A box (left, top, right, bottom), right/bottom exclusive, that lies inside a width x height clip."""
    if len(box) != 4:
        raise ValueError(f"a box is 4 numbers L T R B, got {box!r}")
    left, top, right, bottom = (int(v) for v in box)
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise ValueError(f"box {left} {top} {right} {bottom} is not inside the {width}x{height} clip "
                         f"(need 0 <= L < R <= {width}, 0 <= T < B <= {height})")
    return left, top, right, bottom


# --- the model side ---------------------------------------------------------------------------

def _run(pipe, known: np.ndarray, keep: torch.Tensor | None, prompts: list[str], *, strength: float,
         seed: int, sampling: dict, resample: int, recon_weight: float, progress: bool,
         callback: Callable[[int, int, torch.Tensor], None] | None, cancel: threading.Event | None,
         desc: str) -> np.ndarray:
    """One masked sampling run on model-size uint8 clips [N, F, S, S, 3] -> uint8 [N, F, S, S, 3]."""
    import torch

    from .diffusion import clip_x0
    from .env import autocast_for
    from .generate import _rgb
    from .inpaint import masked_sample
    from .sampling import sampling_options
    from .video import to_uint8

    opts = sampling_options(pipe.config, **sampling)
    x = torch.from_numpy(known).float().div(127.5).sub(1.0).permute(0, 4, 1, 2, 3)
    if pipe.config.channels == 1:
        x = x.mean(1, keepdim=True)  # a grey run: the channels' mean, as its training data
    emb = pipe.text_encoder.encode(prompts)
    cross = pipe.config.cross_attention
    with autocast_for(pipe.device, pipe.precision):
        out = masked_sample(
            pipe.diffusion, pipe.model, emb.pooled.to(pipe.device), x, keep=keep, strength=strength,
            text_tokens=emb.tokens.to(pipe.device) if cross else None,
            text_mask=emb.mask.to(pipe.device) if cross else None,
            sampler=opts.sampler, steps=opts.steps, guidance_scale=opts.guidance,
            clip_x0=lambda x0: clip_x0(x0, opts.x0_clip, opts.x0_clip_quantile), generator=seed,
            resample=resample, recon_weight=recon_weight, progress=progress, desc=desc, callback=callback,
            cancel=cancel)
    return _rgb(to_uint8(out))


class _Steps:
    """Collects every step's predicted x0 (uint8) and forwards it to the caller's callback."""

    def __init__(self, callback: Callback | None, collect: bool, single: bool, total_runs: int = 1) -> None:
        self.callback, self.collect, self.single, self.total_runs = callback, collect, single, total_runs
        self.x_starts: list[np.ndarray] = []
        self.run = 0

    def __call__(self, i: int, n: int, x0: torch.Tensor) -> None:
        if self.callback is None and not self.collect:
            return
        from .generate import _rgb
        from .video import to_uint8

        preview = _rgb(to_uint8(x0.clamp(-1, 1)))
        preview = preview[0] if self.single else preview
        if self.collect:
            self.x_starts.append(preview)
        if self.callback is not None:
            self.callback(self.run * n + i, self.total_runs * n, preview)

    def result(self, clips: np.ndarray, return_x_start: bool):
        clips = clips[0] if self.single else clips
        if not return_x_start:
            return clips
        return clips, (np.stack(self.x_starts) if self.x_starts else np.zeros((0,), np.uint8))


def regenerate(pipe, clips: np.ndarray, prompts: str | list[str], *, box: tuple[int, int, int, int] | None = None,
               frames: str | list[int] | None = None, strength: float = 1.0, seed: int = 0,
               resample: int = DEFAULT_RESAMPLE, recon_weight: float = DEFAULT_RECON_WEIGHT,
               return_x_start: bool = False, callback: Callback | None = None,
               cancel: threading.Event | None = None, progress: bool = True, **sampling):
    """Regenerate ``box`` (L T R B in the input's pixels, right/bottom exclusive) of ``frames`` (a SPEC
    like "0-3,6" or a list; numbered as the run sees the clip) under ``prompts``; the rest is kept.

    Without box and frames the whole clip is regenerated (a re-prompt at ``strength``). Returns
    uint8 clips at the input's size with the run's frame count; with ``return_x_start`` also every
    step's predicted x0 [steps, (N,) F, S, S, 3] at the run's size. ``sampling``: steps, sampler,
    guidance, x0_clip, x0_clip_quantile (None = the run's config). ``cancel`` set: EditCancelled.
    """
    import torch

    src, single = _batch(clips)
    prompts = _prompts(prompts, len(src))
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    n, f_in, h, w = src.shape[:4]
    cfg = pipe.config
    f, s = cfg.num_frames, cfg.image_size
    picked = src[:, frame_index(f_in, f)]
    keep_out = None  # at the input's size: True where the input is kept
    keep = None      # at the run's size: 1 where kept; a pixel is generated if any input pixel it covers is
    if box is not None or frames is not None:
        chosen = parse_frames(frames, f) if isinstance(frames, str) else (list(range(f)) if frames is None else
                                                                           sorted(set(int(i) for i in frames)))
        if not chosen or min(chosen) < 0 or max(chosen) >= f:
            raise ValueError(f"frames must be numbers in 0-{f - 1}, got {frames!r}")
        left, top, right, bottom = check_box(box, w, h) if box is not None else (0, 0, w, h)
        keep_out = np.ones((f, h, w), bool)
        keep_out[np.ix_(chosen, range(top, bottom), range(left, right))] = False
        keep = torch.ones(1, 1, f, s, s)
        sl = lambda a, b, size: slice(math.floor(a * s / size), math.ceil(b * s / size))  # noqa: E731
        keep[0, 0, chosen, sl(top, bottom, h), sl(left, right, w)] = 0.0
    steps = _Steps(callback, return_x_start, single)
    gen = _run(pipe, resize_frames(picked, (s, s)), keep, prompts, strength=strength, seed=seed, sampling=sampling,
               resample=resample, recon_weight=recon_weight, progress=progress, callback=steps, cancel=cancel,
               desc="regenerating" if keep is not None else "re-prompting")
    out = resize_frames(gen, (w, h))
    if keep_out is not None:
        out = np.where(keep_out[None, ..., None], picked, out)  # the kept pixels, exactly the input's
    return steps.result(out, return_x_start)


def reprompt(pipe, clips: np.ndarray, prompts: str | list[str], *, strength: float = DEFAULT_STRENGTH,
             **kwargs):
    """SDEdit: noise the clip to ``strength`` of the schedule and denoise it under ``prompts``.

    Strength 1 is generation from noise (the input is ignored); near 0 the input comes back.
    Keyword arguments as ``regenerate``.
    """
    return regenerate(pipe, clips, prompts, strength=strength, **kwargs)


def extend(pipe, clips: np.ndarray, prompts: str | list[str], num: int, *, context: int | None = None,
           seed: int = 0, resample: int = DEFAULT_RESAMPLE, recon_weight: float = DEFAULT_RECON_WEIGHT,
           return_x_start: bool = False, callback: Callback | None = None,
           cancel: threading.Event | None = None, progress: bool = True, **sampling):
    """Append ``num`` frames that continue the clip: windows of the run's frame count whose first
    ``context`` frames (default 3/4 of the window) are the last frames so far, kept, and the rest generated.

    The input frames come back bit for bit, the new ones at the input's size. Keyword arguments as
    ``regenerate``.
    """
    import torch

    src, single = _batch(clips)
    prompts = _prompts(prompts, len(src))
    f, s = pipe.config.num_frames, pipe.config.image_size
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"extend needs a number of new frames >= 1, got {num!r}")
    if f < 2:
        raise ValueError("the run makes 1-frame clips: there is no window to extend with")
    # 3/4 of the window known: on the 8-frame tiny run 6 context frames gave a seam of 1.1x the clip's own
    # frame step against 1.8x with 4 (docs/editing.md).
    context = max(1, 3 * f // 4) if context is None else int(context)
    if not 1 <= context < f:
        raise ValueError(f"context must be between 1 and {f - 1} frames, got {context}")
    h, w = src.shape[2:4]
    seq = resize_frames(src[:, -context:], (s, s))  # only the tail conditions the next window
    new: list[np.ndarray] = []
    windows = math.ceil(num / (f - min(context, seq.shape[1])))
    steps = _Steps(callback, return_x_start, single, total_runs=windows)
    made = 0
    while made < num:
        ctx = seq[:, -context:]
        c = ctx.shape[1]
        window = np.concatenate([ctx, np.zeros((len(src), f - c, s, s, 3), np.uint8)], axis=1)
        keep = torch.zeros(1, 1, f, s, s)
        keep[:, :, :c] = 1.0
        gen = _run(pipe, window, keep, prompts, strength=1.0, seed=seed + steps.run, sampling=sampling,
                   resample=resample, recon_weight=recon_weight, progress=progress, callback=steps,
                   cancel=cancel, desc=f"extending {steps.run + 1}/{windows}")
        steps.run += 1
        new.append(gen[:, c:])
        made += f - c
        seq = np.concatenate([seq, gen[:, c:]], axis=1)
    added = resize_frames(np.concatenate(new, axis=1)[:, :num], (w, h))
    return steps.result(np.concatenate([src, added], axis=1), return_x_start)


# --- files and the command line -------------------------------------------------------------------

def read_clip(path: str | Path) -> tuple[np.ndarray, list[int], int | None]:
    """A GIF (or still image) as uint8 [F, H, W, 3], its per-frame delays in ms and its loop count."""
    from clipkit.gif import read_gif, shown_delay_ms

    gif = read_gif(Path(path), formats=("GIF", "PNG", "JPEG", "WEBP"))  # GifReadError: one line
    frames = np.stack([np.asarray(im) for im in gif.frames])
    return frames, [shown_delay_ms(d) for d in gif.durations], gif.loop


def _exact_image(frame: np.ndarray) -> Image.Image:
    """A P frame with its own palette, which stores its pixels exactly when it has <= 256 colours.

    (Mixing L and P frames in one file failed: Pillow 13 mapped an L frame that followed P frames
    through the earlier palette and lost its brightest pixels.)
    """
    colours, index = np.unique(frame.reshape(-1, 3), axis=0, return_inverse=True)
    if len(colours) > 256:  # a photo: the best adaptive palette Pillow has
        return Image.fromarray(frame).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    im = Image.fromarray(index.reshape(frame.shape[:2]).astype(np.uint8), "P")
    im.putpalette(colours.astype(np.uint8).tobytes())
    return im


def write_clip(frames: np.ndarray, durations: list[int], path: str | Path, loop: int | None = 0) -> Path:
    """Write uint8 [F, H, W, 3] as a GIF, atomically; frames with <= 256 colours are stored exactly."""
    from clipkit.atomic import atomic_write
    from clipkit.gif import encode_gif

    data = encode_gif([_exact_image(f) for f in frames], list(durations), loop=loop)
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def result_durations(durations: list[int], n_in: int, n_out: int, *, extended: bool = False) -> list[int]:
    """Frame delays (ms) for an edit's result: the input's own where the frames match one to one, the
    last delay repeated for extended frames, and the same total play time when re-timed."""
    if extended:
        return list(durations) + [durations[-1]] * (n_out - n_in)
    if n_out == n_in:
        return list(durations)
    from clipkit.gif import MIN_DELAY_MS, stored_delay_ms

    each = max(MIN_DELAY_MS, stored_delay_ms(sum(durations) / n_out))
    return [each] * n_out


def _sidecar_caption(path: Path) -> str | None:
    txt = path.with_suffix(".txt")
    if txt.is_file():
        lines = txt.read_text(encoding="utf-8").strip().splitlines()
        return lines[0].strip() if lines and lines[0].strip() else None
    return None


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m vdiff.edit", description=__doc__.split("\n")[0])
    p.add_argument("--run", required=True, help="run folder (or a save_pretrained folder)")
    p.add_argument("--input", required=True, help="the GIF to edit (never modified)")
    p.add_argument("--out", required=True, help="where to write the edited GIF")
    p.add_argument("--prompt", help="the new prompt (default: the caption in IN.txt beside the input)")
    p.add_argument("--strength", type=float, help=f"how far to noise the clip, in (0, 1]; re-prompt default "
                   f"{DEFAULT_STRENGTH}, 1 for --box/--frames")
    p.add_argument("--box", type=int, nargs=4, metavar=("L", "T", "R", "B"), help="region to regenerate, in pixels")
    p.add_argument("--frames", metavar="SPEC", help="frames to regenerate, like 0-3,6")
    p.add_argument("--extend", type=int, metavar="N", help="append N new frames")
    p.add_argument("--seed", type=int, default=0)
    add_sampling_arguments(p)
    return p


def edit_file(args: argparse.Namespace) -> Path:
    """Run the edit the arguments describe; ValueError (one line) for any bad input."""
    from .generate import load_pipeline

    src, out = Path(args.input), Path(args.out)
    if args.strength is not None and not 0.0 < args.strength <= 1.0:
        raise ValueError(f"--strength must be in (0, 1], got {args.strength}")
    if args.extend is not None and (args.extend < 1 or args.box or args.frames or args.strength is not None):
        raise ValueError("--extend N needs N >= 1 and goes without --box, --frames and --strength")
    if out.suffix.lower() != ".gif":
        raise ValueError(f"--out must end in .gif, got {out.name!r}")
    if out.resolve() == src.resolve():
        raise ValueError("--out must differ from --input: the input is never modified")
    frames, durations, loop = read_clip(src)
    if args.box:
        check_box(args.box, frames.shape[2], frames.shape[1])
    prompt = args.prompt or _sidecar_caption(src)
    if not prompt:
        raise ValueError(f"give --prompt (there is no caption file {src.with_suffix('.txt').name} beside the input)")
    if args.prompt is None and args.box is None and args.frames is None and args.extend is None:
        raise ValueError("nothing to do: give --prompt, --box/--frames or --extend")
    pipe = load_pipeline(args.run)
    common = dict(seed=args.seed, **sampling_overrides(args))
    if args.extend is not None:
        result = extend(pipe, frames, prompt, args.extend, **common)
    else:
        if args.box is None and args.frames is None:
            strength = DEFAULT_STRENGTH if args.strength is None else args.strength
        else:
            strength = 1.0 if args.strength is None else args.strength
        result = regenerate(pipe, frames, prompt, box=args.box, frames=args.frames, strength=strength, **common)
    durations = result_durations(durations, len(frames), len(result), extended=args.extend is not None)
    return write_clip(result, durations, out, loop)


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
