"""The command line: one-line errors with exit 2, --ops files, batch mode over a folder."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gif_editor as ge
from gif_editor.cli import main
from gif_fixtures import gif_info, make_gif

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def gif(tmp_path) -> Path:
    path = tmp_path / "in.gif"
    path.write_bytes(make_gif(n=4, size=(80, 60), durations=[100, 40, 100, 60]))
    return path


def test_edit_with_options(gif, tmp_path, capsys):
    out = tmp_path / "out.gif"
    rc = main([str(gif), "-o", str(out), "--width", "120", "--keep-aspect", "--rotate", "90", "--speed", "2",
               "--text", "Grüße", "--brightness", "1.2"])
    assert rc == 0
    info = gif_info(out.read_bytes())
    assert info["size"] == (120, 160)  # rotated to 60x80 first, then width 120 keeps the aspect
    assert info["durations"] == [50, 20, 50, 30]
    assert "-> " in capsys.readouterr().out


def test_ops_file_and_option_override(gif, tmp_path):
    ops = tmp_path / "ops.json"
    ops.write_text(json.dumps([{"op": "speed", "factor": 4}, {"op": "crop", "left": 50, "right": 0, "top": 0, "bottom": 0}]))
    out = tmp_path / "out.gif"
    assert main([str(gif), "-o", str(out), "--ops", str(ops), "--speed", "0.5"]) == 0
    info = gif_info(out.read_bytes())
    assert info["size"] == (40, 60) and info["durations"] == [200, 80, 200, 120]


def test_mp4_output(gif, tmp_path):
    assert main([str(gif), "-o", str(tmp_path / "out.mp4")]) == 0
    assert (tmp_path / "out.mp4").read_bytes()[4:8] == b"ftyp"


@pytest.mark.parametrize("args,message", [
    (["--speed", "20"], "between 0.1 and 5.0"),
    (["--crop", "60", "50", "0", "0"], "under 100%"),
    (["--width", "10"], "between 50 and 1000"),
    (["--rotate", "45"], "invalid choice"),
    (["--ops", "missing.json"], "not found"),
    (["--colors", "1"], "between 2 and 256"),
    (["--lossy", "201"], "between 0 and 200"),
    (["--duplicates", "some"], "--duplicates must be"),
    (["--frame-delay", "7", "100"], "frame 7 does not exist"),
    (["--delay", "5"], "between 20"),
])
def test_bad_options_exit_2_with_one_line(gif, tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "gif_editor", str(gif), "-o", str(tmp_path / "o.gif"), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o.gif").exists()


def test_broken_input_exit_2_and_output_over_input_refused(tmp_path, gif, capsys):
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"GIF89a not really")
    assert main([str(bad), "-o", str(tmp_path / "o.gif")]) == 2
    assert "gif_editor: error:" in capsys.readouterr().err
    digest = hashlib.sha256(gif.read_bytes()).hexdigest()
    assert main([str(gif), "-o", str(gif), "--speed", "2"]) == 2
    assert hashlib.sha256(gif.read_bytes()).hexdigest() == digest


def test_bad_json_in_ops_file(gif, tmp_path, capsys):
    ops = tmp_path / "ops.json"
    ops.write_text("[{'op': 'speed'}]")
    assert main([str(gif), "-o", str(tmp_path / "o.gif"), "--ops", str(ops)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_batch_mode_skips_and_counts_broken_files(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"ok{i}.gif").write_bytes(make_gif(n=2 + i, size=(60, 50)))
    (src / "broken.gif").write_bytes(b"nope")
    (src / "notes.txt").write_text("ignored")
    out = tmp_path / "out"
    assert main([str(src), "-o", str(out), "--width", "100", "--keep-aspect"]) == 0
    printed = capsys.readouterr().out
    assert "edited 3 of 4" in printed and "skipped 1" in printed and "broken.gif" in printed
    assert sorted(p.name for p in out.iterdir()) == ["ok0.gif", "ok1.gif", "ok2.gif"]
    assert all(ge.load(p).size == (100, 83) for p in out.iterdir())


def test_batch_mode_with_nothing_written_exits_2(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "broken.gif").write_bytes(b"nope")
    assert main([str(src), "-o", str(tmp_path / "out")]) == 2
    assert main([str(src), "-o", str(src)]) == 2


def test_processor_import_does_not_pull_in_ipywidgets():
    code = "import sys, gif_editor; gif_editor.load; print('ipywidgets' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


def test_help_lists_the_design_options():
    proc = subprocess.run([sys.executable, "-m", "gif_editor", "--help"], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert proc.returncode == 0
    for option in ("--width", "--keep-aspect", "--crop", "--rotate", "--text", "--opacity", "--position",
                   "--brightness", "--contrast", "--speed", "--ops", "--optimize", "--colors", "--lossy",
                   "--delay", "--frame-delay"):
        assert option in proc.stdout


@pytest.mark.parametrize("encoder", ["pillow", pytest.param("gifsicle", marks=pytest.mark.skipif(
    __import__("shutil").which("gifsicle") is None, reason="gifsicle not installed"))])
def test_optimize_prints_sizes_and_encoder(tmp_path, capsys, encoder):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)  # noisy frames, as diffusion samples are
    frames = [Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)) for _ in range(4)]
    src = tmp_path / "noise.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:] + [frames[3]], duration=100, loop=0)
    out = tmp_path / "small.gif"
    assert main([str(src), "-o", str(out), "--colors", "16", "--lossy", "80", "--encoder", encoder]) == 0
    line = capsys.readouterr().out
    before, after = (int(x.replace(",", "")) for x in re.search(r"([\d,]+) -> ([\d,]+) bytes", line).groups())
    assert f"optimize ({encoder}" in line and after == out.stat().st_size and after < before / 2
    info = gif_info(out.read_bytes())
    assert info["total"] == 500 and info["loop"] == 0  # the repeated last frame is merged, its time kept
    assert main([str(src), "-o", str(tmp_path / "plain.gif")]) == 0
    assert "bytes" not in capsys.readouterr().out


def test_delay_options(gif, tmp_path):
    out = tmp_path / "out.gif"
    assert main([str(gif), "-o", str(out), "--delay", "70", "--frame-delay", "0", "300",
                 "--frame-delay", "3", "500"]) == 0
    assert gif_info(out.read_bytes())["durations"] == [300, 70, 70, 500]
