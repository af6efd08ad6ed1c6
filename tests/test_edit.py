"""Editing with a trained run (vdiff.edit): re-prompt, regenerate a box/frames, extend; the command."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import write_moving_square_pairs
from vdiff.edit import EditCancelled, main, parse_frames, read_clip, write_clip
from vdiff.generate import load_pipeline
from vdiff.train import train

pytestmark = pytest.mark.usefixtures("single_thread_torch")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A smoke run (16 px, 4 frames, T=100) trained its 30 steps on moving squares."""
    root = tmp_path_factory.mktemp("edit")
    return train("smoke", write_moving_square_pairs(root / "pairs"), root / "run")


@pytest.fixture(scope="module")
def pipe(run_dir):
    return load_pipeline(run_dir)


def squares(frames: int = 6, h: int = 20, w: int = 24, seed: int = 0) -> np.ndarray:
    """A colour clip with distinct frames: a square moving right on a dim gradient."""
    rng = np.random.default_rng(seed)
    clip = np.zeros((frames, h, w, 3), np.uint8)
    clip[..., 2] = np.linspace(0, 60, w, dtype=np.uint8)[None, None]
    for f in range(frames):
        clip[f, 5:11, 2 + 2 * f:8 + 2 * f] = rng.integers(150, 256, 3, dtype=np.uint8)
    return clip


def test_strength_one_is_generation_from_noise_with_the_same_seed(pipe):
    clip = squares(4, 16, 16)
    for sampler in ("ddim", "dpm++"):
        generated = pipe("square moving up", seed=7, sampler=sampler, steps=4, progress=False)[0]
        edited = pipe.reprompt(clip, "square moving up", strength=1.0, seed=7, sampler=sampler, steps=4,
                               progress=False)
        assert np.array_equal(edited, generated), sampler
    other = pipe.reprompt(clip, "square moving up", strength=1.0, seed=8, steps=4, progress=False)
    assert not np.array_equal(other, generated)


def test_low_strength_returns_about_the_input_and_high_strength_does_not(pipe):
    clip = squares(4, 16, 16)
    untouched = pipe.reprompt(clip, "square moving left", strength=0.04, steps=20, progress=False)
    assert np.array_equal(untouched, clip)  # int(20 * 0.04) = 0 steps: nothing to do
    # One step from t = 0 of the smoke run's T = 100 (alpha_bar 0.9994): an untrained model's x0 is
    # off by ~sqrt(1 - alpha_bar_0) = 0.025 times its noise error there: a few levels of 255.
    near = pipe.reprompt(clip, "square moving left", strength=0.01, steps=100, progress=False)
    far = pipe.reprompt(clip, "square moving left", strength=0.9, steps=100, progress=False)
    err = lambda a: np.abs(a.astype(int) - clip.astype(int)).mean()  # noqa: E731
    assert err(near) < 8 and err(far) > 3 * err(near), (err(near), err(far))
    with pytest.raises(ValueError, match="strength"):
        pipe.reprompt(clip, "x", strength=0.0)
    with pytest.raises(ValueError, match="strength"):
        pipe.reprompt(clip, "x", strength=1.5)


def test_regenerate_keeps_every_pixel_outside_the_box_and_frames_exactly(pipe):
    clip = squares(6, 20, 24)  # not the run's size nor frame count: resized and re-timed
    picked = clip[[0, 2, 3, 5]]  # 4 evenly spaced of 6
    for sampler, kw in (("ddim", {}), ("dpm++", {"resample": 2, "recon_weight": 1.0})):
        out, x0s = pipe.regenerate(clip, "square moving down", box=(3, 4, 13, 15), frames="1-2", steps=4,
                                   sampler=sampler, return_x_start=True, progress=False, **kw)
        assert out.shape == (4, 20, 24, 3) and out.dtype == np.uint8
        keep = np.ones((4, 20, 24), bool)
        keep[1:3, 4:15, 3:13] = False
        assert np.array_equal(out[keep], picked[keep]), sampler
        assert (out[~keep] != picked[~keep]).mean() > 0.5  # the box of frames 1-2 was regenerated
        assert x0s.shape == (4, 4, 16, 16, 3)  # every step's predicted x0 at the run's size
    whole_frames = pipe.regenerate(clip, "square moving down", frames=[0, 3], steps=3, progress=False)
    assert np.array_equal(whole_frames[1:3], picked[1:3]) and not np.array_equal(whole_frames[0], picked[0])
    with pytest.raises(ValueError, match="not inside"):
        pipe.regenerate(clip, "x", box=(0, 0, 25, 10))
    with pytest.raises(ValueError, match="numbered 0-3"):
        pipe.regenerate(clip, "x", frames="2-4")


