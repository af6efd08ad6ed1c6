"""The editor widget driven headlessly: no kernel, so assert on widget state and written files
(without a kernel, ipywidgets logs a Button.on_click handler's exception instead of raising it, and
an Output widget captures nothing)."""
from __future__ import annotations

import base64
import re

import pytest

pytest.importorskip("ipywidgets")

import gif_editor as ge  # noqa: E402
from gif_editor.settings import Settings, uploaded_files  # noqa: E402
from gif_editor.ui import Editor  # noqa: E402
from gif_fixtures import gif_info, make_gif  # noqa: E402


def upload(editor: Editor, data: bytes, name: str = "clip.gif") -> None:
    editor.upload.set_state({"value": [{"name": name, "type": "image/gif", "size": len(data),
                                        "content": memoryview(data), "last_modified": 0}]})


def test_upload_sliders_preview_download(tmp_path):
    data = make_gif(n=5, size=(200, 100), durations=[100, 50, 100, 50, 200])
    ed = Editor(output_path=tmp_path / "edited.gif")
    upload(ed, data)
    assert ed.clip is not None and ed.clip.size == (200, 100)
    assert "5 frames" in ed.original_info.value and "0.50 s" in ed.original_info.value
    assert gif_info(ed.original.value)["n_frames"] == 5

    ed.width.value = 150  # keep aspect is on by default: the height follows live
    assert ed.height.value == 75
    ed.speed.value = 2.0
    ed.text.value = "Ünïcødé"
    ed.preview_button.click()
    info = gif_info(ed.result.value)
    assert info["size"] == (150, 75)
    assert info["total"] == 50 + 30 + 50 + 30 + 100  # each delay / 2, half up (25 -> 30)
    assert "preview" in ed.status.value and ed.last_error is None

    ed.download_button.click()
    saved = tmp_path / "edited.gif"
    assert gif_info(saved.read_bytes())["size"] == (150, 75)
    href = re.search(r"href='data:image/gif;base64,([^']+)'", ed.link.value).group(1)
    assert base64.b64decode(href) == saved.read_bytes()
    assert str(saved) in ed.link.value


def test_keep_aspect_follows_crop_and_rotation():
    ed = Editor(make_gif(n=2, size=(200, 100)))
    ed.rotate.value = 90  # base is now 100x200
    ed.width.value = 100
    assert ed.height.value == 200
    ed.keep_aspect.value = False
    ed.height.value = 60
    assert ed.width.value == 100
    assert ge.apply(ed.clip, ed.ops()).size == (100, 60)


def test_large_preview_is_downscaled_but_download_is_full_size(tmp_path):
    ed = Editor(make_gif(n=3, size=(400, 200)), preview_max_side=100)
    ed.brightness.value = 1.5
    assert gif_info(ed.preview())["size"] == (100, 50)
    path = ed.save(tmp_path / "full.gif")
    assert gif_info(path.read_bytes())["size"] == (400, 200)


def test_errors_land_in_the_status_line(tmp_path):
    ed = Editor()
    ed.preview_button.click()
    assert "load a GIF first" in ed.status.value
    upload(ed, b"definitely not a gif", name="bad.gif")
    assert ed.clip is None and "not a GIF" in ed.status.value
    ed.path.value = str(tmp_path / "missing.gif")
    ed.open_button.click()
    assert "no such file" in ed.status.value

    ed.load(make_gif(n=2, size=(100, 100)))
    ed.crop["left"].value = 60
    ed.crop["right"].value = 50
    ed.preview_button.click()
    assert "under 100%" in ed.status.value and ed.last_error


def test_path_box_and_mp4_download(tmp_path):
    src = tmp_path / "big.gif"
    src.write_bytes(make_gif(n=3, size=(64, 64)))
    ed = Editor()
    ed.path.value = str(src)
    ed.open_button.click()
    assert ed.clip is not None and ed.source_name == "big.gif"
    ed.output_path.value = str(tmp_path / "out.mp4")
    ed.download_button.click()
    assert (tmp_path / "out.mp4").read_bytes()[4:8] == b"ftyp"
    assert "data:video/mp4;base64," in ed.link.value


def test_reset_restores_the_noop_edit():
    ed = Editor(make_gif(n=4, size=(120, 60)))
    ed.set(width=60, text="hi", speed=3.0, rotate=180, grayscale=True, crop_left=10, trim_start=1)
    assert len(ed.ops()) == 7
    ed.reset_button.click()
    assert ed.ops() == []
    assert (ed.width.value, ed.height.value) == (120, 60) and ed.trim.value == (0, 3)


