"""The judge: committed weights classify fresh real clips, centroid tracks read all four directions."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from data_prep.moving_mnist import generate_labeled
from vdiff.evaluation import judge as J


# Module-wide, so that the module-scoped trained-run fixture runs on one thread too.
pytestmark = pytest.mark.usefixtures("single_thread_torch")


def test_committed_judge_is_accurate_on_fresh_heldout_clips():
    # Seeds 10_000+ are never used for training; seed 7 is also not the held-out seed stored in the weights.
    model = J.load_judge()
    acc = J.heldout_accuracy(model, num=90, seed=7)
    assert acc["clip_accuracy"] >= J.MIN_ACCURACY
    assert acc["frame_accuracy"] >= 0.9
    assert float(J.judge_metadata()["heldout_clip_accuracy"]) >= J.MIN_ACCURACY


@pytest.mark.parametrize("size", [16, 32, 64])
def test_direction_from_centroid_is_right_for_every_direction(size):
    clips = list(generate_labeled(40, size=size, frames=8, seed=3, source="sklearn"))
    assert {c.directions[0] for c in clips} == set(J.DIRECTIONS)
    wrong = [(c.caption, J.clip_direction(c.frames)) for c in clips if J.clip_direction(c.frames) != c.directions[0]]
    assert wrong == []


def test_direction_of_a_static_or_empty_clip_is_no_motion():
    still = np.zeros((6, 32, 32, 3), np.uint8)
    assert J.clip_direction(still) == J.NO_MOTION          # no ink at all
    still[:, 10:20, 10:20] = 255
    assert J.clip_direction(still) == J.NO_MOTION          # ink that does not move


def test_direction_uses_image_coordinates():
    # A square moving towards larger row indices goes down the screen.
    clip = np.zeros((5, 32, 32, 3), np.uint8)
    for t in range(5):
        clip[t, 2 + 4 * t:8 + 4 * t, 12:18] = 255
    assert J.clip_direction(clip) == "down"
    assert J.clip_direction(clip[::-1].copy()) == "up"
    assert J.clip_direction(np.ascontiguousarray(clip.transpose(0, 2, 1, 3))) == "right"


def test_judge_refuses_weights_below_the_accuracy_gate(tmp_path):
    path = J.save_judge(J.DigitJudge(8), tmp_path / "weak.safetensors", {"heldout_clip_accuracy": "0.5"})
    with pytest.raises(ValueError, match="below 0.95"):
        J.load_judge(path)
    model, meta = J.read_judge(path)  # the ungated reader still opens it for inspection
    assert meta["heldout_clip_accuracy"] == "0.5" and model.width == 8


def test_judge_round_trips_through_safetensors(tmp_path):
    torch.manual_seed(0)
    model = J.DigitJudge(8).eval()
    path = J.save_judge(model, tmp_path / "j.safetensors", {"heldout_clip_accuracy": "0.99"})
    loaded = J.load_judge(path)
    x = torch.rand(3, 1, J.JUDGE_SIZE, J.JUDGE_SIZE)
    assert torch.allclose(model(x), loaded(x))


def test_judge_clips_shapes_and_input_errors():
    clips = np.stack([c.frames for c in generate_labeled(4, size=16, frames=4, seed=1, source="sklearn")])
    verdict = J.judge_clips(J.load_judge(), clips)
    assert verdict.features.shape == (4, 4, J.load_judge().feature_dim)
    assert np.allclose(verdict.digit_probs.sum(1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        J.judge_clips(J.load_judge(), clips.astype(np.float32))


def test_cli_missing_weights_is_one_line_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vdiff.judge", "check", "--weights", str(tmp_path / "no.safetensors")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not found" in proc.stderr


def test_frame_digits_expose_a_clip_that_morphs_into_another_digit():
    # Real clips show one digit in nearly every frame; a clip whose second half is another digit's
    # frames keeps a majority digit but only half its frames show it (frame_digit_consistency).
    by_digit: dict[int, np.ndarray] = {}
    for c in generate_labeled(200, size=32, frames=8, seed=11, source="sklearn"):
        by_digit.setdefault(c.digits[0], c.frames)
    real = np.stack([by_digit[d] for d in sorted(by_digit)])
    verdict = J.judge_clips(J.load_judge(), real)
    assert verdict.frame_digits.shape == (len(real), 8)
    assert (verdict.frame_digits == np.array(sorted(by_digit))[:, None]).mean() >= 0.9
    morph = np.concatenate([by_digit[3][:4], by_digit[7][4:]])[None]
    frames = J.judge_clips(J.load_judge(), morph).frame_digits[0]
    assert 0.25 <= (frames == 3).mean() <= 0.75 and (frames == 7).mean() >= 0.25
