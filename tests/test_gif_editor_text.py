"""Text people can read on any background: outline, shadow, background box, several lines, a frame
range; and crops to a shape (aspect presets, centred or placed)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import gif_editor as ge
from gif_editor.cli import main
from gif_editor.geometry import aspect_box


def flat(colour=(255, 255, 255), n=3, size=(160, 90)):
    return ge.Clip([Image.new("RGBA", size, colour + (255,)) for _ in range(n)], [100] * n)


def changed(a: Image.Image, b: Image.Image) -> np.ndarray:
    return np.any(np.asarray(a) != np.asarray(b), axis=-1)


def test_outline_makes_white_text_visible_on_white():
    clip = flat()
    plain = ge.apply(clip, [{"op": "text", "text": "Hello", "font_size": 30, "opacity": 255, "color": "white"}])
    assert not changed(clip.frames[0], plain.frames[0]).any()  # white on white: nothing to see
    outlined = ge.apply(clip, [{"op": "text", "text": "Hello", "font_size": 30, "opacity": 255, "color": "white",
                                "stroke_width": 2, "stroke_color": "black"}])
    dark = np.asarray(outlined.frames[0].convert("L")) < 60
    assert dark.sum() > 100  # the outline draws black pixels around the letters


def test_shadow_and_box_each_add_ink_and_the_box_holds_the_text():
    clip = flat((200, 200, 200))
    base = {"op": "text", "text": "Hi", "font_size": 30, "opacity": 255, "color": "white", "position": "center"}
    plain = changed(clip.frames[0], ge.apply(clip, [base]).frames[0])
    shadow = changed(clip.frames[0], ge.apply(clip, [{**base, "shadow": 3}]).frames[0])
    boxed = ge.apply(clip, [{**base, "box": True, "box_color": "#000000", "box_opacity": 255, "padding": 8}])
    box = changed(clip.frames[0], boxed.frames[0])
    assert shadow.sum() > plain.sum() and box.sum() > shadow.sum()
    ys, xs = np.nonzero(plain)
    ys2, xs2 = np.nonzero(box)
    assert xs2.min() <= xs.min() - 7 and xs2.max() >= xs.max() + 7  # the padding around the ink
    assert ys2.min() <= ys.min() - 7 and ys2.max() >= ys.max() + 7


def test_semi_transparent_text_over_a_box_blends_and_punches_no_hole():
    clip = flat((0, 0, 255))
    out = ge.apply(clip, [{"op": "text", "text": "IIII", "font_size": 40, "opacity": 128, "color": "#ff0000",
                           "box": True, "box_color": "#00ff00", "box_opacity": 255, "position": "center"}])
    arr = np.asarray(out.frames[0])
    assert (arr[..., 3] == 255).all()  # composited: no see-through pixels where the text is
    text_pixels = (arr[..., 0] > 100) & (arr[..., 1] > 60)  # red text over the green box: both show
    assert text_pixels.any()


def test_several_lines_stack_and_align():
    clip = flat(size=(200, 120))
    one = changed(clip.frames[0], ge.apply(clip, [{"op": "text", "text": "wide line", "opacity": 255,
                                                   "color": "black", "position": "top-left"}]).frames[0])
    two = changed(clip.frames[0], ge.apply(clip, [{"op": "text", "text": "wide line\nx", "opacity": 255,
                                                   "color": "black", "position": "top-left"}]).frames[0])
    assert np.nonzero(two)[0].max() > np.nonzero(one)[0].max() + 10  # a second line below the first

    def second_line_x(align):
        out = ge.apply(clip, [{"op": "text", "text": "wide line\nx", "opacity": 255, "color": "black",
                               "position": "top-left", "align": align}])
        ink = changed(clip.frames[0], out.frames[0])
        rows = np.nonzero(ink.any(axis=1))[0]
        return np.nonzero(ink[rows.max()])[0].mean()

    assert second_line_x("left") < second_line_x("center") < second_line_x("right")


def test_text_on_a_range_of_frames_only():
    clip = flat(n=5)
    out = ge.apply(clip, [{"op": "text", "text": "Hi", "opacity": 255, "color": "black", "start": 1, "end": 3}])
    touched = [bool(changed(a, b).any()) for a, b in zip(clip.frames, out.frames)]
    assert touched == [False, True, True, False, False]
    with pytest.raises(ge.GifEditorError, match="'end' must be between"):
        ge.apply(clip, [{"op": "text", "text": "Hi", "start": 3, "end": 2}])


@pytest.mark.parametrize("aspect, ratio", [("1:1", 1.0), ("4:5", 0.8), ("16:9", 16 / 9), ("9:16", 9 / 16)])
def test_aspect_presets_crop_the_largest_centred_box(aspect, ratio):
    clip = flat(size=(300, 200))
    out = ge.apply(clip, [{"op": "crop", "aspect": aspect}])
    w, h = out.size
    assert abs(w / h - ratio) <= 1 / min(w, h) and (w == 300 or h == 200)
    assert ge.predict_size(clip.size, [{"op": "crop", "aspect": aspect}]) == (w, h)


def test_aspect_box_is_placed_by_percent_and_sits_inside_the_margins():
    assert aspect_box((0, 0, 300, 200), 1.0, x=0) == (0, 0, 200, 200)
    assert aspect_box((0, 0, 300, 200), 1.0) == (50, 0, 250, 200)
    assert aspect_box((0, 0, 300, 200), 1.0, x=100) == (100, 0, 300, 200)
    assert aspect_box((0, 0, 100, 300), 1.0, y=0) == (0, 0, 100, 100)
    gradient = ge.Clip([Image.fromarray(np.tile(np.arange(200, dtype=np.uint8), (100, 1))).convert("RGBA")], [100])
    out = ge.apply(gradient, [{"op": "crop", "left": 50, "aspect": "1:1", "x": 100}])
    assert out.size == (100, 100) and out.frames[0].getpixel((0, 0))[0] == 100  # margins first, then the shape
    with pytest.raises(ge.GifEditorError, match="aspect must look like"):
        ge.apply(gradient, [{"op": "crop", "aspect": "wide"}])


def test_cli_text_and_aspect_options(tmp_path, capsys):
    from gif_fixtures import make_gif

    src = tmp_path / "in.gif"
    src.write_bytes(make_gif(n=3, size=(160, 90)))
    assert main([str(src), "-o", str(tmp_path / "out.gif"), "--aspect", "9:16", "--aspect-at", "0", "50",
                 "--text", r"top\nbottom", "--outline", "2", "--shadow", "1", "--text-box", "--position", "bottom",
                 "--align", "center", "--text-frames", "0", "2"]) == 0
    assert "(51x90, 3 frames" in capsys.readouterr().out