def test_extend_keeps_the_input_frames_bit_for_bit(pipe):
    clip = squares(6, 20, 24)
    seen = []
    out = pipe.extend(clip, "square moving right", 5, steps=3, progress=False,
                      callback=lambda i, n, x0: seen.append((i, n, x0.shape)))
    assert out.shape == (11, 20, 24, 3)
    assert np.array_equal(out[:6], clip)
    assert len(seen) == 15 and seen[-1][:2] == (15, 15)  # 5 windows (3 of 4 frames known, 1 new) x 3 steps
    assert [i for i, _, _ in seen] == list(range(1, 16)) and seen[0][2] == (4, 16, 16, 3)
    batch = np.stack([clip, squares(6, 20, 24, seed=1)])
    both, x0s = pipe.extend(batch, ["square moving right", "square moving up"], 3, context=2, steps=2,
                            progress=False, return_x_start=True)
    assert both.shape == (2, 9, 20, 24, 3) and np.array_equal(both[:, :6], batch)
    assert x0s.shape == (4, 2, 4, 16, 16, 3)  # 2 windows x 2 steps, each x0 the whole window
    with pytest.raises(ValueError, match="context"):
        pipe.extend(clip, "square moving right", 2, context=4)


def test_a_set_cancel_event_stops_the_edit(pipe):
    stop = threading.Event()
    calls = []

    def callback(i, n, x0):
        calls.append(i)
        stop.set()

    with pytest.raises(EditCancelled):
        pipe.reprompt(squares(4, 16, 16), "square moving up", strength=1.0, steps=5, callback=callback,
                      cancel=stop, progress=False)
    assert calls == [1]


def test_parse_frames():
    assert parse_frames("0-2,5", 8) == [0, 1, 2, 5]
    assert parse_frames(" 3 ", 4) == [3]
    for bad in ("", "a", "3-1", "0-8", "1,,2"):
        with pytest.raises(ValueError):
            parse_frames(bad, 8)


def test_written_gifs_keep_frames_with_few_colours_exactly(tmp_path):
    clip = squares(5, 20, 24)
    grey = np.repeat(clip[..., :1], 3, axis=-1)
    write_clip(np.concatenate([clip, grey]), [70] * 10, tmp_path / "x.gif", loop=0)
    frames, durations, loop = read_clip(tmp_path / "x.gif")
    assert np.array_equal(frames, np.concatenate([clip, grey])) and durations == [70] * 10 and loop == 0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_command_edits_and_never_touches_the_input(run_dir, tmp_path, capsys):
    src = tmp_path / "in.gif"
    clip = np.repeat(squares(6, 20, 24)[..., :1], 3, axis=-1)  # grey: the file keeps it exactly
    write_clip(clip, [100, 50, 100, 50, 100, 100], src)
    before = _sha(src)
    common = ["--run", str(run_dir), "--input", str(src), "--steps", "3"]

    assert main(common + ["--out", str(tmp_path / "re.gif"), "--prompt", "square moving up"]) == 0
    frames, durations, _ = read_clip(tmp_path / "re.gif")
    assert frames.shape == (4, 20, 24, 3) and sum(durations) == 480  # re-timed to 4 frames, same play time

    (tmp_path / "in.txt").write_text("square moving right\n")  # the caption beside the GIF is the prompt
    assert main(common + ["--out", str(tmp_path / "ext.gif"), "--extend", "3"]) == 0
    frames, durations, _ = read_clip(tmp_path / "ext.gif")
    assert frames.shape == (9, 20, 24, 3) and np.array_equal(frames[:6], clip)
    assert durations == [100, 50, 100, 50, 100, 100, 100, 100, 100]

    assert main(common + ["--out", str(tmp_path / "box.gif"), "--box", "0", "0", "12", "10", "--frames", "0"]) == 0
    frames, _, _ = read_clip(tmp_path / "box.gif")
    assert np.array_equal(frames[1:], clip[[2, 3, 5]]) and np.array_equal(frames[0, 10:], clip[0, 10:])

    assert main(common + ["--out", str(tmp_path / "first.gif"), "--prompt", "square moving up", "--keep-first"]) == 0
    frames, _, _ = read_clip(tmp_path / "first.gif")
    assert frames.shape == (4, 20, 24, 3) and np.array_equal(frames[0], clip[0])  # re-timed, frame 0 kept

    after = tmp_path / "after.gif"
    write_clip(clip[::-1].copy(), [80] * 6, after)
    assert main(common + ["--out", str(tmp_path / "mid.gif"), "--interpolate", str(after), "2"]) == 0
    frames, durations, _ = read_clip(tmp_path / "mid.gif")
    assert frames.shape == (14, 20, 24, 3) and np.array_equal(frames[:6], clip)
    assert np.array_equal(frames[8:], clip[::-1]) and durations == [100, 50, 100, 50, 100, 100, 100, 100] + [80] * 6
    assert _sha(src) == before
    capsys.readouterr()

    broken = tmp_path / "broken.gif"
    broken.write_bytes(b"GIF89a\x00\x01")
    bad_cases = [
        (["--run", str(tmp_path / "nope"), "--input", str(src), "--out", str(tmp_path / "o.gif"), "--prompt", "p"], "run"),
        (["--run", str(run_dir), "--input", str(broken), "--out", str(tmp_path / "o.gif"), "--prompt", "p"], "broken"),
        (common + ["--out", str(tmp_path / "o.gif"), "--box", "0", "0", "30", "10"], "not inside"),
        (common + ["--out", str(tmp_path / "o.gif"), "--prompt", "p", "--strength", "1.5"], "strength"),
        (common + ["--out", str(tmp_path / "o.gif"), "--prompt", "p", "--strength", "0"], "strength"),
        (common + ["--out", str(tmp_path / "o.gif"), "--extend", "2", "--box", "0", "0", "4", "4"], "extend"),
        (common + ["--out", str(tmp_path / "o.gif"), "--frames", "7"], "numbered"),
        (common + ["--out", str(src), "--prompt", "p"], "never modified"),
        (common + ["--out", str(tmp_path / "o.gif"), "--sampler", "euler"], "sampler"),
        (common + ["--out", str(tmp_path / "o.gif"), "--interpolate", str(after), "two"], "whole number"),
        (common + ["--out", str(tmp_path / "o.gif"), "--interpolate", str(tmp_path / "none.gif"), "2"], "no file"),
        (common + ["--out", str(tmp_path / "o.gif"), "--interpolate", str(after), "2", "--extend", "2"], "without"),
        (common + ["--out", str(tmp_path / "o.gif"), "--prompt", "p", "--keep-first", "--frames", "1"], "keep-first"),
        (common + ["--out", str(tmp_path / "o.gif"), "--extend", "2", "--method", "model"], "frame_conditioning"),
    ]
    for argv, words in bad_cases:
        with pytest.raises(SystemExit) as exit_info:
            code = main(argv)
            raise SystemExit(code)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, argv
        assert err.count("\n") == 1 and "error:" in err, err
        assert words in err or words == "broken", err
    assert not (tmp_path / "o.gif").exists() and _sha(src) == before
    assert Image.open(tmp_path / "re.gif").format == "GIF"


