"""The editor answers as you move it: the Edited pane shows the clip from the start, the preview
follows the controls (debounced), large clips wait for Preview; and the new controls (video, frames,
text, crop to a shape, the delay floor, a size limit) reach the operation list."""
from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

import gif_editor as ge  # noqa: E402
from gif_editor import ui  # noqa: E402
from gif_editor.ui import Editor  # noqa: E402
from gif_fixtures import gif_info, make_gif  # noqa: E402


def test_the_edited_pane_shows_the_clip_on_load_not_a_broken_image():
    empty = Editor()
    assert gif_info(empty.result.value)["size"] == (1, 1)  # a see-through pixel, not b"" (a broken-image icon)
    ed = Editor(make_gif(n=4, size=(120, 80)))
    info = gif_info(ed.result.value)
    assert info["size"] == (120, 80) and info["n_frames"] == 4
    assert "loaded" in ed.status.value


def test_the_preview_follows_the_controls_debounced():
    ed = Editor(make_gif(n=4, size=(120, 80)))
    first = ed.result.value
    ed.width.value = 60  # no Preview press
    ed.grayscale.value = True
    ed.wait_preview()
    info = gif_info(ed.result.value)
    assert ed.result.value != first and info["size"] == (60, 40)
    assert "60x40" in ed.result_info.value
    ed.live.value = False  # live off: the pane stays until Preview
    ed.width.value = 90
    ed.wait_preview()
    assert gif_info(ed.result.value)["size"] == (60, 40)
    ed.preview_button.click()
    assert gif_info(ed.result.value)["size"] == (90, 60)


def test_a_burst_of_changes_renders_once(monkeypatch):
    ed = Editor(make_gif(n=3, size=(80, 60)))
    calls = []
    real = ui.render_preview
    monkeypatch.setattr(ui, "render_preview", lambda *a, **k: calls.append(1) or real(*a, **k))
    for value in (70, 66, 62, 58):
        ed.width.value = value
    ed.wait_preview()
    assert len(calls) == 1 and gif_info(ed.result.value)["size"][0] == 58


def test_large_clips_wait_for_the_button(monkeypatch):
    monkeypatch.setattr(ui, "LIVE_PIXELS", 1000)
    ed = Editor(make_gif(n=4, size=(120, 80)))
    assert "press Preview" in ed.result_info.value
    shown = ed.result.value  # the original, not an empty pane
    assert gif_info(shown)["size"] == (120, 80)
    ed.width.value = 60
    ed.wait_preview()
    assert ed.result.value == shown and "press Preview" in ed.result_info.value
    ed.preview_button.click()
    assert gif_info(ed.result.value)["size"] == (60, 40)


def test_new_controls_reach_the_operation_list(tmp_path):
    ed = Editor(make_gif(n=8, size=(160, 90), durations=[10] * 8), live_preview=False)
    ed.set(aspect="1:1", aspect_x=0)
    assert (ed.width.value, ed.height.value) == (90, 90)  # the sliders follow the crop; no upscaling back
    ed.delete.value = True
    ed.delete_range.value = (1, 2)  # frames 1-2
    ed.every_nth.value = 2
    ed.text.value = "two\nlines"
    ed.set(stroke_width=2, shadow=1, box=True, align="center")
    ed.text_frames.value = (0, 1)
    ed.hold(-1, 500)
    ops = {o["op"]: o for o in ed.ops()}
    assert ops["crop"] == {"op": "crop", "left": 0.0, "right": 0.0, "top": 0.0, "bottom": 0.0, "aspect": "1:1",
                           "x": 0.0, "y": 50.0}
    assert ops["delete_frames"] == {"op": "delete_frames", "start": 1, "end": 3}
    assert ops["every_nth"]["n"] == 2 and ops["hold"]["frames"] == {"-1": 500}
    assert ops["text"]["text"] == "two\nlines" and ops["text"]["stroke_width"] == 2 and ops["text"]["box"]
    assert (ops["text"]["start"], ops["text"]["end"]) == (0, 2)
    assert "resize" not in ops
    info = gif_info(ed.preview())
    # 8 frames -> delete 2 -> 6 -> every 2nd -> 3 frames of 20 ms each x2 (10 ms raised to 20), the last held
    assert info["size"] == (90, 90) and info["durations"] == [40, 40, 540]
    assert "raised" not in ed.result_info.value  # merged frames play 40 ms: nothing under 20 ms is written
    ed.set(every_nth=1, delete_end=0)  # back to all 8 frames of 10 ms (merged frames count as played: 20)
    assert gif_info(ed.preview())["durations"] == [20] * 7 + [520]
    assert "7 delays under 20 ms raised to 20 ms" in ed.result_info.value
    assert "Keep delays under 20 ms keeps them" in ed.result_info.value
    ed.keep_fast_delays.value = True
    assert gif_info(ed.preview())["durations"] == [10] * 7 + [520]
    assert "raised" not in ed.result_info.value
    ed.undo()  # the keep-fast switch is one undo step like any control
    assert not ed.keep_fast_delays.value


def test_a_size_limit_is_searched_on_preview_and_download(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).convert("RGBA") for _ in range(6)]
    ed = Editor(live_preview=False)
    ed.load(ge.Clip(frames, [100] * 6))
    plain = len(ge.save(ed.clip))
    ed.max_mb.value = round(plain * 0.3 / 1e6, 4)
    ed.preview_button.click()
    assert "max size" in ed.result_info.value and "tries" in ed.result_info.value, ed.result_info.value
    path = ed.save(tmp_path / "fit.gif")
    assert path.stat().st_size <= plain * 0.3 and "max size" in ed.status.value
    many = [Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).convert("RGBA") for _ in range(120)]
    ed.load(ge.Clip(many, [50] * 120))
    ed.max_mb.value = 0.001  # 1 kB for 120 noisy frames: cannot fit, one line in the status and no file
    assert ed.save(tmp_path / "nofit.gif") is None and "cannot fit" in ed.last_error
    assert not (tmp_path / "nofit.gif").exists()


def test_a_video_is_probed_first_then_decoded(tmp_path):
    from html import unescape

    from test_gif_editor_video import grey_video

    video = grey_video(tmp_path / "clip.mp4", seconds=2)
    ed = Editor()
    assert ed.load(str(video)) is None and ed.clip is None  # nothing decoded yet
    assert ed.video.widget.layout.display == "flex"
    assert "-> 30 frames of 160x90" in unescape(ed.video.plan.value)  # 2 s at the default 15 fps
    ed.video.fps.value = 5
    ed.video.start.value = 1
    assert "-> 5 frames of 160x90" in unescape(ed.video.plan.value)
    ed.video.start.value = 5
    assert "outside the video" in unescape(ed.video.plan.value)
    ed.video.start.value = 1
    ed.video.decode_button.click()
    assert ed.clip is not None and ed.clip.n_frames == 5 and gif_info(ed.result.value)["n_frames"] == 5
    data = video.read_bytes()  # an upload of the same video
    ed.upload.set_state({"value": [{"name": "phone.mp4", "type": "video/mp4", "size": len(data),
                                    "content": memoryview(data), "last_modified": 0}]})
    assert "phone.mp4" in unescape(ed.video.plan.value)
    assert ed.decode_video(end=1, max_side=80).size == (80, 45)
