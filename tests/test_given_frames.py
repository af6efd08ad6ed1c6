"""Given frames (issue 26): the training masks, the loss over the frames to make, the model's extra input,
and the pipeline's continuation and in-betweening that return the given frames bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import write_moving_square_pairs
from vdiff.core.config import get_preset
from vdiff.diffusion import Diffusion
from vdiff.generate import load_pipeline
from vdiff.models.unet import UNet3D
from vdiff.train import main as train_main
from vdiff.train import train
from vdiff.training.given_frames import PATTERNS, draw_given_mask, draw_pattern

pytestmark = pytest.mark.usefixtures("single_thread_torch")
TEXT_DIM = 8


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("frames", [2, 3, 8])
def test_every_pattern_gives_some_frames_and_leaves_some_to_make(pattern, frames):
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        given = draw_pattern(pattern, frames, g)
        assert 1 <= int(given.sum()) <= frames - 1
        idx = given.nonzero().flatten().tolist()
        if pattern == "prefix":
            assert idx == list(range(len(idx)))
        elif pattern == "suffix":
            assert idx == list(range(frames - len(idx), frames))
        elif pattern == "ends" and frames >= 3:
            assert given[0] and given[-1] and not given[1:-1].all()


def test_the_given_share_and_the_draws_are_the_generators_own():
    masks = draw_given_mask(400, 8, 0.5, PATTERNS, torch.Generator().manual_seed(3))
    assert masks.shape == (400, 1, 8, 1, 1)
    given_rows = (masks.flatten(1).sum(1) > 0).float().mean()
    assert 0.4 < given_rows < 0.6  # about the share asked for; the rest train plain text-to-video
    again = draw_given_mask(400, 8, 0.5, PATTERNS, torch.Generator().manual_seed(3))
    assert torch.equal(masks, again)  # a resumed run draws the same given frames
    assert not draw_given_mask(50, 8, 0.0, PATTERNS, torch.Generator().manual_seed(3)).any()
    assert (draw_given_mask(50, 8, 1.0, ("prefix",), torch.Generator()).flatten(1).sum(1) > 0).all()


class Echo(torch.nn.Module):
    """Predicts ``target + err`` where the test says, to see which frames the loss counts."""

    def __init__(self, target: torch.Tensor, err: torch.Tensor) -> None:
        super().__init__()
        self.target, self.err, self.seen = target, err, {}
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, text_emb, drop_mask=None, text_tokens=None, text_mask=None, **extra):
        self.seen = extra
        return self.target + self.err + 0 * self.w


def test_the_loss_counts_only_the_frames_not_given_and_the_model_sees_them_clean():
    cfg = get_preset("smoke", frame_conditioning=True, prediction_type="epsilon")
    d = Diffusion(cfg)
    x0, noise = torch.rand(2, 3, 4, 16, 16) * 2 - 1, torch.randn(2, 3, 4, 16, 16)
    mask = torch.zeros(2, 1, 4, 1, 1)
    mask[0, 0, :2] = 1  # clip 0 is given its first two frames; clip 1 none
    err = torch.zeros_like(x0)
    err[0, :, :2] = 5.0  # wrong only where given: must not count
    model = Echo(noise, err)
    out = d.training_losses(model, x0, torch.randn(2, TEXT_DIM), t=torch.tensor([10, 50]), noise=noise,
                            given_mask=mask)
    assert out["loss"].item() == 0.0
    assert torch.equal(model.seen["given"], x0) and torch.equal(model.seen["given_mask"], mask)
    err[0, :, 2] = 1.0  # one of clip 0's two frames to make is off by 1: half its counted elements
    out = d.training_losses(Echo(noise, err), x0, torch.randn(2, TEXT_DIM), t=torch.tensor([10, 50]), noise=noise,
                            given_mask=mask)
    assert out["loss"].item() == pytest.approx((0.5 + 0.0) / 2)
    plain = Diffusion(get_preset("smoke", prediction_type="epsilon"))  # a run without the option is handed none
    model = Echo(noise, torch.zeros_like(x0))
    plain.training_losses(model, x0, torch.randn(2, TEXT_DIM), t=torch.tensor([10, 50]), noise=noise, given_mask=mask)
    assert model.seen == {}


def test_the_model_reads_given_frames_and_a_run_without_the_option_refuses_them():
    cfg = get_preset("smoke", frame_conditioning=True)
    torch.manual_seed(0)
    model = UNet3D(cfg, TEXT_DIM).eval()
    for p in model.parameters():  # leave the zero-initialised identity start
        p.data.add_(torch.randn_like(p) * 0.05)
    x, t, text = torch.randn(1, 3, 4, 16, 16), torch.tensor([30]), torch.randn(1, TEXT_DIM)
    given, mask = torch.rand(1, 3, 4, 16, 16), torch.zeros(1, 1, 4, 1, 1)
    mask[0, 0, 0] = 1
    with torch.no_grad():
        none = model(x, t, text)
        first = model(x, t, text, given=given, given_mask=mask)
        changed_elsewhere = given.clone()
        changed_elsewhere[:, :, 1:] = -1  # frames not given: their values must not matter
        same = model(x, t, text, given=changed_elsewhere, given_mask=mask)
    assert not torch.allclose(none, first) and torch.equal(first, same)
    with pytest.raises(ValueError, match="frame_conditioning"):
        UNet3D(get_preset("smoke"), TEXT_DIM)(x, t, text, given=given, given_mask=mask)
    with pytest.raises(ValueError, match="given_mask"):
        model(x, t, text, given=given, given_mask=torch.zeros(1, 4))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A smoke run trained with given frames and one without, on moving squares."""
    root = tmp_path_factory.mktemp("given")
    data = write_moving_square_pairs(root / "pairs")
    with_given = train(get_preset("smoke", frame_conditioning=True, max_steps=12), data, root / "given")
    plain = train(get_preset("smoke", max_steps=12), data, root / "plain")
    return load_pipeline(with_given), load_pipeline(plain)