def test_non_interactive_path_for_notebooks(tmp_path):
    src = tmp_path / "in.gif"
    src.write_bytes(make_gif(n=4, size=(120, 60)))
    ed = Editor(str(src)).set(width=60, boomerang=True, contrast=1.5)
    assert ed.ops() == Settings(width=60, height=30, keep_aspect=True, boomerang=True, contrast=1.5).to_ops(n_frames=4)
    data = ed.preview()
    assert gif_info(data)["size"] == (60, 30)
    with pytest.raises(TypeError, match="unknown settings"):
        ed.set(wdith=3)


def test_both_upload_formats():
    data = make_gif(n=2)
    v8 = ({"name": "a.gif", "type": "image/gif", "size": len(data), "content": memoryview(data), "last_modified": 0},)
    v7 = {"a.gif": {"metadata": {"name": "a.gif", "type": "image/gif", "size": len(data)}, "content": data}}
    assert uploaded_files(v8) == uploaded_files(v7) == [("a.gif", data)]
    ed = Editor()
    ed._on_upload({"new": v7})  # what an ipywidgets 7 frontend (older Colab) delivers
    assert ed.clip is not None and ed.clip.n_frames == 2


def test_download_in_colab_uses_files_download(tmp_path, monkeypatch):
    import sys
    import types

    calls = []
    colab = types.ModuleType("google.colab")
    colab.files = types.SimpleNamespace(download=lambda path: calls.append(path))
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    ed = Editor(make_gif(n=2), output_path=tmp_path / "e.gif")
    ed.download_button.click()
    assert calls == [str(tmp_path / "e.gif")]
    assert str(tmp_path / "e.gif") in ed.link.value  # the saved path is always shown too


def test_undo_redo_walk_the_edit_history():
    ed = Editor(make_gif(n=4, size=(120, 60)))
    assert ed.undo_button.disabled and ed.redo_button.disabled
    ed.set(width=60, text="hi")  # one set() call is one step
    ed.grayscale.value = True  # a control change is one step
    ed.set_delay(300, frame=2)
    after = ed.ops()
    assert [o["op"] for o in after] == ["resize", "grayscale", "text", "delay"]
    assert [o["op"] for o in ed.undo()] == ["resize", "grayscale", "text"]
    assert [o["op"] for o in ed.undo()] == ["resize", "text"] and not ed.grayscale.value
    ed.undo_button.click()
    assert ed.ops() == [] and (ed.width.value, ed.height.value) == (120, 60) and ed.undo_button.disabled
    ed.redo_button.click()
    assert [o["op"] for o in ed.ops()] == ["resize", "text"] and ed.width.value == 60
    assert ed.redo() and ed.redo() == after and ed.redo_button.disabled
    ed.reset_button.click()
    assert ed.ops() == []
    assert ed.undo() == after  # Reset can be undone too
    ed.undo()
    ed.speed.value = 2.0  # a new edit after undo drops the redo list
    assert ed.redo_button.disabled and ed.redo() == ed.ops()


def test_frame_delays_set_one_or_all():
    ed = Editor(make_gif(n=4, size=(80, 40), durations=[100, 50, 100, 50]))
    assert ed.delay_frame.max == 3
    ed.delay_frame.value, ed.delay_ms.value = 1, 400
    ed.set_frame_delay.click()
    assert gif_info(ed.preview())["durations"] == [100, 400, 100, 50]
    ed.delay_ms.value = 60
    ed.set_all_delays.click()
    assert gif_info(ed.preview())["durations"] == [60, 60, 60, 60] and "all 60 ms" in ed.delays_info.value
    ed.boomerang.value = True  # 4 frames become 6: the frame box follows
    assert ed.delay_frame.max == 5


def test_optimize_tab_shows_sizes_before_and_after(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)) for _ in range(3)]
    ed = Editor(make_gif(n=2))
    ed.load(ge.Clip([f.convert("RGBA") for f in frames], [100] * 3))
    ed.set(optimize=True, colors=16, lossy=80, encoder="pillow")
    ed.preview_button.click()
    match = re.search(r"optimize \(pillow\): ([\d,]+) -&gt; ([\d,]+) bytes", ed.result_info.value)
    before, after = (int(x.replace(",", "")) for x in match.groups())
    assert after < before / 2
    path = ed.save(tmp_path / "small.gif")
    assert path.stat().st_size == after
