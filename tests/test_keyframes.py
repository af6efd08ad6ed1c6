"""Frame strides (issue 26): training windows every s-th frame with the model told s, and long clips made
as keyframes at a stride and the frames between them, every keyframe and given frame bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import write_moving_square_pairs
from vdiff.core.config import get_preset
from vdiff.core.media import as_rgb, to_uint8
from vdiff.generate import load_pipeline
from vdiff.models.unet import UNet3D
from vdiff.pipelines.keyframes import fill_in, keyframe_stride
from vdiff.train import train
from vdiff.training.data import PairsDataset, fitting_strides, frame_indices

pytestmark = pytest.mark.usefixtures("single_thread_torch")
STRIDED = {"frame_conditioning": True, "frame_sampling": "random_window", "frame_strides": (1, 2, 3)}


def test_a_strided_window_takes_every_sth_frame_inside_the_clip():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        idx = frame_indices(24, 8, "random_window", rng, stride=3)
        assert len(idx) == 8 and np.all(np.diff(idx) == 3) and idx[0] >= 0 and idx[-1] <= 23
        starts.add(int(idx[0]))
    assert starts == {0, 1, 2}  # 22 frames spanned: every start that fits, and no other
    assert fitting_strides(24, 8, (1, 2, 3, 4)) == [1, 2, 3]
    assert fitting_strides(5, 8, (2, 3)) == [2]  # none fits: the smallest (frames then repeat)


def test_a_config_with_strides_needs_random_windows_and_whole_strides():
    for bad in ({"frame_strides": (1, 2)}, {"frame_sampling": "random_window", "frame_strides": (0,)},
                {"frame_sampling": "random_window", "frame_strides": (1.5,)}, {"frame_strides": ()}):
        with pytest.raises(ValueError, match="frame_strides"):
            get_preset("smoke", **bad)
    assert not get_preset("smoke").stride_conditioned and get_preset("smoke", **STRIDED).stride_conditioned
    assert "frame_strides" in get_preset("smoke").shape_mismatch(get_preset("smoke", **STRIDED))


def test_dataset_items_carry_the_stride_their_frames_were_taken_at(tmp_path):
    from vdiff.models.text import load_text_encoder

    data = write_moving_square_pairs(tmp_path / "pairs", num=4, frames=12)
    cfg = get_preset("smoke", hflip=False, **STRIDED)  # unflipped, so frames compare with the source
    ds = PairsDataset(data, cfg, load_text_encoder())
    seen = set()
    for seed in range(40):
        item = ds[0, seed]
        stride = int(item["frame_stride"])
        seen.add(stride)
        source = torch.from_numpy(ds.clips[0]).permute(3, 0, 1, 2).float() / 127.5 - 1.0
        # the item's frames are frames of the source clip `stride` apart
        hits = [f for f in range(12 - 3 * stride)
                if torch.allclose(source[:, f:f + 3 * stride + 1:stride], item["video"])]
        assert hits, stride
    assert seen == {1, 2, 3}
    plain = PairsDataset(data, get_preset("smoke"), load_text_encoder())
    assert "frame_stride" not in plain[0, 0]


def test_the_model_reads_the_stride_and_a_model_without_strides_refuses_one():
    cfg = get_preset("smoke", **STRIDED)
    torch.manual_seed(0)
    model = UNet3D(cfg, 8)
    for weight in model.parameters():  # trained: no longer the zeros the stride and output layers start from
        torch.nn.init.normal_(weight, std=0.2)
    x, t, text = torch.randn(2, 3, 4, 16, 16), torch.tensor([10, 50]), torch.randn(2, 8)
    one = model(x, t, text, frame_stride=torch.tensor([1, 1]))
    assert torch.equal(model(x, t, text), one)  # none given: consecutive frames
    assert not torch.allclose(model(x, t, text, frame_stride=torch.tensor([3, 3])), one)
    plain = UNet3D(get_preset("smoke"), 8)
    assert plain.stride_emb is None and not any("stride" in k for k in plain.state_dict())  # old runs load
    with pytest.raises(ValueError, match="frame_strides"):
        plain(x, t, text, frame_stride=torch.tensor([1, 1]))


def test_keyframe_stride_is_the_largest_trained_stride_that_fits():
    cfg = get_preset("smoke", **STRIDED)  # a 4-frame window
    assert [keyframe_stride(cfg, n) for n in (None, 4, 6, 7, 9, 10, 40)] == [1, 1, 1, 2, 2, 3, 3]
    assert keyframe_stride(get_preset("smoke"), 40) == 1


@pytest.fixture(scope="module")
def strided(tmp_path_factory):
    root = tmp_path_factory.mktemp("keyframes")
    data = write_moving_square_pairs(root / "pairs", frames=12)
    return load_pipeline(train(get_preset("smoke", max_steps=8, **STRIDED), data, root / "run"))


def test_a_long_clip_holds_its_keyframes_and_the_extension_path_its_first_window(strided):
    pipe, prompt = strided, ["square moving right"]
    long = pipe(prompt, seed=0, steps=3, num_frames=12, progress=False)
    assert long.shape == (1, 12, 16, 16, 3)
    options = pipe.config.sampling.override(steps=3)
    keys = as_rgb(to_uint8(pipe.sample(prompt, options, seed=0, frame_stride=3, progress=False)))
    assert np.array_equal(long[:, 0:10:3], keys)  # 4 keyframes 3 apart, then frames 10-11 continue them
    window = pipe(prompt, seed=0, steps=3, progress=False)
    extended = pipe(prompt, seed=0, steps=3, num_frames=12, keyframe_stride=1, progress=False)
    assert np.array_equal(extended[:, :4], window) and not np.array_equal(extended, long)
    with pytest.raises(ValueError, match="keyframe_stride"):
        pipe(prompt, num_frames=8, keyframe_stride=3)  # 4 keyframes 3 apart span 10 frames
    with pytest.raises(ValueError, match="frame strides"):
        pipe.sample(prompt, options, frame_stride=4)


def test_filling_in_keeps_every_known_frame_bit_for_bit(strided):
    rng = np.random.default_rng(0)
    seq = rng.integers(0, 256, (2, 9, 16, 16, 3), dtype=np.uint8)
    known = np.array([1, 0, 0, 1, 0, 1, 0, 0, 1], bool)
    out = fill_in(strided, seq, known, ["square moving right"] * 2, seed=0, sampling={"steps": 3}, progress=False)
    assert np.array_equal(out[:, known], seq[:, known]) and not np.array_equal(out[:, ~known], seq[:, ~known])
    with pytest.raises(ValueError, match="known"):
        fill_in(strided, seq, np.zeros(9, bool), ["x"] * 2, seed=0, sampling={})


def test_every_sampler_run_of_a_long_clip_draws_its_own_noise(strided, monkeypatch):
    seeds = []
    sample = type(strided).sample

    def recording(self, *args, seed=0, **kwargs):
        seeds.append(seed)
        return sample(self, *args, seed=seed, **kwargs)

    monkeypatch.setattr(type(strided), "sample", recording)
    strided(["square moving right"], seed=5, steps=2, num_frames=12, progress=False)
    # keyframes, the fill-in windows between them, then the extension windows after the last keyframe
    assert len(seeds) >= 3 and len(set(seeds)) == len(seeds) and seeds[0] == 5
