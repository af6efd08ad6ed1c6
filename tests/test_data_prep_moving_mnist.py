"""Moving digits: labeled clips tell the truth (motion and identity), balance, holdout, canonical npy, idempotence."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from data_prep.moving_mnist import (
    DEFAULT_HOLDOUT,
    DIRECTIONS,
    LabeledClip,
    generate_labeled,
    normalize_holdout,
    prepare_moving_mnist,
)
from data_prep.pairs import UserError


def centroid(frame: np.ndarray) -> np.ndarray:
    """(x, y) centre of mass of a grey frame."""
    f = frame.astype(np.float64)
    ys, xs = np.mgrid[: f.shape[0], : f.shape[1]]
    return np.array([(f * xs).sum(), (f * ys).sum()]) / f.sum()


def to_8x8(img: np.ndarray) -> np.ndarray:
    """Crop to the ink, square it, and shrink to 8x8: the same view for sklearn digits and rendered frames."""
    img = img.astype(np.float32) / img.max()
    ys, xs = np.nonzero(img > 0.3)
    crop = img[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    side = max(crop.shape)
    square = np.zeros((side, side), np.float32)
    oy, ox = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[oy: oy + crop.shape[0], ox: ox + crop.shape[1]] = crop
    return np.asarray(Image.fromarray(square, mode="F").resize((8, 8), Image.Resampling.BOX)).ravel()


@pytest.fixture(autouse=True)
def _no_cache(tmp_path, monkeypatch):
    """Keep tests off ~/.cache: no MNIST or canonical file is found there, so nothing is downloaded."""
    monkeypatch.setenv("DATA_PREP_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def clips() -> list[LabeledClip]:
    return list(generate_labeled(80, size=32, frames=8, seed=3, source="sklearn"))


def test_clip_format_white_digit_on_black(clips):
    for clip in clips[:10]:
        assert clip.frames.dtype == np.uint8 and clip.frames.shape == (8, 32, 32, 3)
        assert np.array_equal(clip.frames[..., 0], clip.frames[..., 2])  # grey in RGB
        assert clip.frames.max() == 255 and np.median(clip.frames) == 0
        assert clip.caption == f"digit {clip.digits[0]} moving {clip.directions[0]}"


def test_every_centroid_moves_in_the_captioned_direction(clips):
    expected = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    for clip in clips:
        path = np.array([centroid(f[..., 0]) for f in clip.frames])
        steps = np.diff(path, axis=0)
        dx, dy = expected[clip.directions[0]]
        along = steps[:, 0] * dx + steps[:, 1] * dy
        across = steps[:, 0] * dy + steps[:, 1] * dx
        assert (along > 0.5).all(), (clip.caption, path)  # moves the right way every frame
        # and only that way: grey levels rounded at sub-pixel positions move it by thousandths of a pixel
        assert np.abs(across).max() < 0.02


@pytest.mark.parametrize("size", [32, 64])
def test_digit_matches_caption_label(size):
    digits = load_digits()
    knn = KNeighborsClassifier(3).fit(np.stack([to_8x8(im) for im in digits.images]), digits.target)
    clips = list(generate_labeled(60, size=size, frames=4, seed=5, source="sklearn"))
    predicted = knn.predict(np.stack([to_8x8(c.frames[0, ..., 0]) for c in clips]))
    accuracy = np.mean(predicted == np.array([c.digits[0] for c in clips]))
    assert accuracy >= 0.9, accuracy


def test_digits_and_directions_balanced(clips):
    assert set(Counter(c.digits[0] for c in clips).values()) == {8}
    assert set(Counter(c.directions[0] for c in clips).values()) == {20}
    # every (digit, direction) combination once per block of 40
    assert len({(c.digits[0], c.directions[0]) for c in clips[:40]}) == 40


def test_seeded_deterministic_and_prefix_stable(clips):
    again = list(generate_labeled(20, size=32, frames=8, seed=3, source="sklearn"))
    assert all(np.array_equal(a.frames, b.frames) and a.caption == b.caption for a, b in zip(again, clips))
    other = list(generate_labeled(20, size=32, frames=8, seed=4, source="sklearn"))
    assert any(not np.array_equal(a.frames, b.frames) for a, b in zip(other, clips))


def test_two_digits_caption_and_speed_option():
    two = list(generate_labeled(8, size=64, frames=6, num_digits=2, seed=1, source="sklearn"))
    for clip in two:
        assert len(clip.digits) == 2 and all(m in DIRECTIONS for m in clip.directions)
        assert clip.caption == (f"digit {clip.digits[0]} moving {clip.directions[0]} and "
                                f"digit {clip.digits[1]} moving {clip.directions[1]}")
    slow, fast = (next(generate_labeled(1, size=64, frames=4, speed=s, seed=2, source="sklearn")) for s in (1, 4))
    travel = [np.abs(centroid(c.frames[-1, ..., 0]) - centroid(c.frames[0, ..., 0])).max() for c in (slow, fast)]
    assert travel[0] == pytest.approx(3, abs=0.6) and travel[1] == pytest.approx(12, abs=0.6)


def test_holdout_split():
    held = normalize_holdout("1:left,2:up")
    assert held == {(1, "left"), (2, "up")}
    clips = list(generate_labeled(40, seed=0, holdout=held, source="sklearn"))
    for clip in clips:
        assert clip.split == ("holdout" if (clip.digits[0], clip.directions[0]) in held else "train")
    assert sum(c.split == "holdout" for c in clips) == 2
    assert normalize_holdout("default") == DEFAULT_HOLDOUT
    # the default set holds out each direction once and leaves every digit in training
    assert sorted(m for _, m in DEFAULT_HOLDOUT) == sorted(DIRECTIONS)
    for bad in ("10:left", "3:sideways", "3-left"):
        with pytest.raises(ValueError):
            normalize_holdout(bad)


def test_prepare_labeled_writes_contract_and_is_idempotent(tmp_path):
    out = tmp_path / "digits"
    report = prepare_moving_mnist(out, num=12, size=32, frames=6, holdout="default", digits="sklearn", progress=False)
    assert report["kept"] == 12 and report["skipped"] == 0
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 12
    for row in rows:
        for key in ("name", "caption", "frames", "width", "height", "fps", "source", "digits", "directions", "split"):
            assert key in row
        assert (out / f"{row['name']}.txt").read_text(encoding="utf-8").strip() == row["caption"]
        with Image.open(out / f"{row['name']}.gif") as im:
            assert im.size == (32, 32) and im.n_frames == row["frames"] == 6 and im.info["loop"] == 0
    assert json.loads((out / "prepare_report.json").read_text())["kept"] == 12

    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.gif")}
    again = prepare_moving_mnist(out, num=12, size=32, frames=6, holdout="default", digits="sklearn", progress=False)
    assert again["kept"] == 0 and again["already_present"] == 12
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.gif")} == mtimes
    redo = prepare_moving_mnist(out, num=12, size=32, frames=6, holdout="default", digits="sklearn", overwrite=True,
                                progress=False)
    assert redo["kept"] == 12
    # other content-shaping settings must not reuse the old clips
    assert prepare_moving_mnist(out, num=12, size=32, frames=6, seed=9, digits="sklearn", progress=False)["kept"] == 12


def _canonical_file(path: Path, sequences: int = 3) -> np.ndarray:
    """A small file with the real axis order [T, N, H, W]: sequence n has a square at row 4n moving right."""
    arr = np.zeros((20, sequences, 64, 64), np.uint8)
    for n in range(sequences):
        for t in range(20):
            arr[t, n, 4 * n: 4 * n + 8, 2 * t: 2 * t + 8] = 255
    np.save(path, arr)
    return arr


def test_canonical_reads_time_first_axis(tmp_path):
    arr = _canonical_file(tmp_path / "seq.npy")
    out = tmp_path / "out"
    report = prepare_moving_mnist(out, canonical=True, canonical_path=tmp_path / "seq.npy", num=5, frames=10,
                                  progress=False)
    assert report["kept"] == 3  # only 3 sequences in the file
    for n in range(3):
        with Image.open(out / f"mmnist_{n:05d}.gif") as im:
            frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
        assert len(frames) == 10
        for t, frame in enumerate(frames):
            assert np.array_equal(frame[..., 0], arr[t, n]) and np.array_equal(frame[..., 1], arr[t, n])
        assert (out / f"mmnist_{n:05d}.txt").read_text().strip() == "two handwritten digits moving"
    custom = prepare_moving_mnist(tmp_path / "c", canonical=True, canonical_path=tmp_path / "seq.npy", size=32,
                                  caption="digits", progress=False)
    assert custom["kept"] == 3 and (tmp_path / "c" / "mmnist_00000.txt").read_text().strip() == "digits"
    with Image.open(tmp_path / "c" / "mmnist_00000.gif") as im:
        assert im.size == (32, 32) and im.n_frames == 20


def test_canonical_rejects_wrong_shape_and_pickles(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((20, 64, 64), np.uint8))
    with pytest.raises(UserError, match="T, N, H, W"):
        prepare_moving_mnist(tmp_path / "o", canonical=True, canonical_path=tmp_path / "flat.npy", progress=False)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="not a readable"):  # never unpickle user data
        prepare_moving_mnist(tmp_path / "o", canonical=True, canonical_path=tmp_path / "obj.npy", progress=False)
    with pytest.raises(UserError, match="--download"):
        prepare_moving_mnist(tmp_path / "o", canonical=True, progress=False)


def _write_idx(path: Path, arr: np.ndarray) -> None:
    """MNIST's idx format: magic (0, 0, dtype 0x08 = uint8, ndim), big-endian dims, then the bytes."""
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


