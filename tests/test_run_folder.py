"""vdiff.core.run_folder: the one module that knows the run folder's layout, checked against a real run."""
from __future__ import annotations

import json

import pytest

from conftest import write_moving_square_pairs
from vdiff.core.config import get_preset
from vdiff.core.run_folder import RunFolder, checkpoint_step, list_checkpoints, read_log
from vdiff.train import train

pytestmark = pytest.mark.usefixtures("single_thread_torch")


def test_a_trained_run_is_where_the_run_folder_says(tmp_path):
    cfg = get_preset("smoke", max_steps=6, save_every=3, sample_every=3, keep_last=5)
    run = RunFolder(train(cfg, write_moving_square_pairs(tmp_path / "pairs"), tmp_path / "run"))
    assert run.config_file.is_file() and run.weights_config_file.is_file()
    assert run.weights_file("ema").is_file() and run.weights_file("online").is_file()
    assert [p.name for p in run.checkpoints()] == [run.checkpoint_file(3).name, run.checkpoint_file(6).name]
    assert run.sample_file(6, "ema").is_file() and run.sample_file(3, "online").is_file()
    assert run.steps_trained() == 6
    events = [r["event"] for r in run.log_records() if "event" in r]
    assert events[0] == "start" and events[-1] == "stop"
    with pytest.raises(ValueError, match="unknown weights"):
        run.weights_file("best")


def test_reading_a_log_cut_short_and_checkpoints_among_other_files(tmp_path):
    run = RunFolder(tmp_path)
    assert run.log_records() == [] and run.steps_trained() is None  # a new folder
    run.log_file.write_text(json.dumps({"step": 4, "loss": 1.0}) + "\n" + '{"step": 8, "lo', encoding="utf-8")
    assert read_log(run.log_file) == [{"step": 4, "loss": 1.0}]  # the line a killed run left half-written
    assert run.steps_trained() == 4  # no checkpoint yet: the log's last step
    run.checkpoint_dir.mkdir()
    for name in ("step_0000010.pt", "step_0000002.pt", ".step_0000012.pt.tmp", "notes.txt"):
        (run.checkpoint_dir / name).write_bytes(b"")
    assert [p.name for p in list_checkpoints(run.checkpoint_dir)] == ["step_0000002.pt", "step_0000010.pt"]
    assert run.steps_trained() == 10 and checkpoint_step("notes.txt") is None
