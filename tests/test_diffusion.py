"""vdiff.diffusion: schedules, forward process, loss, samplers, guidance, x0 clipping."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from vdiff.core.config import get_preset
from vdiff.core.options import SamplingOptions
from vdiff.diffusion import Condition, Diffusion, clip_x0, dynamic_threshold, guided_denoiser, sample, sample_timesteps


def _sample(d, model, text_emb, *, text_tokens=None, text_mask=None, sampler="ddim", steps=20, guidance=2.0,
            x0_clip="static", x0_clip_quantile=0.995, return_x_start=False, x_start_every_step=False, **kw):
    """vdiff.diffusion.sample with the options spelled out, every step's x0 collected through its callback."""
    per_step = []
    options = SamplingOptions(sampler, steps, guidance, x0_clip, x0_clip_quantile)
    out = sample(d, model, Condition(text_emb, text_tokens, text_mask), options,
                 callback=lambda i, n, x0: per_step.append(x0.cpu()), **kw)
    if x_start_every_step:
        return out, per_step
    return (out, per_step[-1]) if return_x_start else out

TEXT_DIM = 8


class DummyDenoiser(nn.Module):
    """A tiny model with the UNet3D call convention that records every call's batch size."""

    def __init__(self, channels: int = 3, text_dim: int = TEXT_DIM, scale: float = 1.0) -> None:
        super().__init__()
        self.mix = nn.Conv3d(channels, channels, 1)
        self.text = nn.Linear(text_dim, channels)
        self.null_text_emb = nn.Parameter(torch.randn(text_dim))
        self.scale = scale
        self.calls: list[int] = []

    def forward(self, x, timesteps, text_emb, drop_mask=None, text_tokens=None, text_mask=None):
        self.calls.append(x.shape[0])
        if drop_mask is not None:
            text_emb = torch.where(drop_mask[:, None], self.null_text_emb.expand_as(text_emb), text_emb)
        cond = self.text(text_emb)[:, :, None, None, None]
        return self.scale * (self.mix(x) + cond + timesteps.float().view(-1, 1, 1, 1, 1) / 1000)


@pytest.fixture
def cfg():
    return get_preset("smoke")  # T = 100, 16x16, 4 frames


def _clip(b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, 4, 16, 16, generator=g) * 2 - 1


# --- schedule and forward process ---------------------------------------------------------------

def test_cosine_schedule_matches_formula_and_caps_betas_at_0_999(cfg):
    d = Diffusion(cfg.replace(timesteps=1000))
    assert d.betas.max().item() == pytest.approx(0.999)  # the last beta hits the cap
    assert (d.betas <= 0.999 + 1e-6).all()
    s, T = 0.008, 1000
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 100, 500, 900):
        assert d.alphas_cumprod[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-4)
    assert (d.alphas_cumprod.diff() < 0).all()


def test_linear_schedule_is_scaled_so_short_schedules_end_in_noise(cfg):
    d = Diffusion(cfg.replace(beta_schedule="linear", timesteps=100))
    assert d.alphas_cumprod[-1] < 1e-3
    assert d.betas[0].item() == pytest.approx(1e-3)  # 1e-4 * 1000 / T


def test_explicit_betas_replace_the_named_schedule_everywhere(cfg):
    # Another project's schedule (the reference caps cosine betas at 0.9999, not 0.999).
    betas = torch.linspace(1e-3, 0.9999, cfg.timesteps)
    d = Diffusion(cfg, betas=betas)
    expected = torch.cumprod(1 - betas.double(), 0).float()
    assert torch.allclose(d.alphas_cumprod, expected)
    for sampler in ("ddim", "ddpm", "dpm++"):
        assert torch.allclose(d.make_scheduler(sampler, 4).alphas_cumprod, expected)
    with pytest.raises(ValueError, match="betas must have shape"):
        Diffusion(cfg, betas=betas[:-1])


