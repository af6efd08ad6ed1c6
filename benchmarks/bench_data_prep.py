"""Speed of data_prep's two hot paths; prints one JSON object.

1. MSR-VTT-like conversion: N MP4 clips (10 s, 320x240, 30 fps, with annotations) -> 64x64, 16-frame GIF pairs
   through prepare_msrvtt with --workers (target: 100 clips in < 60 s on 2 cores).
2. Labeled moving digits: 1,000 clips (32x32, 8 frames) written as pairs (target: < 30 s).

    python benchmarks/bench_data_prep.py [--clips 100] [--workers 2] [--digits 1000] [--work DIR]

The synthetic MP4s are written once into --work (default: a temp folder) and reused; their encoding
time is not counted.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def make_videos(folder: Path, count: int, seconds: float = 10, fps: int = 30, size=(320, 240)) -> None:
    """MSR-VTT-like clips: a moving textured scene, x264, plus an official-schema annotation file."""
    import imageio_ffmpeg

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(count):
        path = folder / f"video{k}.mp4"
        if path.exists():
            continue
        texture = rng.integers(0, 255, (size[1] // 8, size[0] // 8 + 40, 3), dtype=np.uint8)
        texture = np.kron(texture, np.ones((8, 8, 1), np.uint8))
        writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, ffmpeg_log_level="error",
                                             output_params=["-preset", "veryfast"])
        writer.send(None)
        for i in range(int(seconds * fps)):
            x = i % 320
            writer.send(np.ascontiguousarray(texture[:, x: x + size[0]]).tobytes())
        writer.close()
    sentences = [{"video_id": f"video{k}", "caption": f"a scene number {k}", "sen_id": k} for k in range(count)]
    (folder / "videodatainfo.json").write_text(json.dumps({"videos": [{"video_id": f"video{k}"} for k in range(count)],
                                                           "sentences": sentences}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--digits", type=int, default=1000)
    parser.add_argument("--work", default=None, help="folder for the synthetic MP4s (kept between runs)")
    args = parser.parse_args()

    from data_prep import prepare_moving_mnist, prepare_msrvtt

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_data_prep_"))
    videos = work / "msrvtt_like"
    t0 = time.perf_counter()
    make_videos(videos, args.clips)
    make_s = time.perf_counter() - t0

    out = work / "msrvtt_pairs"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    report = prepare_msrvtt(out, source=str(videos), limit=args.clips, size=64, frames=16, fps=8,
                            workers=args.workers, progress=False)
    video_s = time.perf_counter() - t0

    digits_out = work / "digit_pairs"
    shutil.rmtree(digits_out, ignore_errors=True)
    t0 = time.perf_counter()
    digits_report = prepare_moving_mnist(digits_out, num=args.digits, size=32, frames=8, digits="sklearn",
                                         progress=False)
    digits_s = time.perf_counter() - t0

    digits_64 = work / "digit_pairs_64"
    shutil.rmtree(digits_64, ignore_errors=True)
    t0 = time.perf_counter()
    prepare_moving_mnist(digits_64, num=args.digits, size=64, frames=16, digits="sklearn", progress=False)
    digits64_s = time.perf_counter() - t0

    print(json.dumps({
        "cpu_count": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2),
        "mp4_clips": args.clips, "mp4_workers": args.workers, "mp4_pairs_written": report["kept"],
        "mp4_to_gif_s": round(video_s, 2), "mp4_clips_per_s": round(report["kept"] / video_s, 2),
        "mp4_target_s": 60, "labeled_clips": digits_report["kept"], "labeled_32x32x8_s": round(digits_s, 2),
        "labeled_64x64x16_s": round(digits64_s, 2), "labeled_target_s": 30,
        "synthetic_mp4_encode_s": round(make_s, 2), "work": str(work),
    }, indent=2))


if __name__ == "__main__":
    main()
