"""Invariants of the GIF operations: per-frame timing, loop and transparency survive (docs/gif_editor.md)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance

import gif_editor as ge
from gif_editor.ops import ORDER, crop_box, keep_aspect_size, speed_delay
from gif_fixtures import gif_info, make_gif


def clip_of(**kw) -> ge.Clip:
    return ge.load(make_gif(**kw))


def pixels(clip: ge.Clip) -> np.ndarray:
    return np.stack([np.asarray(f) for f in clip.frames])


def test_noop_edit_keeps_total_duration_loop_and_variable_delays():
    data = make_gif(n=5, durations=[30, 70, 120, 40, 250], loop=3)
    out = gif_info(ge.save(ge.apply(ge.load(data), [])))
    assert out["durations"] == [30, 70, 120, 40, 250]
    assert out["loop"] == 3


def test_missing_loop_block_means_play_once_and_stays_missing():
    clip = clip_of(loop=None)
    assert clip.loop is None
    assert gif_info(ge.save(clip))["loop"] is None


def test_transparency_survives_without_trails():
    clip = clip_of(n=4, transparent=True)
    assert clip.transparent
    back = ge.load(ge.save(clip))
    assert back.transparent
    for before, after in zip(clip.frames, back.frames):
        # Same see-through pixels frame by frame: no earlier frame shows through (disposal 2).
        a0 = np.asarray(before.getchannel("A")) >= 128
        a1 = np.asarray(after.getchannel("A")) >= 128
        assert (a0 == a1).all()


def test_every_frame_is_edited():
    clip = clip_of(n=6)
    out = ge.apply(clip, [{"op": "grayscale"}])
    for frame in out.frames:
        rgb = np.asarray(frame)[..., :3].astype(int)
        assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


@pytest.mark.parametrize("degrees", [90, 270])
def test_quarter_turns_swap_sides(degrees):
    out = ge.apply(clip_of(size=(64, 48)), [{"op": "rotate", "degrees": degrees}])
    assert out.size == (48, 64)


def test_rotate_is_clockwise_and_exact():
    clip = clip_of(size=(64, 48))
    out = ge.apply(clip, [{"op": "rotate", "degrees": 90}])
    src, dst = np.asarray(clip.frames[0]), np.asarray(out.frames[0])
    assert (dst == np.rot90(src, k=-1)).all()  # k=-1 is clockwise
    back = ge.apply(out, [{"op": "rotate", "degrees": 270}])
    assert (pixels(back) == pixels(clip)).all()


@pytest.mark.parametrize("src,width,height,expected", [
    ((640, 360), 320, None, (320, 180)),
    ((640, 360), None, 90, (160, 90)),
    ((100, 300), 50, None, (50, 150)),
    ((333, 100), 100, None, (100, 30)),
])
def test_keep_aspect_arithmetic(src, width, height, expected):
    assert keep_aspect_size(src, width, height) == expected


def test_resize_keep_aspect_width_wins_and_free_resize_uses_both():
    clip = clip_of(size=(64, 48))
    assert ge.apply(clip, [{"op": "resize", "width": 128, "height": 999 // 10, "keep_aspect": True}]).size == (128, 96)
    assert ge.apply(clip, [{"op": "resize", "width": 100, "height": 50}]).size == (100, 50)
    with pytest.raises(ge.GifEditorError, match="between 50 and 1000"):
        ge.apply(clip, [{"op": "resize", "width": 20}])


def test_crop_box_arithmetic_and_at_least_one_pixel():
    assert crop_box((200, 100), 10, 20, 5, 15) == (20, 5, 160, 85)
    assert crop_box((3, 3), 60, 0, 0, 0) == (2, 0, 3, 3)  # one column left
    assert crop_box((8, 8), 0, 0, 44, 44) == (0, 4, 8, 5)  # rounding would leave 0 px: clamped to 1
    with pytest.raises(ge.GifEditorError, match="under 100%"):
        crop_box((200, 100), 50, 50, 0, 0)
    out = ge.apply(clip_of(size=(64, 48)), [{"op": "crop", "left": 25, "right": 25, "top": 0, "bottom": 50}])
    assert out.size == (32, 24)


@pytest.mark.parametrize("delay,factor,expected", [
    (100, 2.0, 50), (100, 0.5, 200), (40, 5.0, 20), (10, 1.5, 20), (0, 2.0, 50), (0, 1.0, 100), (70, 3.0, 20),
    (130, 1.3, 100), (15, 0.1, 150), (50, 2.0, 30), (70, 2.0, 40),
])
def test_speed_clamp_and_rounding(delay, factor, expected):
    assert speed_delay(delay, factor) == expected


def test_speed_scales_each_frames_own_delay():
    clip = clip_of(n=3, durations=[40, 100, 300])
    out = ge.apply(clip, [{"op": "speed", "factor": 2.0}])
    assert out.durations == [20, 50, 150]
    assert gif_info(ge.save(out))["durations"] == [20, 50, 150]


def test_brightness_and_contrast_one_change_nothing():
    clip = clip_of()
    for op in ("brightness", "contrast"):
        assert (pixels(ge.apply(clip, [{"op": op, "factor": 1.0}])) == pixels(clip)).all()


def test_brightness_matches_pillow_and_leaves_alpha():
    clip = clip_of(transparent=True)
    out = ge.apply(clip, [{"op": "brightness", "factor": 1.7}])
    for before, after in zip(clip.frames, out.frames):
        assert before.getchannel("A").tobytes() == after.getchannel("A").tobytes()
        expected = ImageEnhance.Brightness(before.convert("RGB")).enhance(1.7)
        diff = np.abs(np.asarray(expected, int) - np.asarray(after.convert("RGB"), int))
        assert diff.max() <= 1


def test_contrast_matches_pillow_on_opaque_frames():
    clip = clip_of()
    out = ge.apply(clip, [{"op": "contrast", "factor": 2.2}])
    expected = ImageEnhance.Contrast(clip.frames[1].convert("RGB")).enhance(2.2)
    assert np.abs(np.asarray(expected, int) - np.asarray(out.frames[1].convert("RGB"), int)).max() <= 1


def test_text_opacity_zero_changes_nothing():
    clip = clip_of()
    out = ge.apply(clip, [{"op": "text", "text": "hello", "opacity": 0, "font_size": 30}])
    assert (pixels(out) == pixels(clip)).all()


@pytest.mark.parametrize("position,region", [
    ("top-left", (slice(0, 60), slice(0, 100))), ("top-right", (slice(0, 60), slice(100, 200))),
    ("bottom-left", (slice(60, 120), slice(0, 100))), ("bottom-right", (slice(60, 120), slice(100, 200))),
    ("center", (slice(30, 90), slice(50, 150))),
])
def test_each_watermark_position_touches_only_its_region(position, region):
    clip = ge.Clip([Image.new("RGBA", (200, 120), (0, 0, 0, 255))], [100])
    out = ge.apply(clip, [{"op": "text", "text": "ÄÖ ß", "font_size": 20, "opacity": 255, "position": position}])
    changed = (np.asarray(out.frames[0]) != np.asarray(clip.frames[0])).any(axis=2)
    assert changed[region].any()
    outside = changed.copy()
    outside[region] = False
    assert not outside.any()


def test_semi_transparent_text_is_composited_not_punched_through():
    clip = ge.Clip([Image.new("RGBA", (120, 60), (0, 0, 255, 255))], [100])
    out = ge.apply(clip, [{"op": "text", "text": "Hi", "font_size": 40, "opacity": 100, "color": "#ffffff",
                           "position": "center"}])
    arr = np.asarray(out.frames[0])
    assert arr[..., 3].min() == 255  # still fully opaque everywhere
    assert arr[..., 0].max() > 0  # white blended over blue


def test_image_watermark_with_opacity(tmp_path):
    logo = Image.new("RGBA", (20, 20), (255, 0, 0, 255))
    logo.save(tmp_path / "logo.png")
    clip = ge.Clip([Image.new("RGBA", (100, 100), (0, 0, 0, 255))], [100])
    out = ge.apply(clip, [{"op": "image_watermark", "path": str(tmp_path / "logo.png"), "opacity": 128,
                           "scale": 0.2, "position": "top-left", "margin": 5}])
    arr = np.asarray(out.frames[0]).astype(int)
    assert abs(arr[10, 10, 0] - 128) <= 1 and arr[50, 50, 0] == 0
    with pytest.raises(ge.GifEditorError, match="not found"):
        ge.apply(clip, [{"op": "image_watermark", "path": str(tmp_path / "nope.png")}])


def test_flip_reverse_boomerang_trim():
    clip = clip_of(n=5, durations=[10, 20, 30, 40, 50])
    assert ge.apply(clip, [{"op": "reverse"}]).durations == [50, 40, 30, 20, 10]
    assert ge.apply(clip, [{"op": "boomerang"}]).durations == [10, 20, 30, 40, 50, 40, 30, 20]
    assert ge.apply(clip, [{"op": "trim", "start": 1, "end": 3}]).durations == [20, 30]
    flipped = ge.apply(clip, [{"op": "flip_horizontal"}, {"op": "flip_vertical"}])
    assert (pixels(flipped) == pixels(clip)[:, ::-1, ::-1]).all()


def test_operations_run_in_the_documented_order_whatever_the_list_order():
    clip = clip_of(size=(64, 48))
    ops = [{"op": "speed", "factor": 2}, {"op": "resize", "width": 100, "keep_aspect": True},
           {"op": "rotate", "degrees": 90}]
    assert [o["op"] for o in ge.normalize(ops)] == ["rotate", "resize", "speed"]
    assert ge.apply(clip, ops).size == (100, 133)  # rotated to 48x64 first, then resized
    assert ge.apply(clip, ops[::-1]).size == (100, 133)
    assert list(ORDER).index("crop") < list(ORDER).index("resize")


@pytest.mark.parametrize("ops,message", [
    ([{"op": "explode"}], "unknown operation"),
    ([{"op": "speed", "factor": 9}], "between 0.1 and 5.0"),
    ([{"op": "speed", "factor": 2}, {"op": "speed", "factor": 3}], "twice"),
    ([{"op": "rotate", "degrees": 45}], "0, 90, 180 or 270"),
    ([{"op": "brightness", "factor": "bright"}], "must be a number"),
    ([{"op": "text", "text": "x", "color": "not-a-colour"}], "not a colour"),
    ([{"op": "text", "text": "x", "position": "middle"}], "position must be"),
    (["resize"], "must be an object"),
])
def test_bad_operations_are_one_readable_error(ops, message):
    with pytest.raises(ge.GifEditorError, match=message):
        ge.apply(clip_of(), ops)


def test_apply_does_not_change_its_input_clip():
    clip = clip_of()
    before = pixels(clip).copy(), list(clip.durations)
    ge.apply(clip, [{"op": "brightness", "factor": 2.0}, {"op": "text", "text": "x"}, {"op": "speed", "factor": 2}])
    assert (pixels(clip) == before[0]).all() and clip.durations == before[1]


def test_ops_are_json_serialisable_round_trip():
    import json

    ops = [{"op": "crop", "left": 10, "right": 0, "top": 5, "bottom": 5}, {"op": "text", "text": "Привет"}]
    clip = clip_of()
    a = ge.apply(clip, ops)
    b = ge.apply(clip, json.loads(json.dumps(ops)))
    assert (pixels(a) == pixels(b)).all()
