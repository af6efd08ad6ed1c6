"""The optimize and delay operations: sizes shrink, errors stay bounded, timing/loop/alpha survive.

Every encoder test runs with Pillow and, where gifsicle is installed, with gifsicle too."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

import gif_editor as ge
from gif_editor import optimize
from gif_editor.clip import Clip
from gif_fixtures import as_saved, gif_info, make_gif

needs_gifsicle = pytest.mark.skipif(optimize.gifsicle_path() is None, reason="gifsicle not installed")
BACKENDS = ["pillow", pytest.param("gifsicle", marks=needs_gifsicle)]


def noisy_clip(n: int = 8, size: int = 48, seed: int = 0, sigma: float = 12.0) -> Clip:
    """Diffusion-like: a soft blob drifting over a dark background, with per-frame Gaussian noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    frames = []
    for i in range(n):
        blob = np.exp(-((xx - 8 - 3 * i) ** 2 + (yy - size / 2) ** 2) / 50.0) * 200
        arr = 30 + blob[..., None] * np.array([1.0, 0.8, 0.5]) + rng.normal(0, sigma, (size, size, 3))
        frames.append(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).convert("RGBA"))
    return Clip(frames, [120] * n, loop=0)


def graphic_controls(data: bytes) -> list[tuple[int, bool]]:
    """Disposal method and transparency flag of each frame's Graphic Control Extension (GIF89a)."""
    out, at = [], data.find(b"\x21\xf9\x04")
    while at != -1:
        packed = data[at + 3]
        out.append(((packed >> 2) & 7, bool(packed & 1)))
        at = data.find(b"\x21\xf9\x04", at + 8)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_fewer_colours_and_lossy_shrink_noisy_clips_with_bounded_error(backend):
    clip = noisy_clip()
    plain = ge.save(clip)
    results = {}
    for colors, lossy in ((256, 0), (64, 0), (16, 80)):
        out = ge.apply(clip, [{"op": "optimize", "colors": colors, "lossy": lossy, "backend": backend}])
        data = ge.save(out)
        assert out.info["encoded_with"].startswith(backend)
        results[(colors, lossy)] = (len(data), optimize.mean_error(clip, data))
    assert results[(256, 0)][0] <= len(plain) * 1.02 and results[(256, 0)][1] < 5
    assert results[(16, 80)][0] < 0.35 * len(plain)  # noise is what lossy levels are for
    assert results[(16, 80)][1] < 20  # ... at a price that stays bounded
    assert results[(64, 0)][1] <= results[(16, 80)][1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_frame_differencing_is_exact_on_few_colours(backend):
    """A moving square on a flat background: lossless settings show exactly the source frames."""
    rng = np.random.default_rng(1)
    background = rng.integers(0, 4, (48, 64)).astype(np.uint8) * 60  # 4 grey levels, static
    frames = []
    for i in range(6):
        arr = np.repeat(background[..., None], 3, axis=-1)
        arr[10:20, 5 + 8 * i:15 + 8 * i] = (250, 200, 40)
        frames.append(Image.fromarray(arr).convert("RGBA"))
    clip = Clip(frames, [100] * 6)
    data = ge.save(ge.apply(clip, [{"op": "optimize", "colors": 256, "lossy": 0, "duplicates": None,
                                    "backend": backend}]))
    assert optimize.mean_error(clip, data) == 0
    assert len(data) < 0.5 * len(ge.save(clip))  # only the square's path is stored after frame 0


def test_pillow_marks_unchanged_pixels_transparent():
    clip = noisy_clip(n=4, sigma=0)
    data = optimize._encode_pillow(clip, 32, 0, True, False)
    controls = graphic_controls(data)  # (disposal, has a transparent index) per frame
    assert len(controls) == 4 and all(c == (1, True) for c in controls[1:])
    whole = optimize._encode_pillow(clip, 32, 0, False, False)
    assert optimize.mean_error(clip, data) == pytest.approx(optimize.mean_error(clip, whole), abs=0.01)
    assert len(optimize.encode_pillow(clip, 32, 0, True)) == min(len(data), len(whole))


@pytest.mark.parametrize("backend", BACKENDS)
def test_duplicates_dropped_with_delays_merged(backend):
    base = noisy_clip(n=3, sigma=0)
    frames = [base.frames[0], base.frames[0], base.frames[1], base.frames[1].copy(), base.frames[2]]
    clip = Clip(frames, [100, 50, 70, 30, 200], loop=2)
    out = ge.apply(clip, [{"op": "optimize", "duplicates": 0, "backend": backend}])
    assert out.durations == [150, 100, 200] and out.n_frames == 3
    info = gif_info(ge.save(out))
    assert info["durations"] == [150, 100, 200] and info["loop"] == 2
    kept = ge.apply(clip, [{"op": "optimize", "duplicates": None, "backend": backend}])
    assert kept.n_frames == 5


def test_near_duplicates_follow_the_tolerance():
    clip = noisy_clip(n=4, sigma=0)
    shifted = Image.fromarray(np.clip(np.asarray(clip.frames[0], dtype=np.int16) + 2, 0, 255).astype(np.uint8))
    near = Clip([clip.frames[0], shifted, clip.frames[2]], [100, 100, 100])
    assert optimize.drop_duplicates(near, 0).n_frames == 3
    assert optimize.drop_duplicates(near, 3.0).durations == [200, 100]


small = st.builds(
    lambda n, w, h, durations, transparent, loop: (make_gif(n=n, size=(w, h), durations=durations[:n],
                                                            transparent=transparent, loop=loop), durations[:n]),
    n=st.integers(1, 4), w=st.integers(8, 40), h=st.integers(8, 40),
    durations=st.lists(st.sampled_from([0, 10, 20, 50, 100, 500]), min_size=4, max_size=4),
    transparent=st.booleans(), loop=st.sampled_from([None, 0, 2]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gif=small, colors=st.sampled_from([2, 16, 256]), lossy=st.sampled_from([0, 80]),
       backend=st.sampled_from(["pillow"] + (["gifsicle"] if optimize.gifsicle_path() else [])))
def test_optimize_keeps_timing_loop_and_transparency(gif, colors, lossy, backend):
    data, durations = gif
    clip = ge.load(data)
    out = ge.save(ge.apply(clip, [{"op": "optimize", "colors": colors, "lossy": lossy, "backend": backend}]))
    info = gif_info(out)
    assert info["size"] == clip.size and info["total"] == sum(as_saved(durations)) and info["loop"] == clip.loop
    assert info["transparent"] == clip.transparent
    if clip.transparent:  # see-through pixels stay see-through, opaque ones opaque
        shown, _ = optimize.displayed_frames(out)
        assert np.array_equal(shown[0][..., 3] >= 128, np.asarray(clip.frames[0].getchannel("A")) >= 128)


def test_bad_settings_are_one_line_errors(monkeypatch):
    clip = ge.load(make_gif(n=2))
    for params, message in (({"colors": 1}, "between 2 and 256"), ({"lossy": 300}, "between 0 and 200"),
                            ({"colors": 3.5}, "whole number"), ({"backend": "magick"}, "backend must be"),
                            ({"duplicates": -1}, "between 0"), ({"transparency": "no"}, "true or false")):
        with pytest.raises(ge.GifEditorError, match=message):
            ge.apply(clip, [{"op": "optimize", **params}])
    monkeypatch.setattr(optimize, "gifsicle_path", lambda: None)
    with pytest.raises(ge.GifEditorError, match="gifsicle is not installed"):
        ge.apply(clip, [{"op": "optimize", "backend": "gifsicle"}])
    out = ge.apply(clip, [{"op": "optimize"}])  # auto falls back to Pillow and says so
    ge.save(out)
    assert out.info["encoded_with"] == "pillow"


def test_delay_sets_one_frame_or_all():
    clip = ge.load(make_gif(n=4, durations=[100, 50, 100, 50]))
    assert ge.apply(clip, [{"op": "delay", "frames": {"2": 500}}]).durations == [100, 50, 500, 50]
    assert ge.apply(clip, [{"op": "delay", "all": 70, "frames": {0: 300}}]).durations == [300, 70, 70, 70]
    # After speed: a delay set by hand is final; frame numbers count the reversed clip.
    out = ge.apply(clip, [{"op": "delay", "frames": {"0": 40}}, {"op": "speed", "factor": 2}, {"op": "reverse"}])
    assert out.durations == [40, 50, 30, 50]
    assert gif_info(ge.save(out))["durations"] == [40, 50, 30, 50]
    for params, message in (({"frames": {"9": 100}}, "frame 9 does not exist"), ({"all": 5}, "between 20"),
                            ({"frames": {"x": 100}}, "whole numbers"), ({"frames": [1, 2]}, "must map")):
        with pytest.raises(ge.GifEditorError, match=message):
            ge.apply(clip, [{"op": "delay", **params}])