def test_auto_uses_mnist_when_it_is_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_PREP_CACHE", str(tmp_path / "mnist_cache"))
    raw = tmp_path / "mnist_cache" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    labels = np.repeat(np.arange(10), 2)
    images = np.zeros((20, 28, 28), np.uint8)
    for i, d in enumerate(labels):  # digit d drawn as a 20-high bar 2 + 2d wide: unlike any sklearn glyph
        images[i, 4:24, 4:6 + 2 * d] = 255
    _write_idx(raw / "t10k-images-idx3-ubyte", images)
    _write_idx(raw / "t10k-labels-idx1-ubyte", labels)

    auto = list(generate_labeled(10, size=32, frames=3, seed=0))
    mnist = list(generate_labeled(10, size=32, frames=3, seed=0, source="mnist"))
    sklearn = list(generate_labeled(10, size=32, frames=3, seed=0, source="sklearn"))
    assert all(np.array_equal(a.frames, m.frames) for a, m in zip(auto, mnist))
    assert not all(np.array_equal(a.frames, s.frames) for a, s in zip(auto, sklearn))
    for clip in auto:  # the bar's aspect ratio survives scaling: its width says which digit it is
        ink = clip.frames[0, :, :, 0] > 128
        height, width = np.count_nonzero(ink.any(axis=1)), np.count_nonzero(ink.any(axis=0))
        assert width / height == pytest.approx((2 + 2 * clip.digits[0]) / 20, abs=0.12)
    report = prepare_moving_mnist(tmp_path / "o", num=2, progress=False)
    assert report["settings"]["digits"] == "mnist"


