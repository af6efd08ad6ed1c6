"""Benchmark: gif_editor's processor against the straightforward per-frame Pillow loop.

    python benchmarks/bench_gif_editor.py [--repeat 3]

Content is a pan across a real photo (scikit-learn's bundled sample), because the GIF palette
step dominates and its cost depends on how many colours the frames hold. Cases (from issue 5): a 100-frame 480x270 GIF with resize + text watermark + brightness + speed
(load, edit, save end to end), and the editor's Preview of a 60-frame 800x450 GIF (decoded
source cached, as the widget does). Prints one line per case and a JSON summary.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageSequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gif_editor as ge  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is reported")
    args = parser.parse_args()

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
