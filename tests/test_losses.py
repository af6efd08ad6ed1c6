"""vdiff.losses: the VGG16-BN perceptual loss (taps, normalisation, fp32, frozen, weights)."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torchvision.models import VGG16_BN_Weights, vgg16_bn

import vdiff.models.perceptual as losses
from vdiff.core.config import get_preset
from vdiff.diffusion import Diffusion
from vdiff.models.perceptual import IMAGENET_MEAN, IMAGENET_STD, VGG_TAPS, PerceptualLoss


@pytest.fixture(scope="module")
def loss() -> PerceptualLoss:
    return PerceptualLoss(pretrained=False)


def _clip(b=2, f=2, seed=0):
    return torch.rand(b, 3, f, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_taps_are_relu1_2_to_relu4_3_of_vgg16_bn(loss):
    """3/8/15/22 are plain VGG16's ReLUs; in torchvision's vgg16_bn().features they are 5/12/22/32."""
    reference = vgg16_bn().features
    convs_before = [sum(isinstance(m, nn.Conv2d) for m in reference[: i + 1]) for i in VGG_TAPS]
    assert VGG_TAPS == (5, 12, 22, 32)
    assert all(isinstance(reference[i], nn.ReLU) for i in VGG_TAPS)
    assert convs_before == [2, 4, 7, 10]  # relu1_2, relu2_2, relu3_3, relu4_3
    assert [type(m) for m in loss.features] == [type(m) for m in reference[:33]]


def test_vgg_is_frozen_and_stays_in_eval(loss):
    loss.train()
    assert not loss.training and not any(m.training for m in loss.modules())
    assert not any(p.requires_grad for p in loss.parameters())
    pred = _clip().requires_grad_(True)
    loss(pred, _clip(seed=1)).sum().backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0  # gradients reach the prediction


def test_per_sample_zero_for_identical_and_independent_across_samples(loss):
    a, b = _clip(), _clip(seed=1)
    same = loss(a, a)
    assert same.shape == (2,) and torch.all(same == 0)
    d1 = loss(a, b)
    assert torch.all(d1 > 0)
    a2 = a.clone()
    a2[1] = -a2[1]
    d2 = loss(a2, b)
    assert d2[0] == d1[0] and d2[1] != d1[1]


def test_frames_are_folded_into_the_batch(loss):
    a, b = _clip(1, 3), _clip(1, 3, seed=1)
    per_frame = [loss(a[:, :, i:i + 1], b[:, :, i:i + 1]) for i in range(3)]
    torch.testing.assert_close(loss(a, b), torch.stack(per_frame).mean(0))


def test_inputs_are_mapped_to_imagenet_statistics(loss):
    ones = torch.ones(1, 3, 1, 4, 4)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(loss._normalise(ones), ((1 - mean) / std).expand(1, 3, 4, 4))
    torch.testing.assert_close(loss._normalise(-ones), ((0 - mean) / std).expand(1, 3, 4, 4))
    grey = loss._normalise(torch.zeros(1, 1, 1, 4, 4))  # one channel is repeated to RGB
    torch.testing.assert_close(grey, ((0.5 - mean) / std).expand(1, 3, 4, 4))


def test_computed_in_fp32_under_autocast(loss):
    a, b = _clip(), _clip(seed=1)
    reference = loss(a, b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = loss(a.bfloat16(), b.bfloat16())
    assert inside.dtype == torch.float32
    torch.testing.assert_close(inside, loss(a.bfloat16().float(), b.bfloat16().float()))
    assert torch.allclose(inside, reference, rtol=0.05)


def test_bad_shapes_raise(loss):
    with pytest.raises(ValueError, match="one shape"):
        loss(_clip(), _clip(1))
    with pytest.raises(ValueError, match="channels"):
        loss(torch.zeros(1, 2, 1, 16, 16), torch.zeros(1, 2, 1, 16, 16))


def test_missing_imagenet_weights_warn_exactly_once(monkeypatch):
    def offline(self, *args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(VGG16_BN_Weights, "get_state_dict", offline)
    monkeypatch.setattr(losses, "_warned_random_weights", False)
    losses._cached_vgg16_bn_features.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            losses.vgg16_bn_features(pretrained=True)
            losses._cached_vgg16_bn_features.cache_clear()
            losses.vgg16_bn_features(pretrained=True)
            losses.vgg16_bn_features(pretrained=False)
        messages = [str(w.message) for w in caught if "RANDOM" in str(w.message)]
        assert len(messages) == 1 and "no network" in messages[0]
    finally:
        losses._cached_vgg16_bn_features.cache_clear()


def test_imagenet_weights_are_loaded_when_obtainable(monkeypatch):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        state = vgg16_bn().state_dict()
    monkeypatch.setattr(VGG16_BN_Weights, "get_state_dict", lambda self, *a, **k: state)
    losses._cached_vgg16_bn_features.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            features = losses.vgg16_bn_features(pretrained=True)
        torch.testing.assert_close(features[0].weight, state["features.0.weight"])
        torch.testing.assert_close(features[31].running_var, state["features.31.running_var"])
    finally:
        losses._cached_vgg16_bn_features.cache_clear()


def test_building_vgg_does_not_move_the_global_rng(monkeypatch):
    """Built lazily mid-training (or after a resume), VGG must not shift the trainer's random stream."""
    losses._cached_vgg16_bn_features.cache_clear()
    torch.manual_seed(0)
    PerceptualLoss(pretrained=False)
    after_build = torch.rand(3)
    torch.manual_seed(0)
    torch.testing.assert_close(after_build, torch.rand(3))


def test_zero_weight_never_builds_vgg(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("VGG built although perceptual_weight is 0")

    monkeypatch.setattr(losses, "vgg16_bn_features", forbidden)
    d = Diffusion(get_preset("smoke", perceptual_weight=0.0))
    model = nn.Conv3d(3, 3, 1)
    out = d.training_losses(lambda x, t, e, **_: model(x), _clip(2, 4), torch.zeros(2, 8))
    assert d.perceptual is None and out["perceptual_loss"].item() == 0.0
