"""Dataset sources -> a folder of <name>.gif + <name>.txt pairs (plus manifest.jsonl, prepare_report.json).

One function per source, the same as the commands of ``python -m data_prep``. Imports are lazy so
that ``import data_prep`` stays cheap (no torch, transformers or scikit-learn until a source runs).
"""
from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "prepare_moving_mnist": "moving_mnist",
    "generate_labeled": "moving_mnist",
    "LabeledClip": "moving_mnist",
    "prepare_msrvtt": "msrvtt",
    "prepare_gif_folder": "gif_folder",
    "prepare_videos": "videos",
    "validate": "validate",
    "preview": "preview",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
