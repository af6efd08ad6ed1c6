"""Video in: MP4, WebM, MOV and MKV files encoded here by ffmpeg (imageio-ffmpeg's binary) are read
as clips, with a start and end time, a frame rate and a longest side, and probed without decoding."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

import gif_editor as ge
from gif_editor.cli import main
from gif_editor.video import centisecond_delays

FPS, SECONDS, SIZE = 25, 4, (160, 90)
CODECS = {"mp4": "libx264", "mov": "libx264", "mkv": "libx264", "webm": "libvpx-vp9"}


def grey_video(path, fps=FPS, seconds=SECONDS, size=SIZE, codec="libx264"):
    """Frame i is a flat grey of level 10 + 2i (so a frame's level tells its time) with a white bar."""
    import imageio_ffmpeg

    w, h = size
    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec=codec, pix_fmt_out="yuv420p",
                                         macro_block_size=1, quality=None, bitrate=None,
                                         output_params=["-crf", "10"] if codec == "libx264" else ["-b:v", "1M"],
                                         ffmpeg_log_level="error")
    writer.send(None)
    for i in range(fps * seconds):
        frame = np.full((h, w, 3), 10 + 2 * i, np.uint8)
        frame[:, (i * 3) % w: (i * 3) % w + 4] = 255
        writer.send(frame)
    writer.close()
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return {ext: grey_video(folder / f"clip.{ext}", codec=codec) for ext, codec in CODECS.items()}


def level(frame) -> float:
    return float(np.median(np.asarray(frame.convert("L"))))


def test_probe_reads_the_header_and_predicts_the_clip(videos):
    info = ge.probe_video(videos["mp4"])
    assert (info.width, info.height, info.fps) == (*SIZE, FPS) and abs(info.duration - SECONDS) < 0.1
    start, end, fps, size, frames = info.output(start=1, end=3, fps=10, max_side=80)
    assert (start, end, fps, size, frames) == (1.0, 3.0, 10.0, (80, 45), 20)
    assert "-> 20 frames of 80x45" in info.describe(start=1, end=3, fps=10, max_side=80)
    assert info.output(fps=60)[2] == FPS  # never more frames than the video has


@pytest.mark.parametrize("ext", sorted(CODECS))
def test_every_container_decodes_the_range_it_was_asked_for(videos, ext):
    clip = ge.load(videos[ext], start=2.0, end=3.0, fps=5, max_side=80)
    assert clip.size == (80, 45) and clip.n_frames == 5 and clip.loop == 0
    assert clip.durations == [200] * 5
    # the first frame is the video's frame at 2.0 s (frame 50: level 110), the next 0.2 s later (+10 levels)
    assert abs(level(clip.frames[0]) - 110) <= 4 and abs(level(clip.frames[1]) - 120) <= 4


def test_defaults_and_upload_bytes(videos):
    data = videos["webm"].read_bytes()
    clip = ge.load(data, name="phone.webm")  # bytes: recognised by their header, as an upload is
    assert clip.n_frames == 15 * SECONDS and clip.size == SIZE  # 15 fps default, small videos not enlarged
    assert sum(clip.durations) == SECONDS * 1000 and set(clip.durations) <= {60, 70}
    assert sum(centisecond_delays(7, 3)) == round(7 / 3 * 100) * 10


def test_bad_requests_are_one_line_errors_before_decoding(videos, tmp_path):
    with pytest.raises(ge.GifEditorError, match="start 9 s is outside the video"):
        ge.load(videos["mp4"], start=9)
    with pytest.raises(ge.GifEditorError, match="end 1 s must be after start 2 s"):
        ge.load(videos["mp4"], start=2, end=1)
    with pytest.raises(ge.GifEditorError, match="over the budget"):
        ge.load(videos["mp4"], max_pixels=10_000)
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"garbage" * 50)
    with pytest.raises(ge.GifEditorError, match="not a video ffmpeg can read") as err:
        ge.load(fake)
    assert "\n" not in str(err.value)
    with pytest.raises(ge.GifEditorError, match="apply to videos"):
        ge.load(ge.save(ge.Clip(ge.load(videos["mp4"], end=0.2).frames, [100] * 3)), fps=5)


def test_cli_probes_converts_and_never_touches_the_video(videos, tmp_path, capsys):
    src = videos["mov"]
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    assert main([str(src), "--probe", "--start", "1", "--fps", "10"]) == 0
    assert "160x90, 25 fps, 4.00 s (h264); 1-4.00 s at 10 fps -> 30 frames of 160x90" in capsys.readouterr().out
    out = tmp_path / "clip.gif"
    assert main([str(src), "-o", str(out), "--start", "1", "--end", "2", "--fps", "10", "--max-side", "64",
                 "--text", "hi", "--optimize"]) == 0
    line = capsys.readouterr().out
    assert "-> 10 frames of 64x36" in line and "(64x36, 10 frames, 1.00 s" in line
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    gif = tmp_path / "in.gif"
    gif.write_bytes(ge.save(ge.load(src, end=0.5)))
    assert main([str(gif), "-o", str(tmp_path / "x.gif"), "--fps", "5"]) == 2
    assert "apply to video input" in capsys.readouterr().err


def test_mp4_made_by_the_editor_reads_back_as_the_same_clip(tmp_path):
    """Round trip: gif_editor's own MP4 export (clipkit.mp4, H.264) is an input too."""
    clip = ge.load(grey_video(tmp_path / "a.mp4", seconds=1), fps=5)
    path = tmp_path / "b.mp4"
    ge.save(clip, path)
    back = ge.load(path, fps=5)
    assert back.n_frames == clip.n_frames and abs(level(back.frames[2]) - level(clip.frames[2])) <= 4
