"""The run folder's layout: the one module that knows where a run keeps each of its files.

    RUN_DIR/
      config.json                        the Config the run trains with
      log.jsonl                          one JSON record per log step and per event (start, save, stop, ...)
      checkpoints/step_XXXXXXX.pt        the newest ``keep_last`` checkpoints: they resume training exactly
      weights/ema.safetensors            inference weights of the EMA model ...
      weights/online.safetensors         ... and of the online model,
      weights/config.json                with the config they were written under
      samples/step_XXXXXXX_<name>.gif    the sample prompts at each ``sample_every`` step
      samples/progress.png               the EMA samples over the run: one row per sample step, same prompts and seeds
      tensorboard/                       event files, with ``log_with="tensorboard"``
      eval.json                          the evaluator's report, when a user writes it there (the model card shows it)
      loss.png                           the loss plot (``python -m vdiff.plot``, notebook 02)

Pure paths and reads; writing is the trainer's (``vdiff.training``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_RE = re.compile(r"^step_(\d{7,})\.pt$")
WEIGHTS_DIR = "weights"
WEIGHT_KINDS = ("ema", "online")
TENSORBOARD_DIR = "tensorboard"
# The folder vdiff.pipelines.saved_folder writes (save_pretrained, the Hub) names its weights and facts so;
# the training layer below it reads them to start a run from a saved folder (tests/test_init_from.py
# checks that the two agree).
SAVED_WEIGHTS_FILE = "model.safetensors"
SAVED_INFO_FILE = "pipeline.json"


def checkpoint_name(step: int) -> str:
    return f"step_{step:07d}.pt"


def checkpoint_step(path: str | Path) -> int | None:
    """The step in a checkpoint's file name, or None for another file."""
    match = CHECKPOINT_RE.match(Path(path).name)
    return int(match.group(1)) if match else None


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Checkpoint files in ``folder`` (a run's ``checkpoints/``), sorted by step; other names ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(step, p) for p in folder.iterdir() if (step := checkpoint_step(p)) is not None]
    return [p for _, p in sorted(found)]


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object (a config, a saved folder's facts); ValueError naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return data


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a log.jsonl file; a line cut short by a killed run is skipped."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


@dataclass(frozen=True)
class RunFolder:
    """The files of the run folder at ``path`` (none of them need exist)."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def log_file(self) -> Path:
        return self.path / "log.jsonl"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    def checkpoint_file(self, step: int) -> Path:
        return self.checkpoint_dir / checkpoint_name(step)

    @property
    def weights_dir(self) -> Path:
        return self.path / WEIGHTS_DIR

    def weights_file(self, kind: str = "ema") -> Path:
        if kind not in WEIGHT_KINDS:
            raise ValueError(f"unknown weights {kind!r}; a run has {', '.join(WEIGHT_KINDS)}")
        return self.weights_dir / f"{kind}.safetensors"

    @property
    def weights_config_file(self) -> Path:
        return self.weights_dir / "config.json"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    def sample_file(self, step: int, name: str) -> Path:
        return self.samples_dir / f"step_{step:07d}_{name}.gif"

    @property
    def progress_file(self) -> Path:
        return self.samples_dir / "progress.png"

    def sample_files(self, name: str = "ema") -> list[tuple[int, Path]]:
        """(step, path) of every ``samples/step_XXXXXXX_<name>.gif``, oldest first."""
        pattern = re.compile(rf"^step_(\d{{7,}})_{re.escape(name)}\.gif$")
        found = [(int(m.group(1)), p) for p in self.samples_dir.glob("step_*.gif") if (m := pattern.match(p.name))]
        return sorted(found)

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD_DIR

    @property
    def eval_file(self) -> Path:
        return self.path / "eval.json"

    @property
    def loss_plot(self) -> Path:
        return self.path / "loss.png"

    def checkpoints(self) -> list[Path]:
        return list_checkpoints(self.checkpoint_dir)

    def log_records(self) -> list[dict[str, Any]]:
        """The run's log records, oldest first ([] before the first one)."""
        return read_log(self.log_file) if self.log_file.is_file() else []

    def steps_trained(self) -> int | None:
        """Optimizer steps behind the weights: the newest checkpoint's step (the weights are written with
        it), else the last step the log names; None when neither says."""
        checkpoints = self.checkpoints()
        if checkpoints:
            return checkpoint_step(checkpoints[-1])
        steps = [r["step"] for r in self.log_records() if isinstance(r.get("step"), int)]
        return max(steps) if steps else None