def test_fast_digits_bounce_or_leave_the_frame():
    kwargs = dict(size=32, frames=8, speed=6, seed=7, source="sklearn")
    bounced = list(generate_labeled(8, walls="bounce", **kwargs))
    free = list(generate_labeled(8, walls="leave", **kwargs))
    for b, f in zip(bounced, free):
        ink_b = b.frames[..., 0].reshape(8, -1).sum(axis=1)
        ink_f = f.frames[..., 0].reshape(8, -1).sum(axis=1)
        assert ink_b.min() == ink_b.max()  # bouncing keeps the whole digit inside the frame
        assert ink_f[-1] < ink_f[0]  # without bouncing it slides out
        # both start by moving the captioned way
        step = centroid(b.frames[1, ..., 0]) - centroid(b.frames[0, ..., 0])
        expected = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[b.directions[0]]
        assert np.dot(step, expected) > 3


# --- sub-pixel motion, paths that fit, the true path in the manifest ------------------------------

VECTOR = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def along_and_across(path: np.ndarray, direction: str) -> tuple[np.ndarray, np.ndarray]:
    """A centroid track [F, 2] split into the captioned axis (signed, + = the captioned way) and the other."""
    dx, dy = VECTOR[direction]
    return path[:, 0] * dx + path[:, 1] * dy, path[:, 0] * dy + path[:, 1] * dx


