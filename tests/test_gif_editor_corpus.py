"""Every operation over GIFs from the wild: files written by gifsicle, ImageMagick, ffmpeg, Pillow and
imageio, and hand-built edge cases (tests/gif_corpus/CORPUS.md lists them; make_corpus.py there wrote
them). Each edit goes through the command line's own path (edit_file): no traceback, the input file
unchanged, and the written file holds the frames and the play time the edit accounts for."""
from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path

import pytest
from PIL import Image

import gif_editor as ge
from gif_editor.cli import edit_file
from gif_editor.optimize import gifsicle_path
from gif_fixtures import as_saved

CORPUS = Path(__file__).resolve().parent / "gif_corpus"
REFUSED = {"bomb_huge_screen.gif": "too large", "bomb_many_frames.gif": "too large",
           "damaged_truncated.gif": "damaged", "damaged_header_only.gif": "damaged", "not_a_gif.gif": "not a GIF"}
READABLE = sorted(p.name for p in CORPUS.glob("*.gif") if p.name not in REFUSED)


def _speed(d: int, factor: float) -> int:
    """Independent arithmetic for a sped-up delay as saved: 0 ms counts as 100, round half up to 10 ms, >= 20."""
    return max(20, math.floor((d or 100) / factor / 10 + 0.5) * 10)


def cases(n: int, logo: Path) -> list[tuple[str, list[dict], object]]:
    """(name, operations, expected total play time as a function of the source delays) for every operation."""
    same = sum  # the play time is unchanged
    out = [
        ("none", [], same),
        ("trim", [{"op": "trim", "start": 0, "end": 1}], lambda d: d[0]),
        ("every_nth", [{"op": "every_nth", "n": 2}], same),
        ("reverse", [{"op": "reverse"}], same),
        ("boomerang", [{"op": "boomerang"}], lambda d: sum(d) + sum(d[1:-1])),
        ("crop", [{"op": "crop", "left": 10, "right": 20, "top": 5, "bottom": 0}], same),
        ("crop_aspect", [{"op": "crop", "aspect": "9:16", "x": 0}], same),
        ("rotate", [{"op": "rotate", "degrees": 270}], same),
        ("flip_horizontal", [{"op": "flip_horizontal"}], same),
        ("flip_vertical", [{"op": "flip_vertical"}], same),
        ("resize", [{"op": "resize", "width": 50, "keep_aspect": True}], same),
        ("grayscale", [{"op": "grayscale"}], same),
        ("brightness", [{"op": "brightness", "factor": 1.6}], same),
        ("contrast", [{"op": "contrast", "factor": 0.5}], same),
        ("text", [{"op": "text", "text": "Grüße\nzwei", "stroke_width": 2, "shadow": 1, "box": True,
                   "position": "bottom", "align": "center", "font_size": 12, "start": 0, "end": 1}], same),
        ("image_watermark", [{"op": "image_watermark", "path": str(logo), "opacity": 200, "scale": 0.3}], same),
        ("speed", [{"op": "speed", "factor": 2.5}], None),  # computed per frame below
        ("delay", [{"op": "delay", "all": 50, "frames": {"-1": 300}}], lambda d: 50 * (len(d) - 1) + 300),
        ("hold", [{"op": "hold", "frames": {"-1": 500}}], lambda d: sum(d) + 500),
        ("optimize_pillow", [{"op": "optimize", "backend": "pillow"}], same),
        ("max_size", [{"op": "max_size", "bytes": 1000}], same),
    ]
    if n >= 2:
        out.append(("delete_frames", [{"op": "delete_frames", "start": 1, "end": 2}], lambda d: sum(d) - d[1]))
    if gifsicle_path():
        out.append(("optimize_gifsicle", [{"op": "optimize", "backend": "gifsicle", "lossy": 80}], same))
    return out


def _read_back(data: bytes) -> tuple[int, list[int], tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as im:
        delays = []
        for i in range(im.n_frames):
            im.seek(i)
            im.convert("RGBA").load()  # every frame decodes
            delays.append(im.info.get("duration", 0))
        return im.n_frames, delays, im.size


@pytest.fixture(scope="module")
def logo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("logo") / "logo.png"
    Image.new("RGBA", (20, 10), (255, 0, 0, 180)).save(path)
    return path


@pytest.mark.parametrize("name", READABLE)
def test_every_operation_on_a_gif_from_the_wild(name, tmp_path, logo):
    src = CORPUS / name
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    clip = ge.load(src)
    played = as_saved(clip.durations)  # what the source plays as: the sums below count from it
    for case, ops, total in cases(clip.n_frames, logo):
        dst = tmp_path / f"{case}.gif"
        try:
            summary = edit_file(src, dst, ops)
        except ge.GifEditorError as exc:  # only the size search may refuse, and then in one line
            assert case == "max_size" and "cannot fit" in str(exc) and "\n" not in str(exc), (case, exc)
            assert not dst.exists()
            continue
        n_frames, delays, size = _read_back(dst.read_bytes())
        expected = sum(_speed(d, 2.5) for d in clip.durations) if case == "speed" else total(played)
        assert sum(delays) == expected, (case, delays, played)
        assert min(delays) >= 20, (case, delays)  # nothing plays slower than written
        assert f"({size[0]}x{size[1]}, {n_frames} frames, {sum(delays) / 1000:.2f} s" in summary, (case, summary)
        if case == "max_size":
            assert dst.stat().st_size <= 1000
        elif not case.startswith("optimize"):  # Pillow may merge identical neighbours, never add frames
            assert 1 <= n_frames <= ge.apply(clip, ops).n_frames
        if case == "crop_aspect":
            assert abs(size[0] / size[1] - 9 / 16) <= 1 / size[1] + 1e-9
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before  # the input is never written


@pytest.mark.parametrize("name, words", sorted(REFUSED.items()))
def test_unreadable_gifs_are_one_line_in_words(name, words, tmp_path, capsys):
    from gif_editor.cli import main

    src = CORPUS / name
    before = src.read_bytes()
    assert main([str(src), "-o", str(tmp_path / "out.gif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and name in err, err
    assert "<_io" not in err and " at 0x" not in err, err  # no Python object reprs in a user's message
    assert not (tmp_path / "out.gif").exists() and src.read_bytes() == before


def test_a_growing_canvas_keeps_every_frame_at_the_final_size():
    """Pillow grows the canvas at the frame that reaches past the logical screen; frames before it
    are padded (see-through), so every frame has one size and no pixel of the later frame is lost."""
    clip = ge.load(CORPUS / "hand_growing_canvas.gif")
    assert {f.size for f in clip.frames} == {(32, 32)} and clip.transparent
    first = clip.frames[0]
    assert first.getpixel((20, 20))[3] == 0 and first.getpixel((5, 5))[3] == 255  # padding / the real frame
    assert clip.frames[1].getpixel((30, 30))[3] == 255  # the grown part of the second frame is kept


def test_batch_over_the_corpus_skips_and_counts_the_broken(tmp_path, capsys):
    from gif_editor.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    for name in [*READABLE[:3], *REFUSED]:
        (folder / name).write_bytes((CORPUS / name).read_bytes())
    assert main([str(folder), "-o", str(tmp_path / "out"), "--width", "60", "--keep-aspect"]) == 0
    out = capsys.readouterr().out
    assert f"edited 3 of {3 + len(REFUSED)} files" in out and f"skipped {len(REFUSED)}" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(READABLE[:3])
