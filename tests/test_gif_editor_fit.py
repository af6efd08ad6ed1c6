"""A size that fits (max_size): the search keeps the best-looking setting under the limit, says what
it chose, keeps the play time when it drops frames, and refuses in one line when nothing fits."""
from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

import gif_editor as ge
from gif_editor import fit
from gif_editor.cli import main
from gif_editor.optimize import encode


def noisy_clip(n=12, size=(96, 72), seed=0, sigma=12.0) -> ge.Clip:
    """A soft gradient drifting under per-frame noise: what diffusion samples look like to an encoder."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: size[1], : size[0]]
    frames = []
    for i in range(n):
        base = np.stack([xx * 2 + i * 4, yy * 3, 255 - xx - yy], -1).astype(float) % 256
        frames.append(Image.fromarray(np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8))
                      .convert("RGBA"))
    return ge.Clip(frames, [80] * n)


def test_parse_size_reads_units():
    assert fit.parse_size("8MB") == 8_000_000 and fit.parse_size("500 kB") == 500_000
    assert fit.parse_size("1.5MiB") == 1_572_864 and fit.parse_size(12345) == 12345
    with pytest.raises(ge.GifEditorError, match="not a size"):
        fit.parse_size("eight megs")


@pytest.mark.parametrize("share", [0.6, 0.3, 0.1])
def test_the_result_fits_and_the_next_better_rung_would_not(share):
    clip = noisy_clip()
    plain = len(ge.save(clip))
    limit = int(plain * share)
    out = ge.apply(clip, [{"op": "max_size", "bytes": limit, "duplicates": None}])
    data = ge.save(out)
    assert len(data) <= limit
    note = out.info["notes"][-1]
    colours, lossy = (int(x) for x in re.search(r"with (\d+) colours, lossy (\d+)", note).groups())
    rung = fit.LADDER.index((colours, lossy))
    shown = ge.load(data)
    if rung > 0 and shown.size == clip.size and shown.n_frames == clip.n_frames:
        # tight: the best-looking rung at the chosen shape, so the one above it does not fit
        better, _ = encode(clip, colors=fit.LADDER[rung - 1][0], lossy=fit.LADDER[rung - 1][1],
                           transparency=True, backend="auto", duplicates=None)
        assert len(better) > limit
    assert sum(shown.durations) == clip.total_duration  # frames dropped or not, the length holds


def test_when_frames_must_go_their_time_stays_and_the_note_says_so():
    clip = noisy_clip(n=24, size=(120, 90))
    limit = int(len(ge.save(clip)) * 0.04)
    out = ge.apply(clip, [{"op": "max_size", "bytes": limit}])
    data = ge.save(out)
    back = ge.load(data)
    note = out.info["notes"][-1]
    assert len(data) <= limit and (back.n_frames < 24 or back.size != clip.size)
    if back.n_frames < 24:
        assert re.search(r"every \d(nd|rd|th) frame", note)
    if back.size != clip.size:
        assert f"({back.size[0]}x{back.size[1]})" in note
    assert sum(back.durations) == clip.total_duration


def test_a_clip_that_cannot_fit_is_one_line_and_no_file(tmp_path, capsys):
    src = tmp_path / "noise.gif"
    src.write_bytes(ge.save(noisy_clip(n=120, size=(40, 30), sigma=80)))
    out = tmp_path / "out.gif"
    assert main([str(src), "-o", str(out), "--max-size", "1KB"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot fit the GIF in 1.0 kB" in err and "smallest try" in err
    assert not out.exists()
    assert main([str(src), "-o", str(out), "--max-size", "lots"]) == 2
    assert "not a size" in capsys.readouterr().err


def test_cli_says_what_it_chose(tmp_path, capsys):
    src = tmp_path / "in.gif"
    src.write_bytes(ge.save(noisy_clip()))
    limit = src.stat().st_size // 3
    assert main([str(src), "-o", str(tmp_path / "out.gif"), "--max-size", f"{limit}B", "--text", "hi"]) == 0
    lines = capsys.readouterr().out.splitlines()
    chosen = [line for line in lines if line.startswith("max size")]
    assert len(chosen) == 1 and "colours, lossy" in chosen[0] and "tries in" in chosen[0]
    assert (tmp_path / "out.gif").stat().st_size <= limit
    with pytest.raises(ge.GifEditorError, match="applies to GIF output"):
        ge.save(ge.apply(noisy_clip(n=2), [{"op": "max_size", "size": "1MB"}]), tmp_path / "x.mp4")