def test_add_noise_and_x_start_round_trip_for_epsilon_and_v(cfg):
    x0, noise = _clip(), torch.randn(2, 3, 4, 16, 16)
    t = torch.tensor([3, 80])
    for prediction in ("epsilon", "v_prediction"):
        d = Diffusion(cfg.replace(prediction_type=prediction))
        ab = d.alphas_cumprod[t].view(-1, 1, 1, 1, 1)
        x_t = d.add_noise(x0, noise, t)
        torch.testing.assert_close(x_t, ab.sqrt() * x0 + (1 - ab).sqrt() * noise)
        perfect = noise if prediction == "epsilon" else d.velocity(x0, noise, t)
        torch.testing.assert_close(d.predict_x_start(x_t, t, perfect), x0, atol=1e-4, rtol=1e-4)


# --- training loss ------------------------------------------------------------------------------

def test_training_losses_keys_and_gradients(cfg):
    d, model = Diffusion(cfg), DummyDenoiser()
    out = d.training_losses(model, _clip(), torch.randn(2, TEXT_DIM))
    assert set(out) == {"loss", "noise_loss", "perceptual_loss"}
    assert out["perceptual_loss"].item() == 0.0 and d._perceptual is None  # weight 0: VGG never built
    out["loss"].backward()
    assert model.mix.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("loss_type", ["l2", "l1"])
def test_noise_loss_targets_epsilon_or_v(cfg, prediction, loss_type):
    d = Diffusion(cfg.replace(prediction_type=prediction, loss_type=loss_type))
    x0, noise, t = _clip(), torch.randn(2, 3, 4, 16, 16), torch.tensor([10, 60])
    target = noise if prediction == "epsilon" else d.velocity(x0, noise, t)

    class Oracle(nn.Module):
        def forward(self, x, timesteps, text_emb, **_):
            return target + 0.5  # off by exactly 0.5 everywhere

    out = d.training_losses(Oracle(), x0, torch.zeros(2, TEXT_DIM), t=t, noise=noise)
    assert out["noise_loss"].item() == pytest.approx(0.25 if loss_type == "l2" else 0.5, rel=1e-4)


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_min_snr_weighting_is_min_snr_gamma_times_the_x0_error(cfg, prediction):
    # Whatever the target, a model whose implied x0 is off by 0.1 everywhere must cost
    # min(SNR_t, gamma) * 0.01 per sample: that is what min-SNR-gamma weighting means.
    gamma = 5.0
    d = Diffusion(cfg.replace(prediction_type=prediction, snr_gamma=gamma))
    x0, noise, t = _clip(3), torch.randn(3, 3, 4, 16, 16), torch.tensor([1, 30, 90])
    ab = d.alphas_cumprod[t].view(-1, 1, 1, 1, 1)

    class OffByPointOne(nn.Module):
        def forward(self, x, timesteps, text_emb, **_):
            x0_pred = x0 + 0.1
            if prediction == "epsilon":
                return (x - ab.sqrt() * x0_pred) / (1 - ab).sqrt()
            return (ab.sqrt() * x - x0_pred) / (1 - ab).sqrt()

    out = d.training_losses(OffByPointOne(), x0, torch.zeros(3, TEXT_DIM), t=t, noise=noise)
    snr = d.alphas_cumprod[t] / (1 - d.alphas_cumprod[t])
    expected = (snr.clamp(max=gamma) * 0.01).mean().item()
    assert out["noise_loss"].item() == pytest.approx(expected, rel=1e-3)
    assert snr.min() < gamma < snr.max()  # both sides of the clamp are exercised