def track(frames: np.ndarray) -> np.ndarray:
    return np.array([centroid(f[..., 0]) for f in frames])


@pytest.mark.parametrize("speed, frames", [(0.3, 32), (0.5, 24), (0.63, 16), (0.63, 24)])
def test_subpixel_digits_advance_by_the_speed_every_frame(speed, frames):
    for clip in generate_labeled(12, size=32, frames=frames, speed=speed, seed=2, source="sklearn"):
        grey = clip.frames[..., 0]
        assert all((grey[t] != grey[t + 1]).any() for t in range(frames - 1)), clip.caption  # never a pause
        along, across = along_and_across(track(clip.frames), clip.directions[0])
        # the same speed at any clip length: each step is the speed, to grey-level rounding
        assert np.abs(np.diff(along) - speed).max() < 0.1, (clip.caption, np.diff(along))
        assert np.ptp(across) < 0.05


def test_whole_pixel_positions_reproduce_the_grid_and_pause_below_one_pixel():
    # The old rendering, kept for reproducing old data: every frame is frame 0 moved by whole pixels...
    for clip in generate_labeled(8, size=32, frames=16, speed=0.5, subpixel=False, seed=4, source="sklearn"):
        grey = clip.frames[..., 0]
        path = track(clip.frames)
        for t in range(16):
            dx, dy = np.rint(path[t] - path[0]).astype(int)
            assert np.array_equal(np.roll(grey[0], (dy, dx), axis=(0, 1)), grey[t])
        # ...so at 0.5 px a frame the digit stands still every other frame
        assert sum(np.array_equal(grey[t], grey[t + 1]) for t in range(15)) >= 7
    # at a whole-pixel speed the two renderings agree exactly
    kwargs = dict(size=32, frames=8, speed=2, num_digits=2, seed=4, source="sklearn")
    for a, b in zip(generate_labeled(8, **kwargs), generate_labeled(8, subpixel=False, **kwargs)):
        assert np.array_equal(a.frames, b.frames)


@pytest.mark.parametrize("subpixel, merged", [(True, False), (False, True)])
def test_gif_round_trip_keeps_every_frame_and_its_delay(tmp_path, subpixel, merged):
    from clipkit.gif import gif_duration_ms, read_gif

    out = tmp_path / "slow"
    prepare_moving_mnist(out, num=6, size=32, frames=20, speed=0.3, subpixel=subpixel, fps=10, digits="sklearn",
                         progress=False)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    written = list(generate_labeled(6, size=32, frames=20, speed=0.3, subpixel=subpixel, source="sklearn"))
    for row, clip in zip(rows, written):
        gif = read_gif(out / f"{row['name']}.gif")
        if merged:  # whole pixels at 0.3 px a frame: Pillow folds the repeated frames into longer delays
            assert len(gif.frames) < 20 and sum(gif.durations) == 20 * gif_duration_ms(10)
            continue
        assert row["frames"] == len(gif.frames) == 20
        assert gif.durations == [gif_duration_ms(10)] * 20
        assert np.array_equal(np.stack([np.asarray(f) for f in gif.frames]), clip.frames)


