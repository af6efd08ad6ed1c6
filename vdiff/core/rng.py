"""Random-number streams for exact resume.

Two kinds: the global states (python, numpy, torch, CUDA) saved in a checkpoint as tensors and
plain numbers, so ``torch.load(weights_only=True)`` reads them back; and the per-micro-batch
generator whose seed is a pure function of (seed, step, micro-batch, rank), so the noise,
timesteps and caption dropout of step s are the same in an uninterrupted and a resumed run.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def rng_state() -> dict[str, Any]:
    """The global RNG states as tensors and plain numbers."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def step_generator(seed: int, step: int, micro: int, rank: int, device: torch.device) -> torch.Generator:
    """The generator for one loaded batch's timesteps, noise and caption dropout."""
    g = torch.Generator(device=device if device.type == "cuda" else "cpu")
    return g.manual_seed(((seed * 1_000_003 + step) * 64 + micro) * 4096 + rank)
