"""Start a run from a trained one (``--init-from``, ``Config.init_from``): fine-tuning on your own clips.

The new run takes the source's model and EMA weights (caption whitening included: its buffers are
part of the weights, so the captions keep the statistics the model learned them with) and keeps its
text encoder; the optimizer, the learning-rate warm-up and schedule, the step count and the budget
start fresh. The EMA continues from the source's EMA with the update count the source had reached,
so its decay does not fall back to the warm-up's 0.9 and its first update does not overwrite it.

A source is a run folder (``weights/online.safetensors`` and ``weights/ema.safetensors`` with the
config they were written under) or a folder ``save_pretrained`` wrote (one set of weights, used for
both). Nothing in the source is written to; a model of another shape is refused in one line naming
the settings that differ. Only when a run starts: a resumed run takes everything from its checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.config import Config
from ..core.run_folder import SAVED_INFO_FILE, SAVED_WEIGHTS_FILE, RunFolder, read_json
from .checkpoint import load_weights


@dataclass(frozen=True)
class InitSource:
    """A trained model to start from: where it is, its config, its weights files and how far it trained."""

    path: Path
    kind: str                     # "run" (a run folder) or "saved" (a save_pretrained folder)
    config: Config
    model_file: Path              # the online weights (a saved folder: its one set)
    ema_file: Path
    steps_trained: int | None
    ema_updates: int | None


def find_source(path: str | Path, out_dir: str | Path | None = None) -> InitSource:
    """The trained run or saved folder at ``path``; ValueError in one line when it is neither."""
    path = Path(path).expanduser()
    if out_dir is not None and path.resolve() == Path(out_dir).resolve():
        raise ValueError(f"--init-from {path} is the run folder being trained: give another --out")
    if not path.is_dir():
        raise ValueError(f"--init-from {path}: no such folder (give a run folder or a save_pretrained folder)")
    if (path / SAVED_INFO_FILE).is_file() and (path / SAVED_WEIGHTS_FILE).is_file():
        info = read_json(path / SAVED_INFO_FILE)
        steps = info.get("steps_trained")
        steps = int(steps) if isinstance(steps, int) else None
        weights = path / SAVED_WEIGHTS_FILE
        return InitSource(path, "saved", Config.from_json(path / "config.json"), weights, weights, steps, steps)
    run = RunFolder(path)
    if not (run.weights_file("ema").is_file() and run.weights_file("online").is_file()):
        raise ValueError(f"--init-from {path} holds no trained weights (weights/ema.safetensors and "
                         f"weights/online.safetensors, or a save_pretrained folder's {SAVED_WEIGHTS_FILE})")
    config_file = run.weights_config_file if run.weights_config_file.is_file() else run.config_file
    updates = [r["ema_update_count"] for r in run.log_records() if isinstance(r.get("ema_update_count"), int)]
    steps = run.steps_trained()
    return InitSource(path, "run", Config.from_json(config_file), run.weights_file("online"),
                      run.weights_file("ema"), steps, updates[-1] if updates else steps)


def source_for(config: Config, out_dir: str | Path) -> InitSource | None:
    """``config.init_from``'s source, checked to fit ``config``'s model; None for a run from scratch."""
    if config.init_from is None:
        return None
    source = find_source(config.init_from, out_dir)
    check_fits(source, config)
    return source


def check_fits(source: InitSource, config: Config) -> None:
    """ValueError in one line naming each model setting where ``config`` differs from the source's."""
    changed = config.shape_mismatch(source.config)
    if changed:
        detail = ", ".join(f"{f}={getattr(source.config, f)!r} -> {getattr(config, f)!r}" for f in changed)
        raise ValueError(f"cannot start from {source.path}: this config changes its model's shape ({detail}); "
                         f"train with its own config (leave out --preset/--config) or its values")


def load_into(source: InitSource, model: torch.nn.Module, ema: Any) -> dict[str, Any]:
    """Load the source's weights into ``model`` and ``ema`` (a vdiff.training.ema.EMA); what the log's start
    line records of it."""
    online, averaged = load_weights(source.model_file), load_weights(source.ema_file)
    for weights, file in ((online, source.model_file), (averaged, source.ema_file)):
        _check_tensors(model, weights, file)
    model.load_state_dict(online)
    ema.module.load_state_dict(averaged)
    # At least 1: an EMA that holds weights must blend its next update, not copy it.
    updates = max(int(source.ema_updates or 0), 1)
    ema.averaged.n_averaged.fill_(updates)
    return {"source": str(source.path), "kind": source.kind, "steps_trained": source.steps_trained,
            "ema_update_count": updates}


def _check_tensors(model: torch.nn.Module, weights: dict[str, torch.Tensor], file: Path) -> None:
    """One line naming the tensors that do not fit (a source written by another version of the model)."""
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in weights.items()}
    wrong = sorted(k for k in want.keys() & have.keys() if want[k] != have[k])
    missing, extra = sorted(want.keys() - have.keys()), sorted(have.keys() - want.keys())
    if wrong or missing or extra:
        parts = [f"{label}: {', '.join(names[:4])}{' ...' if len(names) > 4 else ''}"
                 for label, names in (("other shape", wrong), ("missing", missing), ("unexpected", extra)) if names]
        raise ValueError(f"cannot start from {file}: its tensors do not fit this model ({'; '.join(parts)})")