def test_editor_panel_runs_in_the_background_and_feeds_preview_and_download(run_dir, tmp_path):
    pytest.importorskip("ipywidgets")
    from gif_fixtures import make_gif
    from vdiff.apps.model_panel import editor_with_model

    ed = editor_with_model(make_gif(n=6, size=(24, 20), durations=[100, 50, 100, 50, 100, 100]),
                           output_path=tmp_path / "edited.gif")
    panel = ed.panels["Model"]
    original = ed.clip
    before = np.stack([np.asarray(f.convert("RGB")) for f in original.frames])
    assert panel.start() is None and "run folder" in panel.last_error  # errors land in the status, not a thread
    panel.set(run=str(run_dir), prompt="square moving up", mode="regenerate", box="0 0 30 10")
    assert panel.start() is None and "not inside" in panel.last_error and "not inside" in panel.status.value
    assert panel.strength.value == 1.0 and not panel.box.disabled and panel.extend.disabled

    panel.set(box="2 3 12 15", frames="1-2", steps=3)
    assert panel.start() is not None and panel.wait(120)
    assert panel.last_error is None, panel.last_error
    assert panel.progress.value == panel.progress.max == 3 and panel.preview.value[:6] == b"GIF89a"
    after = np.stack([np.asarray(f.convert("RGB")) for f in ed.clip.frames])
    keep = np.ones(after.shape[:3], bool)
    keep[1:3, 3:15, 2:12] = False
    assert after.shape == (4, 20, 24, 3) and np.array_equal(after[keep], before[[0, 2, 3, 5]][keep])
    assert ed.result.value[:6] == b"GIF89a" and "preview" in ed.status.value  # the Editor's own preview shows it
    ed.width.value = 120  # a Pillow edit on top of the model's result (keep aspect: height 100)
    saved = ed.download()
    assert saved is not None and Image.open(saved).size == (120, 100)

    panel.back()
    assert ed.clip is original and panel.back_button.disabled

    panel.set(mode="extend", extend=5, steps=2)
    assert panel.start() is not None and panel.wait(120) and panel.last_error is None
    assert ed.clip.n_frames == 11 and ed.clip.durations == [100, 50, 100, 50, 100, 100] + [100] * 5
    assert np.array_equal(np.stack([np.asarray(f.convert("RGB")) for f in ed.clip.frames[:6]]), before)

    extended = ed.clip
    panel.set(mode="reprompt", steps=100)
    thread = panel.start()
    panel.cancel()
    assert thread is not None and panel.wait(120)
    assert "cancelled" in panel.last_error and ed.clip is extended and panel.progress.value < 100
    assert not panel.run_button.disabled and panel.cancel_button.disabled
