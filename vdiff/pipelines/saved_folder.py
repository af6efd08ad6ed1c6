"""The self-contained folder ``save_pretrained`` writes (and the Hub holds): its file names and format,
and the facts it and a run folder tell about their weights.

    config.json         the run's Config: model shape, text encoder name, sampling defaults
    model.safetensors   the weights; caption whitening included (the model buffers text_mean and
                        text_whitening, fitted on the training captions)
    pipeline.json       format version, weights kind (ema/online), text encoder, steps trained
    README.md           model card: YAML front matter for the Hub, then how to load and generate
    sample.gif          the config's sample prompts generated with these weights
    eval.json           the evaluator's report, when the run had one
"""
from __future__ import annotations

import re
from pathlib import Path

from ..core.run_folder import RunFolder, read_json  # read_json: where hub.py and loading.py find it

FORMAT = 1
PIPELINE_FILE = "pipeline.json"
WEIGHTS_FILE = "model.safetensors"
FILES = ("config.json", WEIGHTS_FILE, PIPELINE_FILE, "README.md", "sample.gif")
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # a Hub model id, owner/name


def is_pretrained_folder(path: str | Path) -> bool:
    """True for a folder written by save_pretrained (or downloaded from the Hub)."""
    path = Path(path)
    return (path / PIPELINE_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def steps_trained(folder: str | Path) -> int | None:
    """Optimizer steps behind a folder's weights: what a saved folder recorded, or for a run folder
    ``RunFolder.steps_trained`` (its newest checkpoint's step, else the last step its log names); None if unknown."""
    folder = Path(folder)
    if (folder / PIPELINE_FILE).is_file():
        value = read_json(folder / PIPELINE_FILE).get("steps_trained")
        return int(value) if value is not None else None
    return RunFolder(folder).steps_trained()


def check_repo_id(repo_id: str) -> str:
    """The id when it is a valid Hub model id ("owner/name"); ValueError otherwise."""
    if not isinstance(repo_id, str) or not REPO_ID.match(repo_id) or len(repo_id) > 96 or ".." in repo_id:
        raise ValueError(f"not a Hub repo id: {repo_id!r} (expected owner/name, e.g. me/vdiff-tiny)")
    return repo_id