def test_the_min_snr_floor_keeps_the_noisiest_steps_training(cfg):
    t = torch.tensor([1, 10, 50, 90, 99])
    plain = Diffusion(cfg.replace(prediction_type="v_prediction", snr_gamma=5.0)).min_snr_weight(t)
    floored = Diffusion(cfg.replace(prediction_type="v_prediction", snr_gamma=5.0, snr_weight_floor=0.3)).min_snr_weight(t)
    assert plain[-1] < 0.01 and floored[-1] == pytest.approx(0.3)  # v's min-SNR weight falls to ~0 at T-1
    assert torch.equal(floored, plain.clamp(min=0.3)) and (floored >= 0.3).all()
    with pytest.raises(ValueError, match="snr_weight_floor"):
        cfg.replace(snr_weight_floor=1.5)


def test_cap_only_min_snr_keeps_the_noisy_steps_at_the_plain_loss(cfg):
    t = torch.arange(0, 100, 7)
    d = Diffusion(cfg.replace(prediction_type="v_prediction", snr_gamma=5.0, snr_cap_only=True))
    weight = d.min_snr_weight(t)
    snr = d.alphas_cumprod[t] / (1 - d.alphas_cumprod[t])
    noisy = snr + 1 <= 5.0
    assert noisy.any() and (~noisy).any()  # both sides of the cap are exercised
    assert torch.allclose(weight[noisy], torch.ones(int(noisy.sum())))
    assert torch.allclose(weight[~noisy], 5.0 / (snr[~noisy] + 1)) and (weight[~noisy] < 1).all()
    eps = Diffusion(cfg.replace(prediction_type="epsilon", snr_gamma=5.0))
    assert torch.equal(Diffusion(cfg.replace(prediction_type="epsilon", snr_gamma=5.0, snr_cap_only=True))
                       .min_snr_weight(t), eps.min_snr_weight(t))  # epsilon's min-SNR already only caps


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_timestep_shift_moves_training_toward_noise_by_the_sd3_formula(shift):
    # The same uniform draws, mapped: u -> shift*u / (1 + (shift-1)*u), then scaled to [0, T).
    t = sample_timesteps(100_000, 1000, shift, generator=torch.Generator().manual_seed(0))
    u = torch.rand(100_000, generator=torch.Generator().manual_seed(0))
    expected = (shift * u / (1 + (shift - 1) * u) * 1000).long()
    assert torch.equal(t, expected)
    assert t.min() >= 0 and t.max() <= 999
    # Share in the noisiest tenth: P(u > 0.9 / (shift - 0.9 * (shift - 1))).
    share = (t >= 900).float().mean().item()
    assert share == pytest.approx(1 - 0.9 / (shift - 0.9 * (shift - 1)), abs=0.005)


def test_training_losses_draw_shifted_timesteps_by_default(cfg):
    seen = []
    diffusion = Diffusion(cfg.replace(timestep_shift=5.0))
    model = lambda x, t, *a, **k: (seen.append(t.clone()), torch.zeros_like(x))[1]  # noqa: E731
    x0 = torch.zeros(4096, cfg.channels, 1, 1, 1)
    diffusion.training_losses(model, x0, torch.zeros(4096, 8))
    assert (seen[0] >= 0.9 * diffusion.num_timesteps).float().mean() > 0.3  # uniform would give 0.1


def test_perceptual_loss_is_weighted_by_alpha_bar(cfg):
    """The perceptual term on blurry large-t x0 predictions must barely count (Diffusion.training_losses says why)."""
    # One single-frame clip keeps the six VGG passes cheap; the loss does not need the config's shape.
    x0, noise, emb = _clip(1)[:, :, :1], torch.randn(1, 3, 1, 16, 16), torch.randn(1, TEXT_DIM)
    model = DummyDenoiser(scale=0.3)
    results = {}
    for weighting in ("alpha_bar", "none"):
        d = Diffusion(cfg.replace(perceptual_weight=0.5, perceptual_weighting=weighting, perceptual_pretrained=False))
        for t in (5, 50, 95):
            out = d.training_losses(model, x0, emb, t=torch.tensor([t]), noise=noise)
            results[weighting, t] = out
            assert out["loss"].item() == pytest.approx(
                out["noise_loss"].item() + 0.5 * out["perceptual_loss"].item(), rel=1e-5)
    for t in (5, 50, 95):
        ratio = results["alpha_bar", t]["perceptual_loss"] / results["none", t]["perceptual_loss"]
        assert ratio.item() == pytest.approx(Diffusion(cfg).alphas_cumprod[t].item(), rel=1e-4)
    assert results["alpha_bar", 95]["perceptual_loss"] < 0.01 * results["none", 95]["perceptual_loss"]


