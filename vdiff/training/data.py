"""A folder of <name>.gif + <name>.txt pairs as cached training clips with cached caption embeddings.

Each GIF is decoded once (PIL), resized with its aspect kept and centre-cropped to the config's
size, and kept as uint8 [T, H, W, 3]: decoding GIFs every step is what made the reference slow.
Each caption (and its left<->right mirror, when flips are on) is embedded once, in batches.
Per item only cheap work remains: pick ``num_frames`` frames (uniform stride, or a random window of
consecutive or every s-th frame), maybe flip the whole clip (never single frames), and scale to [-1, 1].
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from clipkit.manifest import manifest_rows

from ..core.config import Config, window_span
from ..core.media import load_gif

_SWAP = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}
_LR_WORD = re.compile(r"\b(left|right|Left|Right|LEFT|RIGHT)\b")


def mirror_caption(caption: str) -> str:
    """The caption of the horizontally flipped clip: "left" and "right" swapped as whole words."""
    return _LR_WORD.sub(lambda m: _SWAP[m.group(0)], caption)


def resize_center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 [T, H, W, 3] -> [T, size, size, 3]: scale the short side to ``size`` (aspect kept), crop the centre."""
    t, h, w, _ = frames.shape
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    top, left = (nh - size) // 2, (nw - size) // 2
    out = np.empty((t, size, size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        img = Image.fromarray(frame)
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS)
        out[i] = np.asarray(img)[top:top + size, left:left + size]
    return out


def frame_indices(total: int, num_frames: int, mode: str, rng: np.random.Generator | None = None,
                  stride: int = 1) -> np.ndarray:
    """Which of ``total`` frames make a clip of ``num_frames``.

    "stride": spread uniformly over the whole clip; "random_window": ``num_frames`` frames ``stride``
    apart from a random start. Clips shorter than the window repeat frames (stride-style).
    """
    span = window_span(num_frames, stride)
    if mode == "random_window" and total >= span:
        start = int(rng.integers(0, total - span + 1)) if rng is not None else (total - span) // 2
        return np.arange(start, start + span, stride)
    return np.floor(np.linspace(0, total, num_frames, endpoint=False)).astype(np.int64).clip(0, total - 1)


def fitting_strides(total: int, num_frames: int, strides: tuple[int, ...]) -> list[int]:
    """The ``strides`` whose window of ``num_frames`` fits in ``total`` frames (the smallest if none does)."""
    fits = [s for s in strides if window_span(num_frames, s) <= total]
    return fits or [min(strides)]


class PairsDataset(torch.utils.data.Dataset):
    """Items ``{"video": [C,F,H,W] float in [-1,1], "text_emb": [D], "caption": str}`` (+ tokens/mask, and
    ``frame_stride`` for a stride-conditioned config).

    ``skipped`` maps each unusable pair's name to the reason; indexing with ``(index, seed)``
    makes the per-item randomness (window, flip) reproducible, which exact resume relies on.
    """

    def __init__(self, root: str | Path, config: Config, text_encoder: Any, *, with_tokens: bool | None = None,
                 encode_batch: int = 256) -> None:
        self.root = Path(root)
        self.config = config
        self.with_tokens = config.cross_attention if with_tokens is None else with_tokens
        if not self.root.is_dir():
            raise ValueError(f"data folder not found: {self.root}")
        self.skipped: dict[str, str] = {}
        self.names: list[str] = []
        self.clips: list[np.ndarray] = []
        self.captions: list[str] = []
        # Pairs the manifest marks split="holdout" (data_prep --holdout) are kept out of training,
        # and so are flips that would mirror a clip into a held-out caption ("moving left" -> "right").
        held_names, self.heldout_captions = read_holdout(self.root)
        for gif in sorted(self.root.glob("*.gif")):
            if gif.stem in held_names:
                self.skipped[gif.stem] = "held out (manifest split)"
                continue
            self._add(gif)
        if any(r != "held out (manifest split)" for r in self.skipped.values()):
            warnings.warn(f"{self.root}: skipped {len(self.skipped)} unusable pair(s): "
                          + "; ".join(f"{n} ({r})" for n, r in list(self.skipped.items())[:5])
                          + (" ..." if len(self.skipped) > 5 else ""), stacklevel=2)
        if not self.clips:
            raise ValueError(f"no usable <name>.gif + <name>.txt pair in {self.root}"
                             + (f" ({len(self.skipped)} skipped)" if self.skipped else ""))
        self._embed(text_encoder, encode_batch)

    def _add(self, gif: Path) -> None:
        name = gif.stem
        txt = gif.with_suffix(".txt")
        if not txt.is_file():
            self.skipped[name] = "no caption file"
            return
        try:
            caption = " ".join(txt.read_text(encoding="utf-8").split())
        except (OSError, UnicodeDecodeError) as e:
            self.skipped[name] = f"unreadable caption: {type(e).__name__}"
            return
        if not caption:
            self.skipped[name] = "empty caption"
            return
        try:
            frames = load_gif(gif)
        except ValueError as e:
            self.skipped[name] = f"broken GIF: {e}"
            return
        self.names.append(name)
        self.clips.append(resize_center_crop(frames, self.config.image_size))
        self.captions.append(caption)

    @torch.no_grad()
    def _embed(self, text_encoder: Any, batch: int) -> None:
        # Flipped clips need their mirrored caption's own embedding: embed those too.
        texts = sorted(set(self.captions) | ({mirror_caption(c) for c in self.captions} if self.config.hflip else set()))
        self.caption_index = {c: i for i, c in enumerate(texts)}
        pooled, tokens, masks = [], [], []
        for i in range(0, len(texts), batch):
            emb = text_encoder.encode(texts[i:i + batch])
            pooled.append(emb.pooled.float().cpu())
            if self.with_tokens:
                tokens.append(emb.tokens.float().cpu())
                masks.append(emb.mask.cpu())
        self.text_pooled = torch.cat(pooled)
        self.text_tokens = torch.cat(tokens) if self.with_tokens else None
        self.text_mask = torch.cat(masks) if self.with_tokens else None

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = key if isinstance(key, tuple) else (key, None)
        rng = np.random.default_rng(seed)
        clip = self.clips[index]
        stride = 1
        if self.config.stride_conditioned:  # drawn only then, so the other runs keep their draws
            stride = int(rng.choice(fitting_strides(len(clip), self.config.num_frames, self.config.frame_strides)))
        frames = clip[frame_indices(len(clip), self.config.num_frames, self.config.frame_sampling, rng, stride)]
        caption = self.captions[index]
        if self.config.hflip and rng.random() < 0.5 and mirror_caption(caption) not in self.heldout_captions:
            frames = frames[:, :, ::-1]  # the whole clip at once: motion stays coherent
            caption = mirror_caption(caption)
        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float() / 127.5 - 1.0
        if self.config.channels == 1:
            video = video.mean(0, keepdim=True)
        j = self.caption_index[caption]
        item = {"video": video, "text_emb": self.text_pooled[j], "caption": caption}
        if self.config.stride_conditioned:
            item["frame_stride"] = torch.tensor(stride)
        if self.with_tokens:
            item["text_tokens"] = self.text_tokens[j]
            item["text_mask"] = self.text_mask[j]
        return item


def read_holdout(root: Path) -> tuple[set[str], set[str]]:
    """Names and captions of the pairs that ``manifest.jsonl`` marks ``"split": "holdout"``."""
    names: set[str] = set()
    captions: set[str] = set()
    for row in manifest_rows(root):  # a damaged line only loses its holdout mark, never the run
        if row.get("split") == "holdout" and "name" in row:
            names.add(str(row["name"]))
            captions.add(" ".join(str(row.get("caption", "")).split()))
    return names, captions


class StepBatchSampler(torch.utils.data.Sampler):
    """Batches of ``(index, seed)`` keys for optimizer steps ``start_step`` onwards, for one process.

    The order is a pure function of (seed, epoch): each epoch is a permutation from a generator
    seeded with ``seed + epoch``, split across processes by rank. Per-item seeds derive from
    (seed, global position), so a resumed run sees exactly the data the uninterrupted one would.
    """

    def __init__(self, num_items: int, batch_size: int, *, seed: int, start_step: int = 0,
                 micro_batches_per_step: int = 1, rank: int = 0, world_size: int = 1) -> None:
        self.n, self.batch_size, self.seed = num_items, batch_size, seed
        self.start = start_step * micro_batches_per_step
        self.rank, self.world = rank, world_size

    def _key(self, position: int) -> tuple[int, int]:
        epoch, offset = divmod(position, self.n)
        perm = self._perm(epoch)
        return int(perm[offset]), (self.seed * 1_000_003 + position) % (2**63)

    def _perm(self, epoch: int) -> torch.Tensor:
        if getattr(self, "_cached_epoch", None) != epoch:
            g = torch.Generator().manual_seed(self.seed * 7919 + epoch)
            self._cached_perm, self._cached_epoch = torch.randperm(self.n, generator=g), epoch
        return self._cached_perm

    def __iter__(self):
        batch_no = self.start
        per_batch = self.batch_size * self.world
        while True:
            first = batch_no * per_batch + self.rank * self.batch_size
            yield [self._key(p) for p in range(first, first + self.batch_size)]
            batch_no += 1

    def __len__(self) -> int:  # endless; DataLoader only needs a number
        return 2**62


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"caption": [it["caption"] for it in items]}
    for key in items[0]:
        if key != "caption":
            out[key] = torch.stack([it[key] for it in items])
    return out
