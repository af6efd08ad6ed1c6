"""``python -m data_prep``: one-line errors with exit 2, summaries, exit 2 when nothing was written, lazy import."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_prep.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_PREP_CACHE", str(tmp_path / "cache"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "data_prep", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_module_entry_point_help_and_one_line_error(tmp_path):
    assert "moving_mnist" in run_cli("--help").stdout
    bad = run_cli("moving_mnist", "--out", str(tmp_path / "o"), "--num", "-3")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "--num" in bad.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, needle", [
    (["moving_mnist", "--out", "{o}", "--holdout", "12:left"], "digit 0-9"),
    (["moving_mnist", "--out", "{o}", "--canonical"], "--download"),
    (["moving_mnist", "--out", "{o}", "--size", "abc"], "whole number"),
    (["moving_mnist", "--out", "{o}", "--size", "32", "--frames", "24", "--speed", "1"], "--walls bounce"),
    (["moving_mnist", "--out", "{o}", "--speed", "0.01"], "at least"),
    (["gif_folder", "--src", "{missing}", "--out", "{o}"], "not a folder"),
    (["videos", "--src", "{empty}", "--out", "{o}"], "no video files"),
    (["msrvtt", "--source", "{missing}", "--out", "{o}"], "not a folder"),
    (["validate", "{missing}"], "not a folder"),
    (["preview", "{empty}"], "no readable pairs"),
])
def test_user_mistakes_exit_2_with_one_line(tmp_path, capsys, argv, needle):
    (tmp_path / "empty").mkdir()
    paths = {"o": str(tmp_path / "o"), "missing": str(tmp_path / "missing"), "empty": str(tmp_path / "empty")}
    code = status([a.format(**paths) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").glob("*.gif"))


def status(argv: list[str]) -> int:
    """main()'s exit status, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


def test_labeled_run_summary_validate_and_rerun(tmp_path, capsys):
    out = tmp_path / "digits"
    assert main(["moving_mnist", "--out", str(out), "--num", "8", "--size", "16", "--frames", "3",
                 "--holdout", "default", "--digits", "sklearn", "--quiet"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("moving_mnist: wrote 8 pairs") and len(line.splitlines()) == 1
    rows = [json.loads(r) for r in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["width"] == 16 and r["frames"] == 3 for r in rows)
    assert main(["validate", str(out)]) == 0
    table = capsys.readouterr().out
    assert "good pairs" in table and "16x16 (8)" in table
    assert main(["moving_mnist", "--out", str(out), "--num", "8", "--size", "16", "--frames", "3",
                 "--holdout", "default", "--digits", "sklearn", "--quiet"]) == 0
    assert "wrote 0 pairs, 8 already present" in capsys.readouterr().out
    (out / rows[0]["name"]).with_suffix(".txt").unlink()
    assert main(["validate", str(out)]) == 1  # a check that found problems is not a usage error
    assert main(["preview", str(out), "--out", str(tmp_path / "sheet.png"), "--num", "3"]) == 0
    assert Image.open(tmp_path / "sheet.png").size[0] > 0


def test_nothing_written_exits_2_but_broken_items_do_not(tmp_path, capsys):
    src = tmp_path / "gifs"
    src.mkdir()
    (src / "a.gif").write_bytes(b"GIF89a truncated")
    assert main(["gif_folder", "--src", str(src), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "skipped 1 (undecodable GIF: 1)" in captured.out and "no pair was written" in captured.err
    frames = [Image.fromarray(np.full((40, 40, 3), 40 * i, np.uint8)) for i in range(4)]
    frames[0].save(src / "b.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert main(["gif_folder", "--src", str(src), "--out", str(tmp_path / "o"), "--quiet", "--size", "32"]) == 0
    report = json.loads((tmp_path / "o" / "prepare_report.json").read_text())
    assert report["kept"] == 1 and report["skipped_by_reason"] == {"undecodable GIF": 1}


def test_import_is_lazy():
    code = ("import sys, data_prep; heavy = [m for m in ('torch', 'transformers', 'sklearn', 'imagehash') "
            "if m in sys.modules]; print(heavy); data_prep.prepare_gif_folder; print(callable(data_prep.validate))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.split("\n")[:2] == ["[]", "True"], result.stderr


def test_moving_digits_speed_walls_and_whole_pixels(tmp_path, capsys):
    from clipkit.gif import read_gif_array
    from data_prep.moving_mnist import generate_labeled

    common = ["--num", "4", "--size", "32", "--digits", "sklearn", "--quiet"]
    # a path that cannot fit is one line and exit 2, and leaves no folder behind
    assert status(["moving_mnist", "--out", str(tmp_path / "no"), "--frames", "24", "--speed", "1", *common]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--speed <=" in err and not (tmp_path / "no").exists()
    # the same speed for a long training set and a shorter evaluation set
    for name, frames, seed in (("train", "24", "0"), ("eval", "16", "1")):
        assert main(["moving_mnist", "--out", str(tmp_path / name), "--frames", frames, "--speed", "0.63",
                     "--seed", seed, *common]) == 0
        report = json.loads((tmp_path / name / "prepare_report.json").read_text())
        assert report["settings"]["speed"] == 0.63 and report["settings"]["walls"] == "fit"
        rows = [json.loads(r) for r in (tmp_path / name / "manifest.jsonl").read_text().splitlines()]
        assert all(r["speed"] == 0.63 and len(r["centers"][0]) == r["frames"] == int(frames) for r in rows)
    # bouncing when asked; whole pixels reproduce the generator's old rendering
    assert main(["moving_mnist", "--out", str(tmp_path / "b"), "--frames", "24", "--speed", "1", "--walls", "bounce",
                 *common]) == 0
    assert main(["moving_mnist", "--out", str(tmp_path / "w"), "--frames", "8", "--whole-pixels", *common]) == 0
    old = next(generate_labeled(1, size=32, frames=8, subpixel=False, source="sklearn"))
    new = next(generate_labeled(1, size=32, frames=8, source="sklearn"))
    assert np.array_equal(read_gif_array(tmp_path / "w" / "digits_000000.gif"), old.frames)
    assert not np.array_equal(old.frames, new.frames)  # the default speed (2.06 px) is not whole pixels
