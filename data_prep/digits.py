"""Digit glyph pools for the labeled moving-digit generator: MNIST when it is on disk, else scikit-learn's digits.

A pool maps each class 0-9 to a float32 stack of square glyphs in [0, 1], white on black, already
scaled to the glyph size the generator asked for. MNIST is downloaded only on request
(``download=True``); scikit-learn's ``load_digits`` ships inside the wheel, so the default path
never touches the network.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

MNIST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def default_cache_dir() -> Path:
    """Where MNIST is looked for and downloaded to ($DATA_PREP_CACHE, else ~/.cache/data_prep)."""
    return Path(os.environ.get("DATA_PREP_CACHE", Path.home() / ".cache" / "data_prep"))


def mnist_available(root: Path | None = None) -> bool:
    """True when the MNIST test split (torchvision's layout, unpacked) already sits under ``root``: no network."""
    raw = Path(root or default_cache_dir()) / "MNIST" / "raw"
    return all((raw / f).exists() for f in MNIST_FILES)


def _resize_glyph(img: np.ndarray, glyph_px: int) -> np.ndarray:
    """Crop to the ink's bounding square and resize smoothly (bicubic) to glyph_px; float [0, 1]."""
    ys, xs = np.nonzero(img > 0.1 * img.max())
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(y1 - y0, x1 - x0)
    square = np.zeros((side, side), np.float32)
    oy, ox = (side - (y1 - y0)) // 2, (side - (x1 - x0)) // 2
    square[oy:oy + y1 - y0, ox:ox + x1 - x0] = img[y0:y1, x0:x1]
    pil = Image.fromarray(square.astype(np.float32), mode="F")
    out = np.asarray(pil.resize((glyph_px, glyph_px), Image.Resampling.BICUBIC), np.float32)
    out = np.clip(out, 0.0, None)
    return out / max(float(out.max()), 1e-6)


@lru_cache(maxsize=8)
def sklearn_pool(glyph_px: int) -> dict[int, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1,797 images, values 0-16), upscaled to glyph_px."""
    from sklearn.datasets import load_digits  # bundled data: no download

    data = load_digits()
    images = data.images.astype(np.float32) / 16.0
    return {d: np.stack([_resize_glyph(im, glyph_px) for im in images[data.target == d]])
            for d in range(10)}


@lru_cache(maxsize=8)
def _mnist_pool_cached(root: str, glyph_px: int, download: bool, per_class: int) -> dict[int, np.ndarray]:
    from torchvision.datasets.mnist import MNIST, read_image_file, read_label_file

    from .pairs import UserError

    raw = Path(root) / "MNIST" / "raw"
    if not mnist_available(Path(root)):
        if not download:
            raise UserError(f"MNIST not found under {raw}; use --digits mnist to download it or --digits sklearn")
        try:
            MNIST(root, train=False, download=True)  # fetches and unpacks the idx files, md5 checked
        except Exception as exc:  # URLError, RuntimeError...: say how to supply the files by hand
            raise UserError(f"MNIST download failed ({exc.__class__.__name__}); put the unpacked test files "
                            f"({', '.join(MNIST_FILES)}) under {raw} or use --digits sklearn") from None
    images = read_image_file(str(raw / MNIST_FILES[0])).numpy().astype(np.float32) / 255.0
    labels = read_label_file(str(raw / MNIST_FILES[1])).numpy()
    return {d: np.stack([_resize_glyph(im, glyph_px) for im in images[labels == d][:per_class]])
            for d in range(10)}


def mnist_pool(glyph_px: int, root: Path | None = None, download: bool = False,
               per_class: int = 300) -> dict[int, np.ndarray]:
    """MNIST test digits (28x28) cropped to their ink and resized to glyph_px; per_class per digit."""
    return _mnist_pool_cached(str(root or default_cache_dir()), glyph_px, download, per_class)


def glyph_pool(glyph_px: int, source: str = "auto", root: Path | None = None) -> tuple[dict[int, np.ndarray], str]:
    """Pick the glyph source: "auto" (MNIST if on disk, else sklearn), "mnist" (download allowed) or "sklearn"."""
    if source == "sklearn" or (source == "auto" and not mnist_available(root)):
        return sklearn_pool(glyph_px), "sklearn"
    if source in ("auto", "mnist"):
        return mnist_pool(glyph_px, root, download=source == "mnist"), "mnist"
    raise ValueError(f"unknown digit source {source!r}; use auto, mnist or sklearn")
