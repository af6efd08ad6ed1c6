"""EMA: the warm-up decay curve (checked against diffusers' EMAModel formula) and the update itself."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from vdiff.core.config import Config
from vdiff.training.ema import EMA, ema_decay


def test_decay_curve_warms_up_from_min_to_max():
    cfg = Config()
    curve = [ema_decay(n, cfg) for n in range(0, 2_000_000, 997)]
    assert curve[0] == cfg.ema_decay_min
    assert all(b >= a for a, b in zip(curve, curve[1:]))  # never decreases
    assert curve[-1] == cfg.ema_decay_max
    # A fixed 0.9999 would keep 0.9999 ** 10_000 = 37% of the init after 10k updates; the warm-up keeps far less.
    kept = 1.0
    for n in range(10_000):
        kept *= ema_decay(n, cfg)
    assert kept < 1e-6
    assert 0.997 < ema_decay(10_000, cfg) < 0.9999


def test_decay_matches_diffusers_ema_warmup_formula():
    from diffusers.training_utils import EMAModel

    cfg = Config(ema_inv_gamma=2.0, ema_power=0.75, ema_decay_min=0.5, ema_decay_max=0.999)
    ref = EMAModel(nn.Linear(2, 2).parameters(), decay=cfg.ema_decay_max, min_decay=cfg.ema_decay_min,
                   use_ema_warmup=True, inv_gamma=cfg.ema_inv_gamma, power=cfg.ema_power)
    # diffusers counts optimizer steps from 1 and uses step - 1; we count earlier EMA updates.
    for n in (1, 2, 5, 40, 1000, 10**6):
        assert ema_decay(n, cfg) == pytest.approx(ref.get_decay(n + 1), rel=1e-12)


def test_update_math_count_and_state_dict_round_trip():
    torch.manual_seed(0)
    cfg = Config()
    model = nn.Linear(3, 3)
    ema = EMA(model, cfg)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.step(model)  # first update copies the model as it is now
    assert torch.equal(ema.module.weight, model.weight)
    before = ema.module.weight.clone()
    with torch.no_grad():
        model.weight.mul_(-2.0)
    ema.step(model)
    d = ema_decay(1, cfg)
    assert ema.last_decay == d
    assert torch.allclose(ema.module.weight, d * before + (1 - d) * model.weight)
    assert ema.update_count == 2

    other = EMA(nn.Linear(3, 3), cfg)
    other.load_state_dict(ema.state_dict())
    assert other.update_count == 2
    assert torch.equal(other.module.weight, ema.module.weight)
    target = nn.Linear(3, 3)
    ema.copy_to(target)
    assert torch.equal(target.weight, ema.module.weight)


def test_ema_weights_stay_fp32_for_a_bf16_model():
    model = nn.Linear(4, 4).to(torch.bfloat16)
    ema = EMA(model, Config())
    assert ema.module.weight.dtype == torch.float32
    ema.step(model)
    ema.step(model)
    assert ema.module.weight.dtype == torch.float32