def test_vgg_stays_out_of_the_model_and_its_state_dict(cfg):
    d = Diffusion(cfg.replace(perceptual_weight=0.1, perceptual_pretrained=False))
    model = DummyDenoiser()
    keys_before = set(model.state_dict())
    d.training_losses(model, _clip(), torch.randn(2, TEXT_DIM))["loss"].backward()
    assert set(model.state_dict()) == keys_before
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    vgg = d.perceptual
    assert vgg is not None and not vgg.training
    assert not any(p.requires_grad or p.grad is not None for p in vgg.parameters())


# --- samplers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("sampler", ["ddim", "dpm++"])
@pytest.mark.parametrize("steps", [1, 4, 7, 20, 100])
def test_timesteps_start_at_the_noisiest_step_and_strictly_decrease(cfg, sampler, steps):
    ts = Diffusion(cfg).make_scheduler(sampler, steps).timesteps
    assert len(ts) == steps
    assert ts[0].item() == cfg.timesteps - 1
    assert (ts.diff() < 0).all() and ts[-1] >= 0


def test_ddpm_runs_every_step(cfg):
    ts = Diffusion(cfg).make_scheduler("ddpm", 4).timesteps
    assert ts.tolist() == list(range(cfg.timesteps - 1, -1, -1))


def test_bad_sampler_arguments_raise_value_errors(cfg):
    d, model, emb = Diffusion(cfg), DummyDenoiser(), torch.randn(1, TEXT_DIM)
    with pytest.raises(ValueError, match="sampler"):
        _sample(d, model, emb, sampler="euler", progress=False)
    with pytest.raises(ValueError, match="steps"):
        _sample(d, model, emb, steps=0, progress=False)
    with pytest.raises(ValueError, match="x0_clip_quantile"):
        _sample(d, model, emb, x0_clip="dynamic", x0_clip_quantile=1.5, progress=False)
    with pytest.raises(ValueError, match="x0_clip"):
        _sample(d, model, emb, x0_clip="dynamic-ish", progress=False)
    with pytest.raises(ValueError, match="text_emb"):
        _sample(d, model, torch.randn(TEXT_DIM), progress=False)
    assert model.calls == []


def test_guidance_is_one_batched_forward_pass(cfg):
    d, model = Diffusion(cfg), DummyDenoiser()
    x, t, emb = _clip(), torch.tensor([40, 40]), torch.randn(2, TEXT_DIM)
    cond = model(x, t, emb)
    uncond = model(x, t, emb, drop_mask=torch.ones(2, dtype=torch.bool))
    model.calls.clear()
    guided = guided_denoiser(model, Condition(emb), 3.0)(x, t)
    assert model.calls == [4]  # cond and uncond rows in one call
    torch.testing.assert_close(guided, uncond + 3.0 * (cond - uncond))
    model.calls.clear()
    torch.testing.assert_close(guided_denoiser(model, Condition(emb), 1.0)(x, t), cond)
    assert model.calls == [2]  # scale 1: the conditional prediction only


def test_sample_calls_the_model_once_per_step(cfg):
    d, model = Diffusion(cfg), DummyDenoiser()
    _sample(d, model, torch.randn(3, TEXT_DIM), steps=5, guidance=2.0, progress=False)
    assert model.calls == [6] * 5
    model.calls.clear()
    _sample(d, model, torch.randn(3, TEXT_DIM), steps=5, guidance=1.0, progress=False)
    assert model.calls == [3] * 5


