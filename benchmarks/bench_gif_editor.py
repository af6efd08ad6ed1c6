"""Benchmark: gif_editor's processor against the straightforward per-frame Pillow loop, and what
the optimize op buys (file size against colour error, gifsicle and Pillow).

    python benchmarks/bench_gif_editor.py [--repeat 3]
    python benchmarks/bench_gif_editor.py --optimize [--run RUN_DIR] [--out FILE.json]
    python benchmarks/bench_gif_editor.py --video [--out FILE.json]
    python benchmarks/bench_gif_editor.py --fit [--out FILE.json]
    python benchmarks/bench_gif_editor.py --images docs/images     # the before/after pictures in the docs

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

--video: a 10-second 1280x720 H.264 clip at 30 fps (a pan over scikit-learn's sample photo, encoded
by imageio-ffmpeg's ffmpeg) to a 480-px GIF at 15 fps: probe, decode, save (plain and with
--optimize), each in a fresh process so its peak resident memory (VmHWM) is its own, beside a
process that only imports gif_editor, and the straightforward way (every 720p frame read with
imageio, then resized with Pillow).

--fit: the max_size search on the generated-like clips, the photo clips and the video's clip, at
limits of 50%, 25% and 10% of the plain save: how close to the limit the file lands, its colour
error (against the source, scaled back to its size), what was chosen, how many encodes and seconds.
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


# ------------------------------------------------------------------ --video: decode speed and memory

VIDEO_CHILD = """
import json, sys, time
sys.path.insert(0, {repo!r})
t = time.perf_counter()
import gif_editor as ge
from gif_editor import optimize
mode, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
result = {{}}
if mode == "probe":
    result["info"] = ge.probe_video(path).describe(fps=15, max_side=480)
elif mode == "naive":
    import imageio.v3 as iio
    from PIL import Image
    frames = list(iio.imiter(path))  # every 720p frame, as a loop over imageio yields them
    picked = frames[::2]
    small = [Image.fromarray(f).resize((480, 270), Image.Resampling.LANCZOS) for f in picked]
    result["frames"] = len(small)
elif mode != "import":
    clip = ge.load(path, fps=15, max_side=480)
    result["decode_s"] = time.perf_counter() - t
    result["frames"], result["size"] = clip.n_frames, clip.size
    ops = [{{"op": "optimize"}}] if mode == "optimize" else []
    data = ge.save(ge.apply(clip, ops), out)
    result["bytes"] = len(data)
result["seconds"] = time.perf_counter() - t
# VmHWM is this process's own peak: ru_maxrss would carry the parent's from before the exec.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
result["peak_rss_mb"] = int(hwm.split()[1]) / 1024
print(json.dumps(result))
"""


def make_video(path: Path, seconds: int = 10, size: tuple[int, int] = (1280, 720), fps: int = 30) -> Path:
    """A slow pan and zoom over scikit-learn's sample photo, encoded as H.264 (yuv420p, CRF 20)."""
    import imageio_ffmpeg
    from sklearn.datasets import load_sample_image

    photo = Image.fromarray(load_sample_image("china.jpg")).resize((size[0] * 2, size[1] * 2), Image.Resampling.BICUBIC)
    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         quality=None, bitrate=None, output_params=["-crf", "20"],
                                         ffmpeg_log_level="error", macro_block_size=1)
    writer.send(None)
    n = seconds * fps
    for i in range(n):
        zoom = 1 + 0.5 * i / n
        w, h = photo.width / zoom / 1.2, photo.height / zoom / 1.2
        x = (photo.width - w) * i / n
        box = (x, (photo.height - h) / 2, x + w, (photo.height + h) / 2)
        writer.send(np.ascontiguousarray(np.asarray(photo.resize(size, Image.Resampling.BILINEAR, box=box))))
    writer.close()
    return path


def video_main(args: argparse.Namespace) -> dict:
    import subprocess
    import tempfile

    repo = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "720p.mp4")
        runs = {}
        for mode in ("import", "probe", "plain", "optimize", "naive"):
            best = None
            for _ in range(args.repeat if mode in ("plain", "optimize") else 1):
                out = subprocess.run([sys.executable, "-c", VIDEO_CHILD.format(repo=repo), mode, str(video),
                                      str(Path(tmp) / f"{mode}.gif")], capture_output=True, text=True, check=True)
                result = json.loads(out.stdout)
                best = result if best is None or result["seconds"] < best["seconds"] else best
            runs[mode] = best
        runs["video_bytes"] = video.stat().st_size
    runs["load_avg_1min"], runs["cpu_count"] = os.getloadavg()[0], os.cpu_count()
    for mode in ("probe", "plain", "optimize", "naive"):
        r = runs[mode]
        print(f"{mode:9s} {r['seconds']:6.2f} s  peak RSS {r['peak_rss_mb']:6.0f} MB"
              + (f"  {r['frames']} frames" if "frames" in r else "") + (f"  {r['bytes']:,} B" if "bytes" in r else ""))
    print(f"import-only process: peak RSS {runs['import']['peak_rss_mb']:.0f} MB; {runs['probe']['info']}")
    return runs


# ------------------------------------------------------------------ --fit: the size search

