"""vdiff.video: tensor <-> uint8, GIF and MP4 files, grids and contact sheets."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from clipkit.gif import gif_duration_ms
from vdiff.core.media import contact_sheet, gif_grid, load_gif, save_gif, save_mp4, to_uint8

COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 0, 0]], dtype=np.uint8)


def _solid_clip(n_frames=4, h=8, w=10, offset=0) -> np.ndarray:
    """Each frame one distinct solid colour: exact through a GIF palette, visible through H.264."""
    colours = COLOURS[(np.arange(n_frames) + offset) % len(COLOURS)]
    return np.broadcast_to(colours[:, None, None, :], (n_frames, h, w, 3)).copy()


def test_to_uint8_clamps_before_casting():
    """Without the clamp a float above 1 wraps around when cast to uint8 (1.5 * 255 = 382 -> 126)."""
    x = torch.tensor([1.5, 1.0, 0.0, -1.0, -1.5, 3.0]).view(1, 1, 1, 1, 6)
    assert to_uint8(x).ravel().tolist() == [255, 255, 128, 0, 0, 255]


def test_to_uint8_layout_and_dtype():
    x = torch.zeros(2, 3, 4, 5, 6)
    x[1, 2, 3, 4, 5] = 1.0
    out = to_uint8(x)
    assert out.dtype == np.uint8 and out.shape == (2, 4, 5, 6, 3)
    assert out[1, 3, 4, 5, 2] == 255 and out[1, 3, 4, 5, 1] == 128
    assert to_uint8(x[1]).shape == (4, 5, 6, 3)
    with pytest.raises(ValueError, match="to_uint8"):
        to_uint8(torch.zeros(3, 4, 5))


def test_gif_round_trip_loops_with_millisecond_durations(tmp_path):
    clip = _solid_clip()
    path = save_gif(clip, tmp_path / "sub" / "clip.gif", fps=5)
    np.testing.assert_array_equal(load_gif(path), clip)
    with Image.open(path) as im:
        assert im.info["loop"] == 0 and im.info["duration"] == 200
    assert gif_duration_ms(8) == 120 and gif_duration_ms(100) == 20  # 1/100 s steps, >= 20 ms


def test_grey_clips_save_and_load_as_rgb(tmp_path):
    grey = np.stack([np.full((6, 6, 1), v, np.uint8) for v in (0, 100, 200)])
    loaded = load_gif(save_gif(grey, tmp_path / "g.gif"))
    assert loaded.shape == (3, 6, 6, 3)
    np.testing.assert_array_equal(loaded[..., 0], grey[..., 0])


def test_save_gif_refuses_float_frames(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        save_gif(np.zeros((2, 4, 4, 3), np.float32), tmp_path / "x.gif")
    assert not list(tmp_path.iterdir())


def test_load_gif_errors_name_the_file_and_leave_it_alone(tmp_path):
    broken = tmp_path / "broken.gif"
    broken.write_bytes(b"GIF89a\x10\x00garbage")
    before = broken.read_bytes()
    with pytest.raises(ValueError, match="broken.gif"):
        load_gif(broken)
    assert broken.read_bytes() == before
    png = tmp_path / "image.gif"
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    with pytest.raises(ValueError, match="not a GIF"):
        load_gif(png)
    with pytest.raises(ValueError, match="missing.gif"):
        load_gif(tmp_path / "missing.gif")
    big = save_gif(_solid_clip(4, 16, 16), tmp_path / "big.gif")
    with pytest.raises(ValueError, match="too large"):
        load_gif(big, max_pixels=16 * 16 * 3)


def test_mp4_round_trip(tmp_path):
    import imageio.v3 as iio

    clip = _solid_clip(6, 16, 15)  # odd width is padded, not rescaled
    path = save_mp4(clip, tmp_path / "clip.mp4", fps=8)
    frames = np.stack(list(iio.imiter(path)))
    assert frames.shape == (6, 16, 16, 3)
    assert np.abs(frames[:, :, :15].astype(int) - clip.astype(int)).mean() < 12


def test_gif_grid_tiles_clips_and_holds_the_last_frame(tmp_path):
    a, b, c = _solid_clip(4), _solid_clip(4, offset=1), _solid_clip(2, offset=2)
    grid = load_gif(gif_grid([a, b, c], tmp_path / "grid.gif", ncols=2, pad=2))
    h, w = 8, 10
    assert grid.shape == (4, 2 + 2 * (h + 2), 2 + 2 * (w + 2), 3)
    np.testing.assert_array_equal(grid[:, 2:2 + h, 2:2 + w], a)
    np.testing.assert_array_equal(grid[:, 2:2 + h, 4 + w:4 + 2 * w], b)
    bottom = grid[:, 4 + h:4 + 2 * h, 2:2 + w]
    np.testing.assert_array_equal(bottom[:2], c)
    np.testing.assert_array_equal(bottom[3], c[-1])
    with pytest.raises(ValueError, match="frame size"):
        gif_grid([a, _solid_clip(4, 9, 9)], tmp_path / "bad.gif")


def test_contact_sheet_draws_frames_and_captions(tmp_path):
    clips = [_solid_clip(8), _solid_clip(8, offset=2)]
    path = contact_sheet(clips, ["digit 5 moving left", "café: ünïcode wörks"], tmp_path / "sheet.png", frames=3)
    sheet = np.asarray(Image.open(path).convert("RGB"))
    # 8x10 frames are enlarged 8x (to at least 64 px); 3 frames across with 4 px gaps.
    assert sheet.shape[1] == 4 + 3 * (80 + 4)
    np.testing.assert_array_equal(sheet[4 + 32, 4 + 40], COLOURS[0])  # first frame of clip 0
    np.testing.assert_array_equal(sheet[4 + 32, 4 + 2 * 84 + 40], COLOURS[7 % 5])  # its last frame
    caption_band = sheet[4 + 64 + 2: 4 + 64 + 16]
    assert (caption_band.sum(axis=-1) < 200).any()  # dark caption pixels under the frames
    with pytest.raises(ValueError, match="captions"):
        contact_sheet(clips, ["only one"], tmp_path / "bad.png")


def test_contact_sheet_accepts_clips_of_different_sizes(tmp_path):
    small, wide = _solid_clip(3, 8, 8), _solid_clip(5, 16, 32, offset=1)
    sheet = np.asarray(Image.open(contact_sheet([small, wide], ["a", "b"], tmp_path / "s.png", frames=2)))
    # One common frame height (64: the 8 px clip enlarged 8x, the 16 px one 4x), aspect kept.
    assert sheet.shape[1] == 4 + 2 * (128 + 4)
    np.testing.assert_array_equal(sheet[4 + 32, 4 + 60], COLOURS[0])        # small clip, 64 px wide
    assert (sheet[4 + 32, 4 + 64 + 2] == 255).all()                          # white gap after it
    np.testing.assert_array_equal(sheet[4 + 32, 4 + 68 + 32], COLOURS[2])   # its last frame next
    second_row = 4 + 64 + 4 + 15 + 4 + 4 + 32
    np.testing.assert_array_equal(sheet[second_row, 4 + 120], COLOURS[1])   # wide clip, 128 px wide