@pytest.mark.parametrize("sampler", ["ddim", "ddpm", "dpm++"])
def test_x_start_shapes_and_sample_range(cfg, sampler):
    cfg = cfg.replace(timesteps=20)  # DDPM runs all T steps
    d, model, emb = Diffusion(cfg), DummyDenoiser(), torch.randn(2, TEXT_DIM)
    sample, x0 = _sample(d, model, emb, sampler=sampler, steps=3, return_x_start=True, progress=False, generator=0)
    assert sample.shape == x0.shape == (2, 3, 4, 16, 16)
    assert sample.abs().max() <= 1.0
    sample2, per_step = _sample(d, model, emb, sampler=sampler, steps=3, x_start_every_step=True,
                                 progress=False, generator=0)
    expected_steps = cfg.timesteps if sampler == "ddpm" else 3
    assert len(per_step) == expected_steps and all(s.shape == sample.shape for s in per_step)
    torch.testing.assert_close(sample2, sample)
    torch.testing.assert_close(per_step[-1], x0)  # the returned x0 is the last step's prediction
    assert not torch.allclose(per_step[0], per_step[-1])


@pytest.mark.parametrize("sampler,eta", [("ddim", 0.0), ("ddim", 1.0), ("ddpm", 0.0), ("dpm++", 0.0)])
def test_same_seed_same_sample_different_seed_different(cfg, sampler, eta):
    cfg = cfg.replace(timesteps=20)  # DDPM runs all T steps
    d, model, emb = Diffusion(cfg), DummyDenoiser(), torch.randn(2, TEXT_DIM)
    kw = dict(sampler=sampler, steps=4, eta=eta, progress=False)
    a = _sample(d, model, emb, generator=7, **kw)
    torch.manual_seed(123)  # the global RNG must not matter
    b = _sample(d, model, emb, generator=torch.Generator().manual_seed(7), **kw)
    c = _sample(d, model, emb, generator=8, **kw)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert (a - c).abs().max() > 1e-3


def test_sampling_restores_training_mode(cfg):
    model = DummyDenoiser().train()
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(m.training))
    _sample(Diffusion(cfg), model, torch.randn(1, TEXT_DIM), steps=2, progress=False)
    assert seen == [False, False] and model.training


@pytest.mark.parametrize("x0_clip", ["dynamic", "static"])
def test_x0_clipping_keeps_every_x_start_in_range(cfg, x0_clip):
    d, emb = Diffusion(cfg), torch.randn(2, TEXT_DIM)
    wild = DummyDenoiser(scale=-5.0)  # predicts noise that implies x0 far outside [-1, 1]
    _, per_step = _sample(d, wild, emb, steps=4, x0_clip=x0_clip, x_start_every_step=True,
                           progress=False, generator=0)
    assert all(x0.abs().max() <= 1.0 + 1e-6 for x0 in per_step)
    _, raw = _sample(d, wild, emb, steps=4, x0_clip="none", x_start_every_step=True, progress=False, generator=0)
    assert max(x0.abs().max() for x0 in raw) > 1.5  # without clipping they would leave it


# --- x0 clipping as a pure function -------------------------------------------------------------

def test_dynamic_threshold_equals_plain_clipping_when_s_is_at_most_1():
    x = torch.rand(2, 3, 4, 8, 8) * 1.8 - 0.9
    x[:, 0, 0, 0, :3] = 4.0  # a few outliers: the 0.995 quantile stays below 1
    torch.testing.assert_close(dynamic_threshold(x, 0.995), x.clamp(-1, 1))


