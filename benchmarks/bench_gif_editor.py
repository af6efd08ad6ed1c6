"""Benchmark: gif_editor's processor against the straightforward per-frame Pillow loop, and what
the optimize op buys (file size against colour error, gifsicle and Pillow).

    python benchmarks/bench_gif_editor.py [--repeat 3]
    python benchmarks/bench_gif_editor.py --optimize [--run RUN_DIR] [--out FILE.json]

Content is a pan across a real photo (scikit-learn's bundled sample), because the GIF palette
step dominates and its cost depends on how many colours the frames hold. Cases (from issue 5): a 100-frame 480x270 GIF with resize + text watermark + brightness + speed
(load, edit, save end to end), and the editor's Preview of a 60-frame 800x450 GIF (decoded
source cached, as the widget does). Prints one line per case and a JSON summary.

--optimize: clips are generated-like (16 frames, 64x64: soft shapes drifting under per-frame
Gaussian noise, as diffusion samples look), samples of a trained run when --run is given, and a
photographic clip (a pan and zoom over matplotlib's bundled grace_hopper.jpg). For each setting
(colours 256/64/16, lossy 0/40/80, near-duplicate frames dropped or kept) it reports the file size
relative to gif_editor's plain save and the mean absolute colour error in levels (0-255, RGB: what
a viewer shows at each source frame's start time against that source frame); a Markdown table.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageSequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gif_editor as ge  # noqa: E402
from gif_editor import optimize  # noqa: E402
from gif_editor.clip import Clip  # noqa: E402
from gif_editor.settings import render_preview  # noqa: E402
from clipkit.fonts import font_path  # noqa: E402

EDIT = [{"op": "resize", "width": 320, "keep_aspect": True},
        {"op": "text", "text": "© gif_editor", "font_size": 24, "opacity": 180, "position": "bottom-right"},
        {"op": "brightness", "factor": 1.3}, {"op": "speed", "factor": 2.0}]


def photo_gif(n: int, size: tuple[int, int]) -> bytes:
    """A camera pan across scikit-learn's bundled sample photo: real-world colours, every frame differs."""
    from sklearn.datasets import load_sample_image

    w, h = size
    photo = Image.fromarray(load_sample_image("china.jpg"))
    photo = photo.resize((w * 2, round(w * 2 * photo.height / photo.width)))
    frames = []
    for i in range(n):
        x = round((photo.width - w) * i / max(1, n - 1))
        y = (photo.height - h) // 2
        frames.append(photo.crop((x, y, x + w, y + h)))
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=40, loop=0)
    return buf.getvalue()


