"""Smaller GIFs: fewer colours, a lossy level, near-duplicate frames dropped, frame differencing.

    clip = gif_editor.apply(clip, [{"op": "optimize", "colors": 64, "lossy": 40}])
    gif_editor.save(clip, "small.gif")      # encoded by gifsicle when installed, else by Pillow

Diffusion samples are noisy, and noise barely shrinks under lossless GIF optimisation: the gains
come from fewer colours and from letting a pixel keep the previous frame's colour when it is
close enough (then it is written as transparent and costs almost nothing). Two encoders take the
same settings:

- gifsicle (``apt-get install gifsicle``), when it is on PATH: ``-O3`` (frame differencing with
  transparency), ``--colors N`` below 256, ``--lossy=L`` (gifsicle's lossy LZW).
- Pillow otherwise: one palette for the whole clip (octree over a montage of its frames), and
  frame differencing done here: a pixel whose true colour is within the lossy tolerance of what
  the viewer already shows stays (index = transparent); the others are redrawn.

Duplicate dropping runs before either encoder: a frame whose mean absolute difference from the
last kept frame is at most ``duplicates`` levels (0 = identical only) is dropped and its delay
added to the kept frame, so total play time, the loop count and transparency are unchanged.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

import clipkit.gif

from .clip import Clip
from .encode import ALPHA_CUT, encode_gif
from .errors import GifEditorError
from .params import flag, number
from .timing import played_ms

COLORS_RANGE = (2, 256)
LOSSY_RANGE = (0, 200)
DUPLICATES_RANGE = (0.0, 64.0)
BACKENDS = ("auto", "gifsicle", "pillow")
# Chosen with benchmarks/bench_gif_editor.py --optimize (table in docs/gif_editor.md): the mean colour
# error stays under 10 levels with either encoder on generated-like and photographic clips, and
# generated-like clips shrink to 30% (gifsicle) / 40% (Pillow) of the plain save, a tiny run's samples
# to 19% / 24%.
DEFAULTS = {"colors": 64, "lossy": 50, "duplicates": 2.0, "transparency": True, "backend": "auto"}
_MONTAGE_PIXELS = 1_000_000  # palette fitted on at most this many pixels (frames subsampled)


def gifsicle_path() -> str | None:
    """The gifsicle executable, or None when it is not installed."""
    return shutil.which("gifsicle")


def lossy_tolerance(lossy: int) -> int:
    """Pillow's reading of the lossy level: how many levels (0-255, max over R, G, B) a pixel may be
    off before it is redrawn or merged into a run: lossy 40 -> 20 levels, 80 -> 40."""
    return int(round(lossy * 0.5))


def settings_from(params: dict) -> dict:
    """Validated optimize settings (missing ones take DEFAULTS); GifEditorError on bad values."""
    out = dict(DEFAULTS)
    out["colors"] = number("optimize", params, "colors", *COLORS_RANGE, default=DEFAULTS["colors"], integer=True)
    out["lossy"] = number("optimize", params, "lossy", *LOSSY_RANGE, default=DEFAULTS["lossy"], integer=True)
    dup = params.get("duplicates", DEFAULTS["duplicates"])
    out["duplicates"] = None if dup is None or dup is False else number(
        "optimize", {"duplicates": dup}, "duplicates", *DUPLICATES_RANGE)
    out["transparency"] = flag("optimize", params, "transparency", DEFAULTS["transparency"])
    backend = params.get("backend", DEFAULTS["backend"])
    if backend not in BACKENDS:
        raise GifEditorError(f"optimize: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "gifsicle" and gifsicle_path() is None:
        raise GifEditorError("optimize: backend 'gifsicle' asked for but gifsicle is not installed "
                             "(apt-get install gifsicle), or use backend 'auto'")
    out["backend"] = backend
    return out


def _rgba(frame: Image.Image) -> np.ndarray:
    return np.asarray(frame.convert("RGBA"), dtype=np.int16)


def drop_duplicates(clip: Clip, tolerance: float | None) -> Clip:
    """Drop frames within ``tolerance`` mean levels of the last kept frame; their delays go to it.

    Merged delays add up as they play (timing.played_ms: 0 ms counts as the 100 ms browsers show),
    so the play time a viewer sees is unchanged.
    """
    if tolerance is None or clip.n_frames < 2:
        return clip
    frames, durations = [clip.frames[0]], [clip.durations[0]]
    kept = _rgba(clip.frames[0])
    for frame, delay in zip(clip.frames[1:], clip.durations[1:]):
        arr = _rgba(frame)
        if float(np.abs(arr - kept).mean()) <= tolerance:
            durations[-1] = played_ms(durations[-1]) + played_ms(delay)
            continue
        frames.append(frame)
        durations.append(delay)
        kept = arr
    return replace(clip, frames=frames, durations=durations)


# ------------------------------------------------------------------ Pillow encoder

def _palette(clip: Clip, colors: int) -> list[int]:
    """One RGB palette for all frames, at most ``colors`` entries (fewer when the clip has fewer
    colours: a smaller table means shorter LZW codes), by Pillow's octree over a montage of the frames.

    Octree rather than median cut: on a trained run's grey samples (benchmarks/bench_gif_editor.py
    --optimize --run) median cut kept every faint background level (error 1.1, 58% of the plain
    size at 64 colours) where octree merges them (2.1, 23%); on noisy clips octree is also smaller."""
    step = max(1, int(np.ceil(clip.n_frames * clip.size[0] * clip.size[1] / _MONTAGE_PIXELS)))
    picked = clip.frames[::step]
    w, h = clip.size
    montage = Image.new("RGB", (w, h * len(picked)))
    for i, frame in enumerate(picked):
        montage.paste(frame.convert("RGB"), (0, i * h))
    pal = montage.quantize(colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    used = len(pal.getcolors(256) or []) or colors
    return pal.getpalette()[: 3 * used]


def _map(frame: Image.Image, palette_image: Image.Image) -> np.ndarray:
    """Indices of the nearest palette colours (no dithering: dither noise defeats frame differencing)."""
    return np.asarray(frame.convert("RGB").quantize(palette=palette_image, dither=Image.Dither.NONE))


def _merge_runs(idx: np.ndarray, truth: np.ndarray, rgb_palette: np.ndarray, tolerance: int,
                clear: int) -> np.ndarray:
    """Lossy runs, the idea of gifsicle's lossy LZW: along each row a pixel takes its left
    neighbour's index when that colour is within ``tolerance`` of its true colour, so rows become
    runs that LZW codes in a few symbols. Transparent pixels are left alone. Vectorised over rows."""
    out = idx.copy()
    for x in range(1, idx.shape[1]):
        left, here = out[:, x - 1], out[:, x]
        usable = (left != clear) & (here != clear)
        near = np.abs(truth[:, x] - rgb_palette[np.where(usable, left, 0)]).max(-1) <= tolerance
        out[:, x] = np.where(usable & near, left, here)
    return out


def encode_pillow(clip: Clip, colors: int, lossy: int, transparency: bool) -> bytes:
    """GIF bytes with one shared palette; opaque clips frame-differenced (unchanged = transparent)
    when that is smaller: on pure noise the transparent pixels break LZW's runs and cost bytes."""
    see_through = clip.transparent and any(f.getextrema()[3][0] < ALPHA_CUT for f in clip.frames)
    data = _encode_pillow(clip, colors, lossy, transparency, see_through)
    if transparency and not see_through:
        whole = _encode_pillow(clip, colors, lossy, False, see_through)
        data = whole if len(whole) < len(data) else data
    if colors == 256 and lossy == 0:
        # Per-frame palettes (the plain encoder) are within the setting and can be smaller.
        plain = encode_gif(clip)
        data = plain if len(plain) < len(data) else data
    return data


