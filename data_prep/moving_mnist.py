"""Moving digits: labeled clips generated locally with true captions, and the canonical Moving MNIST file.

Labeled clips ("digit 5 moving left") are the offline default dataset: every clip's digit identity
and direction are known, so a trained model can be judged on both. Digits come from MNIST when it
is on disk (or downloaded on request), else from scikit-learn's bundled 8x8 digits, upscaled. Each
digit follows one straight path that fits the frame (``trajectory``), drawn at fractions of a pixel
(``raster``), and each clip keeps that true path (``centers``) for judging continuations.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from clipkit.manifest import DIRECTIONS

from .digits import glyph_pool
from .pairs import PairsWriter, UserError
from .raster import draw_path, ink_centre
from .trajectory import default_speed, glyph_size, max_fit_speed, positions, resolve_speed, room, start_position

__all__ = ["COMBOS", "DEFAULT_HOLDOUT", "DIRECTIONS", "LabeledClip", "caption_for", "default_speed", "generate_labeled",
           "glyph_size", "load_canonical", "max_fit_speed", "normalize_holdout", "prepare_moving_mnist"]

# One held-out direction per chosen digit, each direction exactly once: every digit and every
# direction still appears in training, only these 4 of the 40 combinations are new at test time.
DEFAULT_HOLDOUT: frozenset[tuple[int, str]] = frozenset({(0, "up"), (3, "right"), (6, "down"), (9, "left")})
COMBOS: tuple[tuple[int, str], ...] = tuple((d, m) for d in range(10) for m in DIRECTIONS)


@dataclass
class LabeledClip:
    """One generated clip: uint8 frames [F, H, W, 3], white digits on black, and its true labels.

    ``centers`` [digits, F, 2] is each digit's true centre of mass (x, y) per frame, in pixels with
    pixel centres at whole numbers (the centroid ``sum(v * x) / sum(v)`` of a frame showing only
    that digit); ``speed`` is its motion in pixels per frame.
    """
    frames: np.ndarray
    caption: str
    digits: list[int] = field(default_factory=list)
    directions: list[str] = field(default_factory=list)
    split: str = "train"
    centers: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 2)))
    speed: float = 0.0


def caption_for(digits: list[int], directions: list[str]) -> str:
    """"digit 5 moving left", or "digit 3 moving up and digit 7 moving right" for two digits."""
    return " and ".join(f"digit {d} moving {m}" for d, m in zip(digits, directions))


def normalize_holdout(holdout: str | Iterable | None) -> frozenset[tuple[int, str]]:
    """None -> no holdout; "default" -> DEFAULT_HOLDOUT; "0:up,3:right" or pairs (digit, direction)."""
    if holdout is None:
        return frozenset()
    if isinstance(holdout, str):
        text = holdout.strip()
        if text in ("", "none"):
            return frozenset()
        if text == "default":
            return DEFAULT_HOLDOUT
        holdout = [item.split(":") for item in text.split(",")]
    combos = set()
    for item in holdout:
        try:
            digit, direction = item
            digit = int(digit)
        except (TypeError, ValueError):
            raise ValueError(f"holdout entries are (digit, direction) like 3:left, got {item!r}") from None
        direction = str(direction).strip()
        if not 0 <= digit <= 9 or direction not in DIRECTIONS:
            raise ValueError(f"holdout entry {digit}:{direction} needs a digit 0-9 and one of {', '.join(DIRECTIONS)}")
        combos.add((digit, direction))
    return frozenset(combos)


def _combo(i: int, slot: int, seed: int) -> tuple[int, str]:
    """Every block of 40 consecutive clips covers each (digit, direction) once per digit slot."""
    block, index = divmod(i, len(COMBOS))
    order = np.random.default_rng((seed, slot, block)).permutation(len(COMBOS))
    return COMBOS[order[index]]


def generate_labeled(num: int, *, size: int = 32, frames: int = 8, seed: int = 0, num_digits: int = 1,
                     speed: float | None = None, walls: str = "fit", subpixel: bool = True,
                     holdout: str | Iterable | None = None, source: str = "auto") -> Iterator[LabeledClip]:
    """``num`` labeled moving-digit clips (an iterator), balanced over digits and directions, deterministic per seed.

    Clip ``i`` depends only on (seed, i), so a longer run starts with the clips of a shorter one.
    ``speed`` is in pixels per frame, fractions allowed (default ``default_speed``: the path fits);
    ``walls`` is "fit" (a path that does not fit is a ValueError), "bounce" or "leave" (see
    ``data_prep.trajectory``); ``subpixel=False`` rounds every position to whole pixels, which
    reproduces clips made before sub-pixel motion byte for byte (below 1 px a frame they pause);
    ``holdout`` combinations (see ``normalize_holdout``) get ``split="holdout"``;
    ``source`` picks the glyphs: "auto", "mnist" (may download) or "sklearn" (bundled, offline).
    Bad arguments raise here, before the first clip is asked for.
    """
    if num < 0:
        raise ValueError(f"num must be >= 0, got {num}")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    if frames < 2:
        raise ValueError(f"frames must be at least 2 to show motion, got {frames}")
    if num_digits not in (1, 2):
        raise ValueError(f"num_digits must be 1 or 2, got {num_digits}")
    speed = resolve_speed(size, frames, speed, walls)
    held = normalize_holdout(holdout)
    return _clips(num, size, frames, seed, num_digits, speed, walls, subpixel, held, source)


def _clips(num: int, size: int, frames: int, seed: int, num_digits: int, speed: float, walls: str,
           subpixel: bool, held: frozenset[tuple[int, str]], source: str) -> Iterator[LabeledClip]:
    g = glyph_size(size)
    pool, _ = glyph_pool(g, source)
    free = room(size)
    travel = speed * (frames - 1)
    for i in range(num):
        rng = np.random.default_rng((seed, i, 0x6D6E))
        combos = [_combo(i, slot, seed) for slot in range(num_digits)]
        layers, centers = [], []
        for digit, direction in combos:
            glyphs = pool[digit]
            glyph = glyphs[rng.integers(len(glyphs))]
            start = start_position(direction, travel, free, rng, on_grid=subpixel)
            corners = positions(start, direction, speed, frames, free, walls)
            if not subpixel:
                corners = np.rint(corners)
            layers.append(draw_path(glyph, corners, size))
            centers.append(corners + ink_centre(glyph))
        canvas = np.max(layers, axis=0)  # max-blend: crossing digits stay white, never brighter
        grey = (np.clip(canvas, 0.0, 1.0) * 255).round().astype(np.uint8)
        digits = [d for d, _ in combos]
        directions = [m for _, m in combos]
        split = "holdout" if any(c in held for c in combos) else "train"
        yield LabeledClip(np.repeat(grey[..., None], 3, axis=-1), caption_for(digits, directions),
                          digits, directions, split, np.stack(centers), speed)


# --- writing the pairs folder -------------------------------------------------------------------

CANONICAL_URL = "http://www.cs.toronto.edu/~nitish/unsupervised_video/mnist_test_seq.npy"
CANONICAL_MD5 = "be083ec986bfe91a449d63653c411eb2"  # the checksum torchvision's MovingMNIST verifies
CANONICAL_CAPTION = "two handwritten digits moving"


def load_canonical(path: str | Path | None = None, download: bool = False) -> np.ndarray:
    """The canonical Moving MNIST array, time first: [T, N, H, W] uint8 (memory-mapped, never unpickled)."""
    from .digits import default_cache_dir

    if path is None:
        path = default_cache_dir() / "mnist_test_seq.npy"
        if not path.exists():
            if not download:
                raise UserError(f"canonical Moving MNIST not found at {path}; pass --download to fetch it "
                                f"(~800 MB) or --canonical-path FILE")
            from torchvision.datasets.utils import download_url
            try:
                download_url(CANONICAL_URL, str(path.parent), path.name, md5=CANONICAL_MD5)
            except Exception as exc:
                raise UserError(f"download of {CANONICAL_URL} failed ({exc.__class__.__name__}); download it by "
                                f"hand and pass --canonical-path FILE (md5 {CANONICAL_MD5})") from None
    path = Path(path)
    if not path.is_file():
        raise UserError(f"canonical Moving MNIST file not found: {path}")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UserError(f"{path} is not a readable .npy array ({exc})") from None
    if arr.dtype != np.uint8 or arr.ndim != 4:
        raise UserError(f"{path}: expected uint8 [T, N, H, W] (time first, like mnist_test_seq.npy), "
                        f"got {arr.dtype} {arr.shape}")
    return arr


def _resize_grey(seq: np.ndarray, size: int) -> np.ndarray:
    if seq.shape[1:] == (size, size):
        return np.asarray(seq)
    return np.stack([np.asarray(Image.fromarray(np.asarray(f)).resize((size, size), Image.Resampling.BILINEAR))
                     for f in seq])


def prepare_moving_mnist(out: str | Path, *, canonical: bool = False, num: int = 1000,
                         size: int | None = None, frames: int | None = None, seed: int = 0,
                         num_digits: int = 1, speed: float | None = None, walls: str = "fit",
                         subpixel: bool = True, holdout: str | Iterable | None = None, digits: str = "auto",
                         canonical_path: str | Path | None = None, download: bool = False,
                         caption: str = CANONICAL_CAPTION, fps: float = 8, overwrite: bool = False,
                         progress: bool = True) -> dict:
    """Write moving-digit pairs to ``out``: labeled clips (default, offline) or the canonical file.

    Labeled: ``num`` clips of ``size`` (32) px and ``frames`` (8) (``speed``, ``walls`` and
    ``subpixel`` as in ``generate_labeled``), manifest rows with digits, directions, split, speed
    and each digit's per-frame ``centers``. Canonical: the first ``num`` sequences of mnist_test_seq.npy, the first
    ``frames`` (all 20) frames each, resized to ``size`` (64), captioned with the fixed ``caption``.
    Returns the report that is also written to prepare_report.json.
    """
    from tqdm.auto import tqdm

    if num < 1:
        raise UserError(f"--num must be at least 1, got {num}")
    if canonical:
        arr = load_canonical(canonical_path, download)
        size = size or arr.shape[2]
        frames = frames or arr.shape[0]
        if not 1 <= frames <= arr.shape[0]:
            raise UserError(f"--frames must be between 1 and {arr.shape[0]} for this file, got {frames}")
        settings = {"mode": "canonical", "size": size, "frames": frames, "caption": caption,
                    "file": str(canonical_path or "cache")}
        writer = PairsWriter(out, "moving_mnist", fps=fps, overwrite=overwrite, settings=settings)
        with writer:
            for n in tqdm(range(min(num, arr.shape[1])), desc="moving mnist", disable=not progress):
                name = f"mmnist_{n:05d}"
                if writer.done(name):
                    continue
                seq = _resize_grey(arr[:frames, n], size)
                writer.write(name, np.repeat(seq[..., None], 3, axis=-1), caption)
        return writer.finish()

    size, frames = size or 32, frames or 8
    held = normalize_holdout(holdout)
    if digits == "auto":  # resolve now so the manifest says which glyphs were used
        from .digits import mnist_available
        digits = "mnist" if mnist_available() else "sklearn"
    # Checked before the output folder is made: a path that does not fit leaves nothing behind.
    clips = generate_labeled(num, size=size, frames=frames, seed=seed, num_digits=num_digits, speed=speed,
                             walls=walls, subpixel=subpixel, holdout=held, source=digits)
    settings = {"mode": "labeled", "size": size, "frames": frames, "seed": seed, "num_digits": num_digits,
                "speed": resolve_speed(size, frames, speed, walls), "walls": walls, "subpixel": subpixel,
                "digits": digits, "holdout": sorted(f"{d}:{m}" for d, m in held)}
    writer = PairsWriter(out, "moving_mnist", fps=fps, overwrite=overwrite, settings=settings)
    with writer:
        for i, clip in enumerate(tqdm(clips, total=num, desc="labeled digits", disable=not progress)):
            name = f"digits_{i:06d}"
            if writer.done(name):
                continue
            writer.write(name, clip.frames, clip.caption, digits=clip.digits, directions=clip.directions,
                         split=clip.split, speed=round(clip.speed, 6),
                         centers=np.round(clip.centers, 3).tolist())
    return writer.finish()
