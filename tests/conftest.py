"""Shared fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

_DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def write_moving_square_pairs(folder: Path, num: int = 8, size: int = 20, frames: int = 6, seed: int = 0) -> Path:
    """A pairs folder of white squares moving in the captioned direction ("square moving left")."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(_DIRECTIONS)
    for i in range(num):
        direction = names[i % 4]
        dx, dy = _DIRECTIONS[direction]
        x, y = rng.integers(size // 3, 2 * size // 3, size=2)
        images = []
        for f in range(frames):
            arr = np.zeros((size, size + 4, 3), dtype=np.uint8)  # not square: the crop is exercised
            cx, cy = int(x + 2 * dx * f) % size, int(y + 2 * dy * f) % size
            arr[max(cy - 2, 0):cy + 2, max(cx - 2, 0):cx + 2] = 255
            images.append(Image.fromarray(arr))
        images[0].save(folder / f"clip{i:03d}.gif", save_all=True, append_images=images[1:], duration=100, loop=0)
        (folder / f"clip{i:03d}.txt").write_text(f"square moving {direction}\n", encoding="utf-8")
    return folder


@pytest.fixture
def pairs_dir(tmp_path: Path) -> Path:
    """A small synthetic pairs folder: 8 GIF + caption pairs, 20x24 pixels, 6 frames."""
    return write_moving_square_pairs(tmp_path / "pairs")


@pytest.fixture(scope="module")
def single_thread_torch():
    """Run torch on one intra-op thread from the first test that asks until the end of its module.

    Module scope lets module-scoped fixtures (a trained run shared by a module's tests) use it too.

    On a 2-core machine shared with other jobs, two OpenMP threads that wait for each other made a
    smoke training step 10-40x slower (0.3 s -> 3-12 s); one thread keeps test times predictable.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
