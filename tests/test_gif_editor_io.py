"""Loading and saving: broken inputs, size guards, palettes, duplicates, MP4 (the Pillow facts behind them: clipkit/gif.py)."""
from __future__ import annotations

import hashlib
import io
import random

import numpy as np
import pytest
from PIL import Image

import gif_editor as ge
from gif_editor.encode import _mp4_timeline
from gif_fixtures import gif_info, make_frames, make_gif


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (random.Random(0).randbytes(2048), "not a GIF"),
    # A valid 16x16 screen descriptor followed by garbage.
    (b"GIF89a\x10\x00\x10\x00\x00\x00\x00" + random.Random(1).randbytes(64), "not a GIF|damaged|no frames"),
    (b"hello, this is a text file\n" * 10, "not a GIF"),
])
def test_broken_inputs_give_one_readable_error(data, message):
    with pytest.raises(ge.GifEditorError, match=message) as info:
        ge.load(data)
    assert "\n" not in str(info.value)


def test_truncated_gif_is_reported_not_padded():
    data = make_gif(n=6, size=(64, 48))
    with pytest.raises(ge.GifEditorError, match="damaged|truncated") as info:
        ge.load(data[: len(data) * 2 // 3])
    assert "\n" not in str(info.value)


def test_non_image_format_is_refused(tmp_path):
    bmp = io.BytesIO()
    Image.new("RGB", (8, 8)).save(bmp, format="BMP")
    with pytest.raises(ge.GifEditorError, match="not a GIF, PNG, JPEG or WebP"):
        ge.load(bmp.getvalue())


def test_still_png_and_jpeg_are_one_frame_clips():
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        Image.new("RGB", (30, 20), (10, 200, 30)).save(buf, format=fmt)
        clip = ge.load(buf.getvalue())
        assert clip.n_frames == 1 and clip.size == (30, 20) and clip.durations == [100]


def test_file_size_limit_checked_before_reading(tmp_path):
    path = tmp_path / "big.gif"
    path.write_bytes(make_gif(n=3))
    with pytest.raises(ge.GifEditorError, match="over the"):
        ge.load(path, max_bytes=100)


def test_pixel_budget_refused_before_decoding_frames(monkeypatch):
    data = make_gif(n=10, size=(64, 48))
    decoded = []
    original = Image.Image.convert
    monkeypatch.setattr(Image.Image, "convert", lambda self, *a, **k: decoded.append(1) or original(self, *a, **k))
    with pytest.raises(ge.GifEditorError, match="over the budget"):
        ge.load(data, max_pixels=64 * 48 * 9)
    assert decoded == []  # refused from the header and frame count alone
    assert ge.load(data, max_pixels=64 * 48 * 10).n_frames == 10


def test_missing_path_is_a_readable_error(tmp_path):
    with pytest.raises(ge.GifEditorError, match="no such file"):
        ge.load(tmp_path / "nope.gif")


def test_input_file_is_never_modified(tmp_path):
    path = tmp_path / "in.gif"
    path.write_bytes(make_gif(n=4))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    clip = ge.apply(ge.load(path), [{"op": "brightness", "factor": 2.0}, {"op": "speed", "factor": 2}])
    ge.save(clip, tmp_path / "out.gif")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_identical_frames_keep_the_total_duration():
    frame = make_frames(1)[0]
    clip = ge.Clip([frame, frame.copy(), frame.copy(), make_frames(2)[1]], [100, 200, 300, 50])
    info = gif_info(ge.save(clip))
    # Pillow merges equal neighbours into one frame; what must survive is the play time.
    assert info["total"] == 650


@pytest.mark.parametrize("palette", ["octree", "mediancut"])
def test_opaque_frames_get_a_good_palette(palette):
    # A smooth gradient with 3 channels needs an adaptive palette, not the web palette.
    x = np.linspace(0, 255, 96, dtype=np.uint8)
    arr = np.stack([*np.meshgrid(x, x[::-1]), np.full((96, 96), 128, np.uint8)], axis=-1)
    frame = Image.fromarray(arr, "RGB").convert("RGBA")
    clip = ge.Clip([frame, frame.transpose(Image.Transpose.FLIP_LEFT_RIGHT)], [100, 100])
    back = ge.load(ge.save(clip, palette=palette))
    err = np.abs(np.asarray(back.frames[0], int)[..., :3] - arr.astype(int)).mean()
    assert err < 4.0  # the fixed web palette is at ~19 here
    assert not back.transparent


def test_save_writes_atomically_and_refuses_unknown_suffix(tmp_path):
    clip = ge.load(make_gif())
    data = ge.save(clip, tmp_path / "sub" / "out.gif")
    assert (tmp_path / "sub" / "out.gif").read_bytes() == data
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["out.gif"]  # no temp file left
    with pytest.raises(ge.GifEditorError, match=".gif or .mp4"):
        ge.save(clip, tmp_path / "out.bmp")


def test_mp4_timeline_keeps_total_duration():
    fps, repeats = _mp4_timeline([40, 120, 0, 60])
    assert fps == 25
    assert sum(repeats) * 1000 / fps == pytest.approx(40 + 120 + 100 + 60, abs=1000 / fps)


def test_mp4_export_decodes_with_the_right_size_and_length(tmp_path):
    import imageio.v3 as iio

    clip = ge.load(make_gif(n=4, size=(63, 47), durations=[100, 100, 200, 100]))  # odd sides get padded
    ge.save(clip, tmp_path / "out.mp4")
    frames = iio.imread(tmp_path / "out.mp4")
    assert frames.shape[1:3] == (48, 64)
    assert frames.shape[0] == 5  # 10 fps: 1 + 1 + 2 + 1 frames for 500 ms


def test_truncated_files_are_not_silently_accepted_globally():
    from PIL import ImageFile

    data = make_gif(n=4)
    with pytest.raises(ge.GifEditorError):
        ge.load(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # the guard must not be switched off for everyone


def test_fully_transparent_frame_in_a_transparent_clip_is_written_readably():
    # Pillow 13 writes a corrupt frame when a frame equals its disposal-2 background.
    visible = Image.new("RGBA", (20, 10), (255, 0, 0, 255))
    empty = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    clip = ge.Clip([visible, empty, visible.copy()], [100, 200, 300], transparent=True)
    back = ge.load(ge.save(clip))
    assert back.total_duration == 600
    assert back.frames[1].getextrema()[3] == (0, 0)
    assert back.frames[-1].getextrema()[3] == (255, 255)


def test_delta_encoded_frames_are_composed_in_full():
    # Pillow writes later frames as changed sub-rectangles; loading must rebuild whole frames.
    frames = []
    for i in range(5):
        im = Image.new("RGB", (64, 48), (20, 40, 60))
        im.paste((250, 200, 40), (i * 10, 10, i * 10 + 12, 30))
        frames.append(im)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        im.seek(3)
        assert im.tile[0][1] != (0, 0, 64, 48)  # really a partial frame on disk
    clip = ge.load(buf.getvalue())
    for frame, expected in zip(clip.frames, frames):
        assert (np.asarray(frame.convert("RGB")) == np.asarray(expected)).all()
