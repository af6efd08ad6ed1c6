"""Checkpoints: atomic writes (SIGKILL mid-save), weights_only loading, pruning, safetensors weights."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vdiff.checkpoint import (checkpoint_path, latest_loadable_checkpoint, list_checkpoints, load_checkpoint,
                              load_weights, prune_checkpoints, save_checkpoint, save_weights)

ROOT = Path(__file__).resolve().parents[1]


def test_round_trip_and_pruning(tmp_path):
    for step in (5, 10, 15, 20):
        save_checkpoint({"step": step, "w": torch.full((2,), float(step))}, checkpoint_path(tmp_path, step))
    (tmp_path / "notes.txt").write_text("ignored")
    assert [p.name for p in list_checkpoints(tmp_path)] == [f"step_{s:07d}.pt" for s in (5, 10, 15, 20)]
    deleted = prune_checkpoints(tmp_path, keep_last=2)
    assert [p.name for p in deleted] == ["step_0000005.pt", "step_0000010.pt"]
    path, state = latest_loadable_checkpoint(tmp_path)
    assert path.name == "step_0000020.pt" and state["step"] == 20 and torch.equal(state["w"], torch.full((2,), 20.0))


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_load_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "step_0000001.pt"
    torch.save({"step": 1, "payload": Evil()}, path)
    with pytest.raises(ValueError, match="cannot load checkpoint"):
        load_checkpoint(path)


def test_unloadable_newest_checkpoint_falls_back(tmp_path):
    save_checkpoint({"step": 1}, checkpoint_path(tmp_path, 1))
    checkpoint_path(tmp_path, 2).write_bytes(b"truncated")
    path, state = latest_loadable_checkpoint(tmp_path)
    assert state["step"] == 1


def test_safetensors_weights(tmp_path):
    sd = {"a": torch.randn(3, 4), "b": torch.arange(5)}
    save_weights(sd, tmp_path / "w.safetensors")
    back = load_weights(tmp_path / "w.safetensors")
    assert set(back) == {"a", "b"} and torch.equal(back["a"], sd["a"])
    with pytest.raises(ValueError, match="weights not found"):
        load_weights(tmp_path / "missing.safetensors")


_SAVER = """
import sys, torch
from vdiff.checkpoint import save_checkpoint
path = sys.argv[1]
state = {"step": 2, "w": torch.ones(30_000_000)}   # ~120 MB: the save takes a while
print("saving", flush=True)
while True:
    save_checkpoint(state, path)
"""


def test_sigkill_while_saving_leaves_previous_checkpoint_loadable(tmp_path):
    path = checkpoint_path(tmp_path, 1)
    save_checkpoint({"step": 1, "w": torch.zeros(3)}, path)
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "saving"
        # Kill while the first big save is in flight (a temp file exists, the rename has not happened).
        deadline = time.time() + 30
        while not list(tmp_path.glob(".*.tmp")) and time.time() < deadline:
            time.sleep(0.005)
        assert list(tmp_path.glob(".*.tmp")), "the saver never started writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    state = load_checkpoint(path)  # must load: either the old file or a complete new one
    assert state["step"] in (1, 2)
    assert state["w"].numel() in (3, 30_000_000)
    assert [p.name for p in list_checkpoints(tmp_path)] == [path.name]  # the leftover temp file is not a checkpoint