def _encode_pillow(clip: Clip, colors: int, lossy: int, transparency: bool, see_through: bool) -> bytes:
    marks = see_through or transparency
    entries = _palette(clip, min(colors, 255) if marks else colors)  # one index kept for "transparent"
    clear = len(entries) // 3
    palette_image = Image.new("P", (1, 1))
    palette_image.putpalette(entries)
    rgb_palette = np.array(entries, dtype=np.int16).reshape(-1, 3)
    tolerance = lossy_tolerance(lossy)
    out: list[Image.Image] = []
    shown: np.ndarray | None = None  # the RGB a viewer shows after the previous frame
    for frame in clip.frames:
        truth = np.asarray(frame.convert("RGB"), dtype=np.int16)
        idx = _map(frame, palette_image).astype(np.uint8)
        keep = None
        if see_through:
            # Alpha is on/off in GIF; frames are drawn whole over a cleared canvas (disposal 2), since
            # a pixel that turns transparent cannot be expressed by drawing over the previous frame.
            idx = np.where(np.asarray(frame.getchannel("A")) < ALPHA_CUT, clear, idx).astype(np.uint8)
        elif transparency and shown is not None:
            # Keep what is shown where it is within the tolerance of the true colour (lossy) or where
            # the new index would draw the very same colour (lossless); kept pixels cost one index.
            keep = (np.abs(truth - shown).max(-1) <= tolerance) | (rgb_palette[idx] == shown).all(-1)
            idx = np.where(keep, clear, idx).astype(np.uint8)
        if tolerance:
            idx = _merge_runs(idx, truth, rgb_palette, tolerance, clear)
        if transparency and not see_through:
            drawn = rgb_palette[np.minimum(idx, clear - 1)]
            shown = drawn if keep is None else np.where(keep[..., None], shown, drawn)
            if keep is not None and out:
                # Pillow crops each frame to where it differs from the previous one *as given*; outside
                # the changed box repeat that frame's indices (redrawing what is shown changes nothing).
                rows, cols = np.nonzero(~keep)
                box = np.zeros_like(keep)
                if rows.size:
                    box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
                idx = np.where(box, idx, np.asarray(out[-1])).astype(np.uint8)
        image = Image.fromarray(idx, "P")
        image.putpalette(entries + ([0, 0, 0] if marks else []))
        out.append(image)
    if not marks:
        return clipkit.gif.encode_gif(out, clip.durations, loop=clip.loop)
    return clipkit.gif.encode_gif(out, clip.durations, loop=clip.loop, transparency=clear,
                                  disposal=2 if see_through else 1)