def _clip(frames: int = 4) -> np.ndarray:
    clip = np.zeros((frames, 16, 16, 3), np.uint8)
    for f in range(frames):
        clip[f, 4:10, 2 + 2 * f:8 + 2 * f] = 200 + 10 * f
    return clip


def test_continuing_and_filling_in_return_the_given_frames_bit_for_bit(runs):
    given, plain = runs
    clip = _clip()
    for pipe in (given, plain):  # a run trained without given frames still continues (replacement)
        longer = pipe.extend(clip, "square moving right", 5, steps=3, progress=False)
        assert longer.shape == (9, 16, 16, 3) and np.array_equal(longer[:4], clip)
        joined = pipe.interpolate(clip, clip[::-1], 2, steps=3, progress=False)
        assert joined.shape == (10, 16, 16, 3)
        assert np.array_equal(joined[:4], clip) and np.array_equal(joined[6:], clip[::-1])
    far = given.interpolate(clip, clip[::-1], 5, prompts="square moving right", steps=3, progress=False)
    assert far.shape == (13, 16, 16, 3) and np.array_equal(far[9:], clip[::-1])  # longer than one window
    kept = given.reprompt(clip, "square moving left", keep_first=True, steps=3, progress=False)
    assert np.array_equal(kept[0], clip[0]) and not np.array_equal(kept[1:], clip[1:])


def test_the_model_method_uses_the_given_frames_and_is_refused_without_them(runs):
    given, plain = runs
    clip = _clip()
    by_model = given.extend(clip, "square moving right", 3, steps=3, seed=1, progress=False)
    by_replacement = given.extend(clip, "square moving right", 3, steps=3, seed=1, method="replace", progress=False)
    assert not np.array_equal(by_model, by_replacement)  # the given frames went in as the model's input
    with pytest.raises(ValueError, match="frame_conditioning"):
        plain.extend(clip, "square moving right", 3, method="model")


def test_long_clips_continue_the_first_window(runs):
    given, _ = runs
    window = given(["square moving right"], seed=0, steps=3, progress=False)
    long = given(["square moving right"], seed=0, steps=3, num_frames=10, progress=False)
    assert long.shape == (1, 10, 16, 16, 3) and np.array_equal(long[:, :4], window)
    with pytest.raises(ValueError, match="num_frames"):
        given(["square moving right"], num_frames=2)


def test_a_resumed_frame_conditioned_run_draws_what_the_uninterrupted_one_did(tmp_path):
    data = write_moving_square_pairs(tmp_path / "pairs")
    cfg = get_preset("smoke", frame_conditioning=True, save_every=4, log_every=1)
    whole = train(cfg.replace(max_steps=8), data, tmp_path / "whole")
    part = tmp_path / "part"
    train(cfg.replace(max_steps=4), data, part)
    assert train_main(["--data", str(data), "--out", str(part), "--max-steps", "8"]) == 0  # resume

    def losses(run):
        import json
        return [r["loss"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())
                if "loss" in r and r["step"] > 4]
    assert losses(part)[-4:] == losses(whole)[-4:]