def fit_main(args: argparse.Namespace) -> dict:
    from gif_editor.optimize import mean_error

    clips = {f"generated-like 64x64x16 #{s}": generated_like(s) for s in range(args.clips)}
    clips["photo 160x120x24"] = photographic()
    clips["photo with pauses 160x120x34"] = with_pauses(photographic())
    clips["pan 480x270x100"] = ge.load(photo_gif(100, (480, 270)))
    rows = []
    for name, clip in clips.items():
        plain = len(ge.save(clip))
        for share in (0.5, 0.25, 0.1):
            limit = int(plain * share)
            out = ge.apply(clip, [{"op": "max_size", "bytes": limit}])
            t = time.perf_counter()
            try:
                data = ge.save(out)
            except ge.GifEditorError as exc:
                rows.append({"clip": name, "share": share, "limit": limit, "error": str(exc)})
                continue
            seconds = time.perf_counter() - t
            note = out.info["notes"][-1]
            rows.append({"clip": name, "share": share, "limit": limit, "bytes": len(data),
                         "of_limit": len(data) / limit, "colour_error": mean_error(clip, data, scale_to_source=True),
                         "seconds": seconds, "chosen": note.split(" with ", 1)[1].rsplit(";", 1)[0],
                         "tries": int(note.rsplit("; ", 1)[1].split()[0])})
    print("| clip | limit | file / limit | colour error | chosen | encodes | seconds |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "bytes" not in r:
            print(f"| {r['clip']} | {r['limit']:,} B ({100 * r['share']:.0f}%) | {r['error']} | | | | |")
            continue
        print(f"| {r['clip']} | {r['limit']:,} B ({100 * r['share']:.0f}%) | {100 * r['of_limit']:.0f}% | "
              f"{r['colour_error']:.1f} | {r['chosen']} | {r['tries']} | {r['seconds']:.2f} |")
    return {"rows": rows, "load_avg_1min": os.getloadavg()[0], "cpu_count": os.cpu_count()}


# ------------------------------------------------------------------ --images: before / after pictures

def images_main(folder: Path) -> None:
    """Contact sheets (clipkit.sheet) of edits on real content, one row per clip, its caption below."""
    from clipkit.sheet import contact_sheet

    def arr(clip: Clip) -> np.ndarray:
        return np.stack([np.asarray(f.convert("RGB")) for f in clip.frames])

    folder.mkdir(parents=True, exist_ok=True)
    photo = ge.load(photo_gif(8, (320, 180)))
    text = "Hello from\ngif_editor"
    styles = [("plain white text", {}), ("outline 2 px", {"stroke_width": 2}),
              ("shadow 3 px", {"shadow": 3}), ("background box", {"box": True, "box_opacity": 170})]
    rows = [ge.apply(photo, [{"op": "trim", "end": 1}, {"op": "text", "text": text, "font_size": 30, "opacity": 255,
                              "color": "white", "position": "bottom", "align": "center", **extra}])
            for _, extra in styles]
    contact_sheet([arr(r) for r in rows], [c for c, _ in styles], folder / "gif_editor_text.png", frames=1)
    shapes = [("source 320x180", []), ("1:1 centred", [{"op": "crop", "aspect": "1:1"}]),
              ("9:16 at the left (x 0)", [{"op": "crop", "aspect": "9:16", "x": 0}]),
              ("4:5 at the right (x 100)", [{"op": "crop", "aspect": "4:5", "x": 100}])]
    one = ge.apply(photo, [{"op": "trim", "end": 1}])
    contact_sheet([arr(ge.apply(one, ops)) for _, ops in shapes], [c for c, _ in shapes],
                  folder / "gif_editor_shapes.png", frames=1)
    small = ge.apply(photo, [{"op": "resize", "width": 120, "keep_aspect": True}])
    timed = ge.Clip(small.frames, [100, 100, 400, 100, 100, 100, 100, 600])
    nth = ge.apply(timed, [{"op": "every_nth", "n": 2}])
    contact_sheet([arr(timed)], [f"8 frames, delays {timed.durations} ms"], folder / "gif_editor_every_nth_before.png",
                  frames=8)
    contact_sheet([arr(nth)], [f"every 2nd frame: delays {nth.durations} ms (the same 1.6 s)"],
                  folder / "gif_editor_every_nth_after.png", frames=4)
    noisy = generated_like(0, n=16, size=96)
    plain = ge.save(noisy)
    out = ge.apply(noisy, [{"op": "max_size", "bytes": len(plain) // 5}])
    data = ge.save(out)
    chosen = out.info["notes"][-1].split(" with ", 1)[1].rsplit(",", 1)[0].rsplit(";", 1)[0]
    contact_sheet([arr(noisy), arr(ge.load(data))], [f"plain save: {len(plain):,} bytes",
                                                     f"max size 20%: {len(data):,} bytes ({chosen})"],
                  folder / "gif_editor_max_size.png", frames=4)
    print("wrote", ", ".join(sorted(p.name for p in folder.glob("gif_editor_*.png"))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is reported")
    parser.add_argument("--optimize", action="store_true", help="measure the optimize op instead (size, error)")
    parser.add_argument("--run", help="with --optimize: also measure a trained run's samples")
    parser.add_argument("--clips", type=int, default=4, help="with --optimize: generated-like clips (seeds 0..N-1)")
    parser.add_argument("--video", action="store_true", help="measure decoding a 10 s 720p video to a 480-px GIF")
    parser.add_argument("--fit", action="store_true", help="measure the max_size search (closeness, time)")
    parser.add_argument("--images", metavar="DIR", help="write the docs' before/after pictures into DIR")
    parser.add_argument("--out", help="with --optimize, --video or --fit: write the results as JSON here")
    args = parser.parse_args()
    if args.optimize:
        optimize_main(args)
        return
    if args.images:
        images_main(Path(args.images))
        return
    if args.video or args.fit:
        results = video_main(args) if args.video else fit_main(args)
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
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