@pytest.mark.parametrize("frames, speed", [(32, None), (24, 0.63)])
def test_every_window_of_a_long_clip_moves_the_captioned_way(frames, speed):
    window = 8
    for clip in generate_labeled(40, size=32, frames=frames, speed=speed, num_digits=1, seed=6, source="sklearn"):
        grey = clip.frames[..., 0]
        # the whole digit stays in the frame: none of its ink is cut off at a border (a digit leaving
        # the frame loses a tenth of it per column; sub-pixel rounding moves the total about 1%)
        ink = grey.reshape(frames, -1).sum(axis=1).astype(np.float64)
        assert np.abs(ink / np.median(ink) - 1).max() < 0.03
        along, across = along_and_across(track(clip.frames), clip.directions[0])
        for start in range(frames - window + 1):
            steps = np.diff(along[start:start + window])
            assert (steps > 0.2).all(), (clip.caption, start, steps)  # every step goes the captioned way
            assert np.ptp(across[start:start + window]) < 0.05


def test_manifest_centres_are_the_rendered_path(tmp_path):
    from clipkit.gif import read_gif_array

    out = tmp_path / "long"
    prepare_moving_mnist(out, num=16, size=32, frames=24, speed=0.63, holdout="default", digits="sklearn",
                         progress=False)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 16
    for row in rows:
        for key in ("name", "caption", "frames", "width", "height", "fps", "source", "digits", "directions", "split"):
            assert key in row
        assert row["speed"] == pytest.approx(0.63)
        centres = np.asarray(row["centers"])
        assert centres.shape == (1, 24, 2)
        measured = track(read_gif_array(out / f"{row['name']}.gif"))
        assert np.abs(measured - centres[0]).max() < 0.15, row["name"]  # a fraction of a pixel
        along, _ = along_and_across(centres[0], row["directions"][0])
        assert np.diff(along) == pytest.approx(np.full(23, 0.63), abs=1e-3)
    two = prepare_moving_mnist(tmp_path / "two", num=4, size=32, frames=12, num_digits=2, digits="sklearn",
                               progress=False)
    assert two["kept"] == 4
    row = json.loads((tmp_path / "two" / "manifest.jsonl").read_text().splitlines()[0])
    assert np.asarray(row["centers"]).shape == (2, 12, 2) and row["speed"] == pytest.approx(two["settings"]["speed"])


def test_a_path_that_cannot_fit_is_refused_with_the_speed_that_would():
    import re

    with pytest.raises(ValueError) as exc:
        generate_labeled(4, size=32, frames=24, speed=1.0, source="sklearn")  # refused before any clip is made
    message = str(exc.value)
    assert "\n" not in message and "--walls bounce" in message
    suggested = float(re.search(r"--speed <= ([0-9.]+)", message).group(1))
    assert 0.7 < suggested < 1.0
    for clip in generate_labeled(8, size=32, frames=24, speed=suggested, seed=1, source="sklearn"):
        along, _ = along_and_across(track(clip.frames), clip.directions[0])
        assert (np.diff(along) > 0.2).all()  # the suggestion itself fits: no bounce
    with pytest.raises(ValueError, match="--speed <="):
        generate_labeled(4, size=32, frames=24, speed=suggested + 0.01, source="sklearn")
    bounced = next(generate_labeled(1, size=32, frames=24, speed=1.0, walls="bounce", source="sklearn"))
    along, _ = along_and_across(track(bounced.frames), bounced.directions[0])
    assert (np.diff(along) < 0).any()  # asked for, it bounces
    with pytest.raises(ValueError, match="at least"):
        generate_labeled(4, size=32, frames=8, speed=0.01, source="sklearn")


def test_prepare_refuses_a_path_that_cannot_fit_before_writing(tmp_path):
    with pytest.raises(ValueError, match="--speed <="):
        prepare_moving_mnist(tmp_path / "o", num=4, size=32, frames=32, speed=0.8, digits="sklearn", progress=False)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("size", [16, 32, 64])
def test_the_slowest_allowed_speed_still_changes_every_frame(size):
    from data_prep.trajectory import MIN_SPEED

    for clip in generate_labeled(40, size=size, frames=32, speed=MIN_SPEED, seed=8, source="sklearn"):
        grey = clip.frames[..., 0]
        assert all((grey[t] != grey[t + 1]).any() for t in range(31)), clip.caption