def test_dynamic_threshold_acts_per_sample():
    calm = torch.rand(1, 3, 4, 8, 8) * 1.6 - 0.8
    loud = torch.randn(1, 3, 4, 8, 8) * 3
    both = dynamic_threshold(torch.cat([calm, loud]), 0.9)
    torch.testing.assert_close(both[:1], calm)  # s = 1 for the calm sample: untouched
    s = torch.quantile(loud.abs().flatten(), 0.9)
    torch.testing.assert_close(both[1:], loud.clamp(-s, s) / s)
    assert both[1].abs().max().item() == pytest.approx(1.0)  # rescaled, not just clipped


def test_dynamic_threshold_matches_diffusers():
    from diffusers import DDIMScheduler

    sched = DDIMScheduler(thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1e9)
    x = torch.randn(3, 3, 4, 8, 8) * torch.tensor([0.3, 2.0, 6.0]).view(-1, 1, 1, 1, 1)
    torch.testing.assert_close(dynamic_threshold(x, 0.9), sched._threshold_sample(x))


def test_threshold_quantile_is_taken_in_fp32():
    x = (torch.randn(2, 3, 4, 8, 8) * 3).to(torch.bfloat16)
    out = dynamic_threshold(x, 0.995)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), dynamic_threshold(x.float(), 0.995), atol=1e-2, rtol=1e-2)


@settings(max_examples=30, deadline=None)
@given(scale=st.floats(0.01, 100.0), p=st.floats(0.5, 1.0), seed=st.integers(0, 2**16))
def test_clipped_x_start_always_within_unit_range(scale, p, seed):
    x = torch.randn(2, 3, 2, 4, 4, generator=torch.Generator().manual_seed(seed)) * scale
    for x0_clip in ("dynamic", "static"):
        assert clip_x0(x, x0_clip, p).abs().max() <= 1.0 + 1e-6
    torch.testing.assert_close(clip_x0(x, "dynamic", p), dynamic_threshold(x, p))
    assert torch.equal(clip_x0(x, "static", p), x.clamp(-1, 1))
    assert torch.equal(clip_x0(x, "none", p), x)


# --- the scheduler step re-derives its noise from the thresholded x0 --------------------------