# ------------------------------------------------------------------ gifsicle encoder

def encode_gifsicle(clip: Clip, colors: int, lossy: int, transparency: bool) -> bytes:
    """Pillow writes the clip losslessly (per-frame palettes), gifsicle optimises the file."""
    exe = gifsicle_path()
    if exe is None:
        raise GifEditorError("gifsicle is not installed (apt-get install gifsicle)")
    args = [exe, "--no-warnings", "-O3" if transparency else "-O1"]
    if colors < 256:
        args.append(f"--colors={colors}")
    if lossy > 0:
        args.append(f"--lossy={lossy}")
    with tempfile.TemporaryDirectory(prefix="gif_editor-") as tmp:
        src, dst = Path(tmp) / "in.gif", Path(tmp) / "out.gif"
        src.write_bytes(encode_gif(clip))
        try:
            done = subprocess.run([*args, str(src), "-o", str(dst)], capture_output=True, timeout=300)
        except subprocess.TimeoutExpired:
            raise GifEditorError("gifsicle took over 5 minutes; try the Pillow backend") from None
        if done.returncode != 0 or not dst.is_file():
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            raise GifEditorError(f"gifsicle failed: {reason[0] if reason else f'exit status {done.returncode}'}")
        return dst.read_bytes()


def gifsicle_version() -> str:
    exe = gifsicle_path()
    if exe is None:
        return "gifsicle (not installed)"
    try:
        first = subprocess.run([exe, "--version"], capture_output=True, timeout=10).stdout.decode().splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return "gifsicle"
    return first[0].replace("LCDF ", "").lower() if first else "gifsicle"


def encode(clip: Clip, *, colors: int, lossy: int, transparency: bool, backend: str = "auto",
           duplicates: float | None = None) -> tuple[bytes, str]:
    """GIF bytes of an optimized clip and which encoder wrote them ("gifsicle 1.93" / "pillow")."""
    clip = drop_duplicates(clip, duplicates)
    if backend == "gifsicle" or (backend == "auto" and gifsicle_path() is not None):
        return encode_gifsicle(clip, colors, lossy, transparency), gifsicle_version()
    return encode_pillow(clip, colors, lossy, transparency), "pillow"


def displayed_frames(data: bytes) -> tuple[list[np.ndarray], list[int]]:
    """What a viewer shows: composited RGBA frames (uint8) and their delays, decoded by Pillow."""
    frames, delays = [], []
    with Image.open(io.BytesIO(data)) as im:
        for index in range(getattr(im, "n_frames", 1)):
            im.seek(index)
            frames.append(np.asarray(im.convert("RGBA")))
            delays.append(int(im.info.get("duration", 0) or 0))
    return frames, delays


def mean_error(original: Clip, data: bytes, scale_to_source: bool = False) -> float:
    """Mean absolute colour error (levels, RGB over opaque pixels) between the clip and what the GIF
    shows at each of the clip's frame start times (so dropped frames are compared to their stand-in).
    ``scale_to_source``: a GIF of another size is scaled (bilinear) to the clip's size first, so the
    detail a smaller GIF lost counts as error."""
    shown, delays = displayed_frames(data)
    if scale_to_source and shown and shown[0].shape[1::-1] != original.size:
        shown = [np.asarray(Image.fromarray(f).resize(original.size, Image.Resampling.BILINEAR)) for f in shown]
    starts = np.cumsum([0] + delays[:-1])
    errors, t = [], 0
    for frame, delay in zip(original.frames, original.durations):
        j = int(np.searchsorted(starts, t, side="right") - 1)
        truth = np.asarray(frame.convert("RGBA"), dtype=np.int16)
        got = shown[max(j, 0)].astype(np.int16)
        opaque = truth[..., 3] >= ALPHA_CUT
        errors.append(float(np.abs(truth[..., :3] - got[..., :3])[opaque].mean()) if opaque.any() else 0.0)
        t += delay
    return float(np.mean(errors))


def encode_optimized(clip: Clip) -> bytes:
    """Encode a clip the optimize op marked (``clip.info["optimize"]``); notes the encoder in
    ``clip.info["encoded_with"]`` so the editor and the CLI can say which one ran."""
    s = clip.info["optimize"]
    data, used = encode(clip, colors=s["colors"], lossy=s["lossy"], transparency=s["transparency"],
                        backend=s["backend"])
    clip.info["encoded_with"] = used
    return data


def size_note(edited: Clip, after: int) -> str:
    """'optimize (pillow): 73,792 -> 7,971 bytes (11%)': the same edit saved without optimize, then with it."""
    before = len(encode_gif(edited.info.get("before_optimize", edited)))
    return (f"optimize ({edited.info.get('encoded_with', '?')}): {before:,} -> {after:,} bytes "
            f"({100 * after / max(1, before):.0f}%)")
