"""The 3D UNet: shapes, AdaGN behaviour, the null condition, cross-attention, input errors."""
from __future__ import annotations

import pytest
import torch

from vdiff.models.layers import AdaGN, ResBlock, group_count
from vdiff.core.config import get_preset
from vdiff.models.unet import UNet3D

TEXT_DIM = 24  # a small stand-in width for the encoder's output; the model takes any text_dim


def tiny_config(**overrides):
    base = dict(image_size=16, num_frames=4, dim=16, dim_mults=(1, 2), attn_resolutions=(8,),
                attn_heads=2, attn_head_dim=8)
    base.update(overrides)
    return get_preset("smoke", **base)


def perturbed(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Move every weight off its (often zero) init, as training would."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    return model


def inputs(config, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, config.channels, config.num_frames, config.image_size, config.image_size, generator=gen)
    t = torch.randint(0, 1000, (batch,), generator=gen)
    text = torch.randn(batch, TEXT_DIM, generator=gen)
    return x, t, text


@pytest.mark.parametrize("dim", [16, 32, 64])
@pytest.mark.parametrize("frames", [1, 3, 8])
def test_output_shape_matches_input(dim, frames):
    config = tiny_config(dim=dim, num_frames=frames)
    model = UNet3D(config, TEXT_DIM)
    x, t, text = inputs(config)
    out = model(x, t, text)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("dim", [16, 32, 64])
def test_group_norms_have_valid_group_counts(dim):
    # torch.nn.GroupNorm refuses channels not divisible by its groups: the count is derived, so test small widths.
    model = UNet3D(tiny_config(dim=dim), TEXT_DIM)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert norms
    for norm in norms:
        assert norm.num_channels % norm.num_groups == 0
        assert norm.num_channels // norm.num_groups >= 4 or norm.num_groups == 1


def test_group_count_divides_any_width():
    for channels in range(1, 600):
        groups = group_count(channels)
        assert 1 <= groups <= 32 and channels % groups == 0


def test_fresh_adagn_is_groupnorm_and_fresh_resblock_is_identity():
    torch.manual_seed(0)
    x = torch.randn(6, 16, 8, 8)  # 2 clips x 3 frames
    time_emb, text_emb = torch.randn(2, 32), torch.randn(2, 20)
    adagn = AdaGN(16, 32, 20)
    assert torch.allclose(adagn(x, time_emb, text_emb), adagn.norm(x), atol=1e-6)
    block = ResBlock(16, 16, 32, 20)
    assert torch.equal(block(x, time_emb, text_emb), x)


@pytest.mark.parametrize("adagn", ["separate", "concat"])
def test_text_changes_output_once_trained(adagn):
    config = tiny_config(adagn=adagn)
    model = UNet3D(config, TEXT_DIM)
    x, t, text = inputs(config)
    other = torch.randn_like(text)
    # Zero-initialised branches: the fresh model ignores the text entirely ...
    assert torch.equal(model(x, t, text), model(x, t, other))
    perturbed(model)
    # ... a trained one does not.
    assert not torch.allclose(model(x, t, text), model(x, t, other), atol=1e-4)


@pytest.mark.parametrize("text_norm", [True, False])
def test_text_norm_makes_the_caption_path_blind_to_embedding_scale(text_norm):
    # Unit-norm sentence embeddings have tiny entries; with the LayerNorm the model sees the same
    # condition whatever their scale (up to LayerNorm's eps), without it 10x is another condition.
    cfg = tiny_config(text_norm=text_norm)
    model = perturbed(UNet3D(cfg, TEXT_DIM)).eval()
    x, t, text = inputs(cfg)
    with torch.no_grad():
        same = torch.allclose(model(x, t, text), model(x, t, 10 * text), atol=1e-5)
    assert same is text_norm


def test_separate_mode_has_time_scale_that_gets_gradients():
    model = perturbed(UNet3D(tiny_config(adagn="separate"), TEXT_DIM))
    x, t, text = inputs(model.config)
    model(x, t, text).square().mean().backward()
    scales = [m.time_scale for m in model.modules() if isinstance(m, AdaGN)]
    assert len(scales) >= 5
    for scale in scales:
        assert scale.grad is not None and scale.grad.abs().item() > 0


def test_concat_mode_is_one_mlp_on_time_and_text():
    model = UNet3D(tiny_config(adagn="concat"), TEXT_DIM)
    for block in (m for m in model.modules() if isinstance(m, AdaGN)):
        assert not hasattr(block, "time_scale") and not hasattr(block, "text_mlp")
        assert block.mlp[1].in_features == 4 * model.config.dim + max(4 * model.config.dim, TEXT_DIM)


def test_drop_mask_rows_use_the_learned_null_embedding():
    # Classifier-free guidance needs a trained null condition (Ho & Salimans 2022), so it must get gradients.
    config = tiny_config()
    model = perturbed(UNet3D(config, TEXT_DIM))
    x, t, text = inputs(config)
    drop = torch.tensor([True, False])
    out = model(x, t, text, drop_mask=drop)
    with_null = text.clone()
    with_null[0] = model.null_text_emb
    assert torch.allclose(out, model(x, t, with_null), atol=1e-6)
    # the dropped row ignores its caption; the kept row still reads it
    other = torch.randn_like(text)
    out_other = model(x, t, other, drop_mask=drop)
    assert torch.allclose(out[0], out_other[0], atol=1e-6)
    assert not torch.allclose(out[1], out_other[1], atol=1e-4)
    out.square().mean().backward()
    assert model.null_text_emb.grad.abs().sum() > 0


def test_cross_attention_reads_unmasked_tokens_only():
    config = tiny_config(cross_attention=True)
    model = perturbed(UNet3D(config, TEXT_DIM))
    x, t, text = inputs(config)
    tokens = torch.randn(2, 5, TEXT_DIM)
    mask = torch.tensor([[True, True, True, False, False], [True, True, False, False, False]])
    out = model(x, t, text, text_tokens=tokens, text_mask=mask)
    padded = tokens.clone()
    padded[~mask] = 100.0  # padding positions must not matter
    assert torch.allclose(out, model(x, t, text, text_tokens=padded, text_mask=mask), atol=1e-5)
    changed = tokens.clone()
    changed[:, 0] += 1.0
    assert not torch.allclose(out, model(x, t, text, text_tokens=changed, text_mask=mask), atol=1e-4)
    # dropped rows read the learned null tokens instead of the caption's
    drop = torch.tensor([True, False])
    a = model(x, t, text, drop_mask=drop, text_tokens=tokens, text_mask=mask)
    b = model(x, t, text, drop_mask=drop, text_tokens=changed, text_mask=mask)
    assert torch.allclose(a[0], b[0], atol=1e-6) and not torch.allclose(a[1], b[1], atol=1e-4)


@pytest.mark.parametrize("temporal_attention", [True, False])
def test_frames_are_mixed_and_order_matters(temporal_attention):
    config = tiny_config(temporal_attention=temporal_attention)
    model = perturbed(UNet3D(config, TEXT_DIM))
    x, t, text = inputs(config)
    out = model(x, t, text)
    nudged = x.clone()
    nudged[:, :, 0] += 1.0  # change the first frame only
    assert not torch.allclose(model(x, t, text)[:, :, -1], model(nudged, t, text)[:, :, -1], atol=1e-5)
    # with a frame-position encoding (or a temporal conv), reversing time is not just a relabelling
    reversed_out = model(x.flip(2), t, text).flip(2)
    assert not torch.allclose(out, reversed_out, atol=1e-4)


def test_temporal_attention_tells_frames_apart_when_they_look_alike():
    # Sampling starts from noise with no order in it: to draw "moving left" rather than its time
    # reversal, each frame's output must be able to depend on where the frame is in the clip.
    # With the position encoding on queries and keys only, identical frames gave identical outputs.
    from vdiff.models.attention import TemporalAttention
    block = perturbed(TemporalAttention(16, heads=2, head_dim=8))
    frames = 5
    one_frame = torch.randn(2, 16, 4, 4)
    still = one_frame.repeat_interleave(frames, dim=0)  # (b f) c h w, every frame the same
    out = block(still, frames).view(2, frames, 16, 4, 4)
    assert not torch.allclose(out[:, 0], out[:, -1], atol=1e-4)
    assert not torch.allclose(out[:, 1], out[:, 2], atol=1e-4)


def test_spatial_attention_only_at_configured_resolutions():
    # Full spatial attention at 64x64 is 4,096² scores x batch 8 x 16 frames x 8 heads x 2 bytes = 34 GB:
    # attend spatially only at low resolution.
    from vdiff.models.attention import SpatialAttention
    with_attn = UNet3D(tiny_config(attn_resolutions=(8,)), TEXT_DIM)
    without = UNet3D(tiny_config(attn_resolutions=()), TEXT_DIM)
    count = sum(isinstance(m, SpatialAttention) for m in with_attn.modules())
    assert count == 3  # down and up at 8x8, and the middle
    assert not any(isinstance(m, SpatialAttention) for m in without.modules())


def test_space_time_attention_lets_each_frame_read_the_other_frames_pixels():
    # Per-frame spatial attention never mixes frames; the space-time form attends over all of a clip's
    # pixels, so a digit drawn in one frame can be read where another frame draws it (it moves).
    from vdiff.models.attention import SpatialAttention
    block = perturbed(SpatialAttention(16, heads=2, head_dim=8))
    frames = 4
    x = torch.randn(2 * frames, 16, 4, 4)
    nudged = x.clone()
    nudged[1, :, 3, 3] += torch.randn(16)  # clip 0, frame 1, one corner pixel (not a constant: LayerNorm removes it)
    for f, changes_frame_0 in ((1, False), (frames, True)):
        out, out_nudged = block(x, f), block(nudged, f)
        assert torch.allclose(out[frames:], out_nudged[frames:], atol=1e-6)  # the other clip is untouched
        assert (not torch.allclose(out[0], out_nudged[0], atol=1e-5)) == changes_frame_0


def test_space_time_attention_is_a_model_switch_without_new_weights():
    per_frame = perturbed(UNet3D(tiny_config(), TEXT_DIM))
    joint = UNet3D(tiny_config(space_time_attention=True), TEXT_DIM)
    joint.load_state_dict(per_frame.state_dict())
    x, t, text = inputs(tiny_config())
    assert not torch.allclose(per_frame(x, t, text), joint(x, t, text), atol=1e-5)


def test_self_condition_reads_the_estimate_and_none_means_zeros():
    config = tiny_config(self_condition=True)
    model = perturbed(UNet3D(config, TEXT_DIM))
    assert model.init_conv.in_channels == 2 * config.channels
    x, t, text = inputs(config)
    estimate = torch.rand_like(x) * 2 - 1
    plain = model(x, t, text)
    assert torch.allclose(plain, model(x, t, text, x_self_cond=torch.zeros_like(x)), atol=1e-6)
    assert not torch.allclose(plain, model(x, t, text, x_self_cond=estimate), atol=1e-4)
    with pytest.raises(ValueError, match="x_self_cond"):
        model(x, t, text, x_self_cond=estimate[:, :, :2])
    # without the option the model has no estimate channels and ignores the argument
    other = UNet3D(tiny_config(), TEXT_DIM)
    assert other.init_conv.in_channels == config.channels
    assert torch.equal(other(x, t, text), other(x, t, text, x_self_cond=estimate))


@pytest.mark.parametrize("make_bad, message", [
    (lambda x, t, c: (x[0], t, c), "5D"),
    (lambda x, t, c: (x[:, :1], t, c), "channels"),
    (lambda x, t, c: (x[:, :, :3], t, c), "frames"),
    (lambda x, t, c: (x[..., :8, :8], t, c), "image_size"),
    (lambda x, t, c: (x, t[:1], c), "timesteps"),
    (lambda x, t, c: (x, t, c[:, :10]), "text_emb"),
])
def test_wrong_shapes_raise_value_error_naming_the_problem(make_bad, message):
    config = tiny_config()
    model = UNet3D(config, TEXT_DIM)
    with pytest.raises(ValueError, match=message):
        model(*make_bad(*inputs(config)))


def test_bad_drop_mask_and_missing_tokens_raise():
    config = tiny_config(cross_attention=True)
    model = UNet3D(config, TEXT_DIM)
    x, t, text = inputs(config)
    with pytest.raises(ValueError, match="drop_mask"):
        model(x, t, text, drop_mask=torch.tensor([True]), text_tokens=torch.randn(2, 3, TEXT_DIM),
              text_mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="text_tokens"):
        model(x, t, text)
    with pytest.raises(ValueError, match="text_mask"):
        model(x, t, text, text_tokens=torch.randn(2, 3, TEXT_DIM), text_mask=torch.ones(2, 4, dtype=torch.bool))


@pytest.mark.parametrize("cross_attention", [False, True])
def test_chunked_attention_gives_the_unchunked_model_output(monkeypatch, cross_attention):
    # GPUs cap the attention batch (65,535 grid blocks); the model splits it. Splitting must not
    # change a single output, masked cross-attention included.
    import vdiff.models.attention as blocks

    config = tiny_config(cross_attention=cross_attention)
    model = perturbed(UNet3D(config, TEXT_DIM)).eval()
    x = torch.randn(2, config.channels, config.num_frames, 16, 16)
    t = torch.tensor([10.0, 70.0])
    text = torch.randn(2, TEXT_DIM)
    tokens = torch.randn(2, 5, TEXT_DIM) if cross_attention else None
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool() if cross_attention else None
    with torch.no_grad():
        whole = model(x, t, text, text_tokens=tokens, text_mask=mask)
        monkeypatch.setattr(blocks, "ATTENTION_CHUNK", 3)  # temporal attention here: 2*16*16 sequences
        chunked = model(x, t, text, text_tokens=tokens, text_mask=mask)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("keys, masked", [(8, False), (12, True), (200, False)])
def test_bf16_attention_on_a_cpu_matches_fp32_attention_and_its_gradients(keys, masked):
    # Short sequences take the matmul path on a CPU in bf16 (faster than the fused kernel there),
    # long ones the kernel: both must give fp32 attention's output and gradients within bf16 rounding.
    from vdiff.models.attention import CPU_MATH_MAX_KEYS, _use_math_attention, attention

    gen = torch.Generator().manual_seed(0)
    q32, k32, v32 = (torch.randn(6, 2, n, 16, generator=gen) for n in (10, keys, keys))
    mask = (torch.rand(6, 1, 1, keys, generator=gen) > 0.4) if masked else None
    if masked:
        mask[..., 0] = True  # every query keeps a key
    assert _use_math_attention(q32.bfloat16(), k32.bfloat16(), mask) == (keys <= CPU_MATH_MAX_KEYS)
    assert not _use_math_attention(q32, k32, mask)  # fp32 stays on the kernel
    ref_in = [t.clone().requires_grad_() for t in (q32, k32, v32)]
    ref = torch.nn.functional.scaled_dot_product_attention(*ref_in, attn_mask=mask)
    ref.square().sum().backward()
    low_in = [t.bfloat16().requires_grad_() for t in (q32, k32, v32)]
    out = attention(*low_in, attn_mask=mask)
    assert out.dtype == torch.bfloat16
    out.float().square().sum().backward()
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)
    for low, full in zip(low_in, ref_in):
        assert (low.grad.float() - full.grad).norm() < 0.05 * full.grad.norm()


def test_caption_whitening_is_a_saved_buffer_applied_before_the_caption_mlp():
    config = tiny_config(text_whitening=True)
    model = perturbed(UNet3D(config, TEXT_DIM)).eval()
    assert {"text_mean", "text_whitening"} <= set(model.state_dict())
    x, t = torch.randn(2, config.channels, config.num_frames, 16, 16), torch.tensor([5.0, 50.0])
    # A narrow cone of captions: after fitting, two of them condition the model far more differently.
    shared = torch.randn(TEXT_DIM)
    captions = torch.nn.functional.normalize(shared + 0.05 * torch.randn(30, TEXT_DIM), dim=-1)
    with torch.no_grad():
        before = (model(x, t, captions[:2]) - model(x, t, captions[2:4])).abs().mean()
        model.fit_text_whitening(captions)
        after = (model(x, t, captions[:2]) - model(x, t, captions[2:4])).abs().mean()
    assert after > 3 * before
    with pytest.raises(ValueError, match="text_whitening"):
        UNet3D(tiny_config(), TEXT_DIM).fit_text_whitening(captions)