@pytest.mark.parametrize("sampler", ["ddim", "dpm++", "ddpm"])
def test_scheduler_step_uses_the_thresholded_x_start(cfg, sampler):
    """x_prev must follow from (x_t, thresholded x0) alone, with noise re-derived from that x0."""
    d = Diffusion(cfg)
    sched = d.make_scheduler(sampler, 4)
    t = sched.timesteps[0]
    prev_t = sched.timesteps[1]
    g = torch.Generator().manual_seed(0)
    x_t = torch.randn(2, 3, 4, 16, 16, generator=g)
    x0 = dynamic_threshold(torch.randn(2, 3, 4, 16, 16, generator=g) * 3, 0.995)
    ab, ab_prev = d.alphas_cumprod[t], d.alphas_cumprod[prev_t]
    eps = (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()
    step_noise_gen = torch.Generator().manual_seed(5)
    prev = sched.step(x0, t, x_t, generator=step_noise_gen).prev_sample
    if sampler == "ddpm":  # ancestral: posterior mean of q(x_{t-1} | x_t, x0) plus its noise
        beta = 1 - ab / ab_prev
        mean = ab_prev.sqrt() * beta / (1 - ab) * x0 + (1 - beta).sqrt() * (1 - ab_prev) / (1 - ab) * x_t
        std = ((1 - ab_prev) / (1 - ab) * beta).sqrt()
        expected = mean + std * torch.randn(x_t.shape, generator=torch.Generator().manual_seed(5))
    else:  # DDIM (eta 0) and DPM-Solver++'s first, first-order step are the same update
        expected = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
    torch.testing.assert_close(prev, expected, atol=1e-4, rtol=1e-4)


def test_guidance_duplicates_caption_tokens_and_mask(cfg):
    d, seen = Diffusion(cfg), []

    class TokenModel(DummyDenoiser):
        def forward(self, x, timesteps, text_emb, drop_mask=None, text_tokens=None, text_mask=None):
            seen.append((text_tokens.shape, text_mask.shape, drop_mask.tolist()))
            torch.testing.assert_close(text_tokens[:2], text_tokens[2:])
            return super().forward(x, timesteps, text_emb, drop_mask)

    tokens, mask = torch.randn(2, 5, TEXT_DIM), torch.ones(2, 5, dtype=torch.bool)
    _sample(d, TokenModel(), torch.randn(2, TEXT_DIM), text_tokens=tokens, text_mask=mask, steps=2, progress=False)
    assert seen == [((4, 5, TEXT_DIM), (4, 5), [False, False, True, True])] * 2


# --- self-conditioning ----------------------------------------------------------------------------

class SelfCondRecorder(DummyDenoiser):
    """DummyDenoiser that also reads ``x_self_cond`` and records it, with whether gradients were on."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[torch.Tensor | None, bool]] = []

    def forward(self, x, timesteps, text_emb, drop_mask=None, text_tokens=None, text_mask=None, x_self_cond=None):
        self.seen.append((None if x_self_cond is None else x_self_cond.detach().clone(), torch.is_grad_enabled()))
        out = super().forward(x, timesteps, text_emb, drop_mask, text_tokens, text_mask)
        return out if x_self_cond is None else out + 0.5 * x_self_cond


def test_self_conditioned_training_feeds_the_chosen_rows_their_own_estimate(cfg):
    cfg = cfg.replace(self_condition=True, prediction_type="v_prediction")
    d, model = Diffusion(cfg), SelfCondRecorder()
    x0, emb = _clip(b=3), torch.randn(3, TEXT_DIM)
    t, noise = torch.tensor([10, 50, 90]), torch.randn(3, 3, 4, 16, 16)
    rows = torch.tensor([True, False, True])
    loss = d.training_losses(model, x0, emb, t=t, noise=noise, self_cond=rows)["loss"]
    (first, first_grad), (second, second_grad) = model.seen
    assert model.calls == [2, 3] and first is None and not first_grad and second_grad
    x_t = d.add_noise(x0, noise, t)
    with torch.no_grad():
        estimate = d.predict_x_start(x_t[rows], t[rows], DummyDenoiser.forward(model, x_t[rows], t[rows], emb[rows]))
    torch.testing.assert_close(second[rows], estimate.clamp(-1, 1))
    assert torch.equal(second[1], torch.zeros_like(second[1]))
    loss.backward()  # the estimate carries no graph: only the second call is trained
    model.seen.clear(), model.calls.clear()
    d.training_losses(model, x0, emb, t=t, noise=noise, self_cond=torch.zeros(3, dtype=torch.bool))
    assert model.calls == [3] and torch.equal(model.seen[0][0], torch.zeros_like(x0))


@pytest.mark.parametrize("sampler", ["ddim", "dpm++"])
def test_self_conditioned_sampling_hands_each_step_the_previous_x0(cfg, sampler):
    d, model = Diffusion(cfg.replace(self_condition=True)), SelfCondRecorder()
    _, per_step = _sample(d, model, torch.randn(2, TEXT_DIM), sampler=sampler, steps=4, guidance=2.0,
                           x_start_every_step=True, progress=False, generator=0)
    estimates = [seen for seen, _ in model.seen]
    assert estimates[0] is None and len(estimates) == 4
    for k in range(1, 4):  # both guidance halves read the same (guided, clipped) estimate
        cond, uncond = estimates[k].chunk(2)
        torch.testing.assert_close(cond, per_step[k - 1])
        torch.testing.assert_close(uncond, per_step[k - 1])
    model.seen.clear()
    d_plain = Diffusion(cfg)  # a model without the option is never handed an estimate
    _sample(d_plain, model, torch.randn(2, TEXT_DIM), steps=3, progress=False, generator=0)
    assert all(seen is None for seen, _ in model.seen)
