"""PairsDataset: decode once, resample, aspect-kept crop, [-1, 1], cached captions, per-clip flips, bad pairs."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

import vdiff.training.data as data_mod
from vdiff.core.config import get_preset
from vdiff.training.data import PairsDataset, StepBatchSampler, frame_indices, mirror_caption, resize_center_crop
from vdiff.models.text import TextEmbedding


class HashEncoder:
    """A deterministic stand-in text encoder (the real one is tested in test_text.py); counts its calls."""

    dim = 8

    def __init__(self):
        self.calls = 0

    def encode(self, captions):
        self.calls += 1
        pooled = torch.stack([torch.tensor(list(hashlib.sha256(c.encode()).digest()[:8]), dtype=torch.float32)
                              for c in captions])
        n = len(captions)
        return TextEmbedding(pooled=pooled, tokens=pooled[:, None].repeat(1, 3, 1), mask=torch.ones(n, 3, dtype=torch.bool))


def config(**kw):
    return get_preset("smoke", **kw)


def test_items_shape_range_and_cached_decoding(pairs_dir, monkeypatch):
    calls = []
    real = data_mod.load_gif
    monkeypatch.setattr(data_mod, "load_gif", lambda p: calls.append(p) or real(p))
    enc = HashEncoder()
    ds = PairsDataset(pairs_dir, config(), enc)
    assert len(ds) == 8 and ds.skipped == {}
    for _ in range(3):
        for i in range(len(ds)):
            item = ds[(i, i)]
    assert len(calls) == 8  # each GIF decoded once, however often it is read
    assert enc.calls == 1   # all captions (and their mirrors) embedded in one batch
    video = item["video"]
    assert video.shape == (3, 4, 16, 16) and video.dtype == torch.float32
    assert video.min() >= -1 and video.max() <= 1 and video.min() == -1 and video.max() == 1
    assert item["text_emb"].shape == (8,)


def test_hflip_is_per_clip_and_swaps_left_right_in_caption_and_embedding(pairs_dir):
    enc = HashEncoder()
    cfg = config(hflip=True)
    ds = PairsDataset(pairs_dir, cfg, enc)
    plain = PairsDataset(pairs_dir, cfg.replace(hflip=False), HashEncoder())
    index = next(i for i, c in enumerate(ds.captions) if "left" in c)
    flipped_seen = unflipped_seen = False
    for seed in range(40):
        item, ref = ds[(index, seed)], plain[(index, seed)]
        if item["caption"] == ref["caption"]:
            unflipped_seen = True
            assert torch.equal(item["video"], ref["video"])
        else:
            flipped_seen = True
            assert item["caption"] == ref["caption"].replace("left", "right")
            assert torch.equal(item["video"], ref["video"].flip(-1))  # every frame flipped together
            assert torch.equal(item["text_emb"], enc.encode([item["caption"]]).pooled[0])
    assert flipped_seen and unflipped_seen


def test_mirror_caption_swaps_whole_words_only():
    assert mirror_caption("digit 5 moving left") == "digit 5 moving right"
    assert mirror_caption("Right then left") == "Left then right"
    assert mirror_caption("leftover bright copyright") == "leftover bright copyright"


def test_frame_resampling():
    assert frame_indices(8, 4, "stride").tolist() == [0, 2, 4, 6]
    assert frame_indices(3, 6, "stride").tolist() == [0, 0, 1, 1, 2, 2]  # short clips repeat frames
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(50):
        idx = frame_indices(20, 5, "random_window", rng)
        assert np.array_equal(np.diff(idx), np.ones(4)) and 0 <= idx[0] and idx[-1] < 20
        starts.add(int(idx[0]))
    assert len(starts) > 5


def test_resize_keeps_aspect_and_crops_centre():
    frames = np.zeros((1, 20, 40, 3), dtype=np.uint8)
    frames[:, 5:15, 15:25] = 255  # a 10x10 square in the middle of a 2:1 frame
    out = resize_center_crop(frames, 10)
    assert out.shape == (1, 10, 10, 3)
    mask = out[0, :, :, 0] > 127
    rows, cols = np.where(mask)
    # Scaled by 1/2 without stretching: still a square (5x5), still centred.
    assert rows.max() - rows.min() == cols.max() - cols.min()
    assert abs((rows.min() + rows.max()) / 2 - 4.5) <= 1 and abs((cols.min() + cols.max()) / 2 - 4.5) <= 1


def test_broken_gif_and_empty_caption_are_skipped_and_counted(pairs_dir):
    (pairs_dir / "broken.gif").write_bytes(b"GIF89a not really")
    (pairs_dir / "broken.txt").write_text("a broken clip")
    (pairs_dir / "clip000.txt").write_text("   \n")
    (pairs_dir / "orphan.gif").write_bytes((pairs_dir / "clip001.gif").read_bytes())
    before = {p.name: p.read_bytes() for p in pairs_dir.iterdir()}
    with pytest.warns(UserWarning, match="skipped 3"):
        ds = PairsDataset(pairs_dir, config(), HashEncoder())
    assert len(ds) == 7
    assert ds.skipped["broken"].startswith("broken GIF")
    assert ds.skipped["clip000"] == "empty caption"
    assert ds.skipped["orphan"] == "no caption file"
    assert {p.name: p.read_bytes() for p in pairs_dir.iterdir()} == before  # inputs untouched


def test_empty_or_unusable_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no usable"):
        PairsDataset(tmp_path, config(), HashEncoder())
    (tmp_path / "x.gif").write_bytes(b"nope")
    (tmp_path / "x.txt").write_text("caption")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match=r"no usable .* \(1 skipped\)"):
        PairsDataset(tmp_path, config(), HashEncoder())
    with pytest.raises(ValueError, match="not found"):
        PairsDataset(tmp_path / "missing", config(), HashEncoder())


def test_batch_order_resumes_exactly_and_splits_processes():
    full = StepBatchSampler(10, 3, seed=1)
    it = iter(full)
    first = [next(it) for _ in range(9)]
    resumed = iter(StepBatchSampler(10, 3, seed=1, start_step=4))
    assert [next(resumed) for _ in range(5)] == first[4:]
    r0 = iter(StepBatchSampler(10, 5, seed=1, rank=0, world_size=2))
    r1 = iter(StepBatchSampler(10, 5, seed=1, rank=1, world_size=2))
    epoch = [k for k, _ in next(r0)] + [k for k, _ in next(r1)]
    assert sorted(epoch) == list(range(10))  # one epoch, shared without overlap


def test_holdout_pairs_and_mirrored_holdout_captions_stay_out_of_training(tmp_path):
    import json

    import data_prep

    data_prep.prepare_moving_mnist(tmp_path, num=80, size=16, frames=4, holdout="default", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    held = {r["caption"] for r in rows if r["split"] == "holdout"}
    assert held and any("right" in c or "left" in c for c in held)  # a flip could create one

    ds = PairsDataset(tmp_path, config(hflip=True), HashEncoder())
    assert len(ds) == sum(r["split"] == "train" for r in rows)
    seen = {ds[(i, seed)]["caption"] for i in range(len(ds)) for seed in range(6)}
    assert seen.isdisjoint(held)
    assert any(c.endswith("left") for c in seen) and any(c.endswith("right") for c in seen)  # flips still happen
