"""The offline text encoder: loads with no network, embeds captions distinctly, pools honestly."""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: no network, ever

import pytest
import torch

from vdiff.text import load_text_encoder, masked_mean, minilm_path


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
