"""The offline text encoder: loads with no network, embeds captions distinctly, pools honestly."""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: no network, ever

import pytest
import torch

from vdiff.models.text import load_text_encoder, masked_mean, minilm_path, whitening_transform


@pytest.fixture(scope="module")
def encoder():
    return load_text_encoder("minilm", max_length=16)


def test_minilm_ships_inside_the_package():
    path = minilm_path()
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_two_captions_embed_differently(encoder):
    emb = encoder.encode(["digit 5 moving left", "digit 3 moving up"])
    assert encoder.dim == 384
    assert emb.pooled.shape == (2, 384) and emb.pooled.dtype == torch.float32
    assert emb.tokens.shape == (2, 16, 384) and emb.mask.shape == (2, 16) and emb.mask.dtype == torch.bool
    assert not torch.allclose(emb.pooled[0], emb.pooled[1], atol=1e-3)
    # sentence-transformers' all-MiniLM-L6-v2 ends with a Normalize module
    assert torch.allclose(emb.pooled.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_pooling_ignores_padding_and_batch_mates(encoder):
    alone = encoder.encode(["a dog"]).pooled
    batched = encoder.encode(["a dog", "a much longer caption about a man playing a guitar"]).pooled
    assert torch.allclose(alone[0], batched[0], atol=1e-5)


def test_encoder_is_frozen_and_cached(encoder):
    assert not encoder.model.training
    assert not any(p.requires_grad for p in encoder.model.parameters())
    assert load_text_encoder("minilm", max_length=16) is encoder


def test_masked_mean_uses_only_masked_positions():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert torch.equal(masked_mean(hidden, mask), torch.tensor([[2.0, 3.0]]))


def test_unknown_encoder_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="no-such-org/no-such-encoder"):
        load_text_encoder("no-such-org/no-such-encoder")


def test_bad_caption_lists_are_value_errors(encoder):
    with pytest.raises(ValueError, match="empty"):
        encoder.encode([])
    with pytest.raises(ValueError, match="list"):
        encoder.encode("a single string")


def _tiny_local_model(kind: str, folder):
    """A randomly initialised tiny T5/CLIP text model with minilm's tokenizer, saved like a hub model."""
    import transformers
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    vocab = tokenizer.vocab_size
    if kind == "t5":
        config = transformers.T5Config(vocab_size=vocab, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                       decoder_start_token_id=0, pad_token_id=0)
        model = transformers.T5ForConditionalGeneration(config)  # the encoder must be picked out of it
    else:
        config = transformers.CLIPTextConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32,
                                             num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64,
                                             eos_token_id=tokenizer.sep_token_id, pad_token_id=0)
        model = transformers.CLIPTextModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_t5_uses_the_encoder_only_with_mean_pooling(tmp_path):
    name = _tiny_local_model("t5", tmp_path / "t5")
    enc = load_text_encoder(name, max_length=8)
    assert enc.family == "t5" and enc.dim == 16
    assert type(enc.model).__name__ == "T5EncoderModel"
    emb = enc.encode(["a dog", "a cat runs fast"])
    assert torch.allclose(emb.pooled, masked_mean(emb.tokens, emb.mask), atol=1e-6)
    assert not torch.allclose(emb.pooled[0], emb.pooled[1])


def test_clip_pools_the_end_of_text_token(tmp_path):
    name = _tiny_local_model("clip", tmp_path / "clip")
    enc = load_text_encoder(name, max_length=8)
    assert enc.family == "clip" and enc.dim == 16
    emb = enc.encode(["a dog", "a cat runs fast"])
    ids = enc.tokenizer(["a dog", "a cat runs fast"], padding="max_length", max_length=8, return_tensors="pt")["input_ids"]
    eos = (ids == enc.tokenizer.sep_token_id).int().argmax(dim=1)
    assert torch.allclose(emb.pooled, emb.tokens[torch.arange(2), eos], atol=1e-5)


def _narrow_cone(n: int, dim: int, spread: float, seed: int = 0) -> torch.Tensor:
    """Unit vectors around one shared direction, like one dataset's sentence embeddings."""
    g = torch.Generator().manual_seed(seed)
    shared = torch.randn(dim, generator=g)
    return torch.nn.functional.normalize(shared + spread * torch.randn(n, dim, generator=g), dim=-1)


def _mean_pairwise_cos(x: torch.Tensor) -> float:
    x = torch.nn.functional.normalize(x, dim=-1)
    sims = x @ x.T
    return float((sims.sum() - sims.diagonal().sum()) / (len(x) * (len(x) - 1)))


def test_whitening_without_shrinkage_gives_identity_covariance():
    e = _narrow_cone(400, 12, 0.3)
    mean, w = whitening_transform(e, shrinkage=0.0)
    z = (e - mean) @ w
    torch.testing.assert_close(z.mean(0), torch.zeros(12), atol=1e-4, rtol=0)
    torch.testing.assert_close(z.T @ z / len(z), torch.eye(12), atol=1e-3, rtol=0)
    torch.testing.assert_close(w, w.T)


def test_whitening_pulls_a_narrow_cone_of_captions_apart():
    e = _narrow_cone(40, 64, 0.15)  # fewer captions than dimensions, as in labeled digits (40 x 384)
    assert _mean_pairwise_cos(e) > 0.9
    mean, w = whitening_transform(e)
    z = (e - mean) @ w
    assert abs(_mean_pairwise_cos(z)) < 0.1
    # Directions the captions do not span get a bounded gain: 1 / sqrt(shrinkage * mean eigenvalue).
    outside = torch.linalg.svd(e - e.mean(0)).Vh[-1]  # orthogonal to every centred caption
    gain = (outside @ w).norm().item()
    assert torch.isfinite(w).all() and 1.0 < gain < 1e3


def test_whitening_needs_several_distinct_embeddings():
    with pytest.raises(ValueError, match="at least two"):
        whitening_transform(torch.randn(1, 8))
    with pytest.raises(ValueError, match="differ"):
        whitening_transform(torch.ones(5, 8))