def naive(data: bytes) -> bytes:
    """The seed design: per frame, resize, draw the text, enhance; then let Pillow save it all
    (Pillow quantises RGB frames with median cut)."""
    src = Image.open(io.BytesIO(data))
    font = ImageFont.truetype(font_path(), 24)
    frames, durations = [], []
    for frame in ImageSequence.Iterator(src):
        f = frame.convert("RGBA").resize((320, 180), Image.Resampling.BILINEAR)
        layer = Image.new("RGBA", f.size, (0, 0, 0, 0))
        ImageDraw.Draw(layer).text((150, 140), "© gif_editor", font=font, fill=(255, 255, 255, 180))
        f = Image.alpha_composite(f, layer)
        f = ImageEnhance.Brightness(f.convert("RGB")).enhance(1.3)
        frames.append(f)
        durations.append(max(20, frame.info.get("duration", 100) // 2))
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return buf.getvalue()


def processor(data: bytes, palette: str = "octree") -> bytes:
    return ge.save(ge.apply(ge.load(data), EDIT), palette=palette)


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


# ------------------------------------------------------------------ --optimize: size against error

COLORS, LOSSY = (256, 64, 16), (0, 40, 80)


def generated_like(seed: int, n: int = 16, size: int = 64, sigma: float = 10.0) -> Clip:
    """Two soft blobs moving over a dim, slowly varying background, plus per-frame noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    colours = rng.uniform(80, 255, (2, 3))
    start, velocity = rng.uniform(10, size - 10, (2, 2)), rng.uniform(-2, 2, (2, 2))
    background = 25 + 15 * np.sin(xx / 9 + seed)[..., None] * np.ones(3)
    frames = []
    for i in range(n):
        arr = background.copy()
        for (x0, y0), (vx, vy), colour in zip(start, velocity, colours):
            blob = np.exp(-((xx - x0 - vx * i) ** 2 + (yy - y0 - vy * i) ** 2) / 40.0)
            arr += blob[..., None] * colour
        arr += rng.normal(0, sigma, arr.shape)
        frames.append(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).convert("RGBA"))
    return Clip(frames, [125] * n, loop=0)


def photographic(n: int = 24, size: tuple[int, int] = (160, 120)) -> Clip:
    """A slow pan and zoom over a real photo (matplotlib's bundled sample image)."""
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = Image.open(f).convert("RGB")
    w, h = size
    frames = []
    for i in range(n):
        zoom = 1.0 + 0.4 * i / (n - 1)
        cw, ch = photo.width / zoom * 0.8, photo.width / zoom * 0.8 * h / w
        cx = photo.width / 2 + (i / (n - 1) - 0.5) * 60
        box = (cx - cw / 2, photo.height * 0.4 - ch / 2, cx + cw / 2, photo.height * 0.4 + ch / 2)
        frames.append(photo.resize(size, Image.Resampling.BILINEAR, box=box).convert("RGBA"))
    return Clip(frames, [80] * n, loop=0)


def with_pauses(clip: Clip, hold: int = 6, sigma: float = 1.0, seed: int = 0) -> Clip:
    """The clip with its first and last frames held ``hold`` times each, every copy with fresh faint
    noise (sigma 1 level): near-duplicates, as a paused camera gives, that no encoder merges by itself."""
    rng = np.random.default_rng(seed)

    def noisy(frame: Image.Image) -> Image.Image:
        arr = np.asarray(frame.convert("RGB"), dtype=np.float32) + rng.normal(0, sigma, (*frame.size[::-1], 3))
        return Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8)).convert("RGBA")

    frames = ([noisy(clip.frames[0]) for _ in range(hold)] + clip.frames[1:-1]
              + [noisy(clip.frames[-1]) for _ in range(hold)])
    return Clip(frames, [clip.durations[0]] * len(frames), loop=clip.loop)


def run_samples(run_dir: str, num: int = 4) -> list[Clip]:
    """Clips generated by a trained run (its sample prompts, seed 0)."""
    from vdiff.generate import load_pipeline

    pipe = load_pipeline(run_dir, device="cpu")
    prompts = list(pipe.config.sample_prompts)[:num]
    clips = pipe(prompts, seed=0, progress=False)
    return [Clip([Image.fromarray(f).convert("RGBA") for f in clip], [125] * len(clip), loop=0) for clip in clips]


def settings_grid() -> list[tuple[int, int, float | None, str]]:
    """(colours, lossy, duplicates, label): the defaults with and without duplicate dropping, then the grid."""
    d = optimize.DEFAULTS
    rows = [(d["colors"], d["lossy"], d["duplicates"], "default"), (d["colors"], d["lossy"], None, "default")]
    return rows + [(c, lossy, d["duplicates"], "") for c in COLORS for lossy in LOSSY]


def measure(clips: list[Clip], backend: str) -> list[dict]:
    plain = [ge.save(c) for c in clips]
    rows = [{"backend": "plain save", "label": "", "colors": None, "lossy": None, "duplicates": None,
             "size": 1.0, "bytes": int(np.mean([len(p) for p in plain])),
             "error": float(np.mean([optimize.mean_error(c, p) for c, p in zip(clips, plain)])), "seconds": 0.0}]
    for colors, lossy, dup, label in settings_grid():
        sizes, errors, t = [], [], time.perf_counter()
        for clip, base in zip(clips, plain):
            data = ge.save(ge.apply(clip, [{"op": "optimize", "colors": colors, "lossy": lossy,
                                            "duplicates": dup, "backend": backend}]))
            sizes.append(len(data) / len(base))
            errors.append(optimize.mean_error(clip, data))
        rows.append({"backend": backend, "label": label, "colors": colors, "lossy": lossy, "duplicates": dup,
                     "size": float(np.mean(sizes)), "bytes": None, "error": float(np.mean(errors)),
                     "seconds": (time.perf_counter() - t) / len(clips)})
    return rows


def table(results: dict[str, list[dict]]) -> str:
    names = list(results)
    lines = ["| encoder | colours | lossy | drop duplicates | " + " | ".join(f"{n}: size / error" for n in names) + " |",
             "|---|---|---|---|" + "---|" * len(names)]
    for i, row in enumerate(results[names[0]]):
        cells = []
        for n in names:
            r = results[n][i]
            size = f"{r['bytes']:,} B" if r["bytes"] else f"{100 * r['size']:.0f}%"
            cells.append(f"{size} / {r['error']:.1f}")
        dup = "-" if row["colors"] is None else ("yes" if row["duplicates"] is not None else "no")
        setting = f"{row['colors']} | {row['lossy']}" if row["colors"] else "- | -"
        label = f" ({row['label']})" if row["label"] else ""
        lines.append(f"| {row['backend']}{label} | {setting} | {dup} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def optimize_main(args: argparse.Namespace) -> None:
    sets = {"generated-like 64x64x16": [generated_like(s) for s in range(args.clips)],
            "photo 160x120x24": [photographic()], "photo with pauses 160x120x34": [with_pauses(photographic())]}
    if args.run:
        from vdiff.hub import steps_trained
        sets[f"run {Path(args.run).name} (step {steps_trained(args.run)}) samples"] = run_samples(args.run)
    backends = ["pillow"] + (["gifsicle"] if optimize.gifsicle_path() else [])
    results = {name: [r for i, b in enumerate(backends) for r in measure(clips, b)[(1 if i else 0):]]
               for name, clips in sets.items()}
    print(table(results))
    if args.out:
        meta = {"gifsicle": optimize.gifsicle_version(), "defaults": optimize.DEFAULTS, "cpu_count": os.cpu_count(),
                "sizes_relative_to": "gif_editor.save without optimize (per-frame octree palettes)"}
        Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is reported")
    parser.add_argument("--optimize", action="store_true", help="measure the optimize op instead (size, error)")
    parser.add_argument("--run", help="with --optimize: also measure a trained run's samples")
    parser.add_argument("--clips", type=int, default=4, help="with --optimize: generated-like clips (seeds 0..N-1)")
    parser.add_argument("--out", help="with --optimize: write the results as JSON here")
    args = parser.parse_args()
    if args.optimize:
        optimize_main(args)
        return

    edit_gif = photo_gif(100, (480, 270))
    preview_gif = photo_gif(60, (800, 450))
    cached = ge.load(preview_gif)
    preview_ops = [{"op": "text", "text": "preview", "font_size": 30}, {"op": "contrast", "factor": 1.2},
                   {"op": "speed", "factor": 1.5}]
    load_avg = os.getloadavg()[0]
    results = {
        "edit_100x480x270_processor_s": best_of(lambda: processor(edit_gif), args.repeat),
        "edit_100x480x270_processor_mediancut_s": best_of(lambda: processor(edit_gif, "mediancut"), args.repeat),
        "edit_100x480x270_naive_s": best_of(lambda: naive(edit_gif), args.repeat),
        "preview_60x800x450_processor_s": best_of(lambda: render_preview(cached, preview_ops, 480), args.repeat),
        "preview_60x800x450_naive_full_size_s": best_of(
            lambda: ge.save(ge.apply(ge.load(preview_gif), preview_ops)), args.repeat),
        "load_avg_1min": load_avg,
        "cpu_count": os.cpu_count(),
    }
    print(f"edit 100 frames 480x270 (resize+text+brightness+speed): processor {results['edit_100x480x270_processor_s']:.2f} s"
          f" (with --palette mediancut {results['edit_100x480x270_processor_mediancut_s']:.2f} s)"
          f", naive per-frame loop {results['edit_100x480x270_naive_s']:.2f} s")
    print(f"preview 60 frames 800x450: processor {results['preview_60x800x450_processor_s']:.2f} s"
          f", decode + full-size edit + save {results['preview_60x800x450_naive_full_size_s']:.2f} s")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}))


if __name__ == "__main__":
    main()
