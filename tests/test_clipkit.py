"""clipkit: the torch-free home of what data_prep, vdiff and gif_editor share."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipkit.gif import GifReadError, read_gif, write_gif
from clipkit.manifest import manifest_rows, read_manifest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module, forbidden", [
    ("data_prep", ("vdiff", "torch", "gif_editor")),
    ("data_prep.cli", ("vdiff", "torch", "gif_editor")),
    ("data_prep.preview", ("vdiff", "torch", "gif_editor")),
    ("data_prep.gif_folder", ("vdiff", "torch", "gif_editor")),
    ("clipkit.sheet", ("vdiff", "torch", "data_prep", "gif_editor")),
    ("gif_editor", ("vdiff", "torch", "data_prep")),
])
def test_light_packages_import_nothing_heavy_or_circular(module, forbidden):
    code = (f"import sys, {module}; "
            f"print([m for m in sys.modules if m.split('.')[0] in {forbidden!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout[:300]


def test_data_prep_preview_and_validate_run_without_vdiff_or_torch(tmp_path):
    """The contact sheet used to come from vdiff.video through a lazy import inside preview()."""
    code = ("import sys, numpy as np\n"
            "from data_prep.pairs import PairsWriter\n"
            "from data_prep import preview, validate\n"
            f"w = PairsWriter({str(tmp_path)!r}, 'test')\n"
            "w.write('a', np.zeros((4, 16, 16, 3), np.uint8), 'digit 1 moving left'); w.finish()\n"
            f"validate({str(tmp_path)!r}); preview({str(tmp_path)!r})\n"
            "print([m for m in sys.modules if m.split('.')[0] in ('vdiff', 'torch', 'gif_editor')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[:300]
    assert (tmp_path / "preview.png").is_file()


def test_read_gif_sorts_failures_into_three_categories(tmp_path):
    good = write_gif(np.zeros((3, 8, 8, 3), np.uint8) + np.arange(3, dtype=np.uint8)[:, None, None, None] * 80,
                     tmp_path / "good.gif", fps=10)
    gif = read_gif(good)
    assert len(gif.frames) == 3 and gif.durations == [100] * 3 and gif.loop == 0
    png = tmp_path / "png.gif"
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    truncated = tmp_path / "cut.gif"
    truncated.write_bytes(good.read_bytes()[:60])
    for path, category in ((png, "not a GIF"), (tmp_path / "missing.gif", "not a GIF"),
                           (truncated, "undecodable GIF")):
        with pytest.raises(GifReadError) as info:
            read_gif(path)
        assert info.value.category == category, (path, str(info.value))
    with pytest.raises(GifReadError, match="over the budget") as info:
        read_gif(good, max_pixels=8 * 8 * 3 - 1)
    assert info.value.category == "too large"


def test_manifest_reader_skips_or_names_a_damaged_line(tmp_path):
    rows = [{"name": "a", "caption": "x"}, {"name": "b", "split": "holdout"}]
    text = json.dumps(rows[0]) + "\n{not json\n\n" + json.dumps(rows[1]) + "\n[1, 2]\n"
    (tmp_path / "manifest.jsonl").write_text(text)
    assert manifest_rows(tmp_path) == rows
    assert read_manifest(tmp_path) == {"a": rows[0], "b": rows[1]}
    with pytest.raises(ValueError, match="manifest.jsonl:2"):
        manifest_rows(tmp_path, strict=True)
    assert manifest_rows(tmp_path / "nowhere") == []


def test_mp4_writer_repeats_frames_pads_odd_sides_with_the_edge_and_refuses_floats(tmp_path):
    import imageio.v3 as iio

    from clipkit.mp4 import write_mp4

    red, blue = np.zeros((15, 17, 3), np.uint8), np.zeros((15, 17, 3), np.uint8)
    red[..., 0], blue[..., 2] = 220, 220
    red[:, -1] = (0, 220, 0)  # a green last column: the padded column repeats it
    path = write_mp4(iter([red, blue]), tmp_path / "clip.mp4", fps=10, repeats=[3, 1])
    frames = np.stack(list(iio.imiter(path))).astype(int)
    assert frames.shape == (4, 16, 18, 3)
    assert [int(f[..., 0].mean() > 100) for f in frames[:, :, :8]] == [1, 1, 1, 0]  # red x3, then blue
    assert frames[0, 4:12, -1, 1].mean() > 150 and frames[0, 4:12, -1, 0].mean() < 60  # edge, not black
    with pytest.raises(ValueError, match="uint8"):
        write_mp4([red.astype(np.float32)], tmp_path / "bad.mp4", fps=10)
    with pytest.raises(ValueError, match="frame 1"):
        write_mp4([red, red[:8]], tmp_path / "bad.mp4", fps=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no half-written file left


CORPUS = ROOT / "tests" / "gif_corpus"


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_read_gif_pads_frames_of_a_growing_canvas_to_one_size(mode):
    """hand_growing_canvas.gif: a 16x16 screen whose second frame (24x24 at 8,8) reaches past it; Pillow
    grows the canvas from that frame on, and np.stack of the two sizes used to fail in read_gif_array."""
    gif = read_gif(CORPUS / "hand_growing_canvas.gif", mode=mode)
    assert {f.size for f in gif.frames} == {(32, 32)}
    assert gif.transparent == (mode == "RGBA")  # the padding is see-through in RGBA, black in RGB
    from clipkit.gif import read_gif_array
    assert read_gif_array(CORPUS / "hand_growing_canvas.gif").shape == (2, 32, 32, 3)


@pytest.mark.parametrize("name, category, words", [
    ("damaged_header_only.gif", "undecodable GIF", "what follows the header is not readable GIF data"),
    ("bomb_huge_screen.gif", "too large", "65535x65535 canvas is 4,294,836,225 pixels"),
])
def test_read_errors_are_words_without_python_reprs(name, category, words):
    for source in (CORPUS / name, (CORPUS / name).read_bytes()):
        with pytest.raises(GifReadError) as err:
            read_gif(source)
        assert err.value.category == category and words in str(err.value)
        assert "<_io" not in str(err.value) and "0x" not in str(err.value)
