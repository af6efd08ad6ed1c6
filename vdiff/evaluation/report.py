"""Reports as JSON files: the evaluator's and the benchmarks' (atomic, NaN written as null)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from clipkit.atomic import atomic_write


def json_safe(obj):
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None  # JSON has no NaN
    if isinstance(obj, (np.floating, np.integer)):
        return json_safe(obj.item())
    return obj


def write_report(report: dict, path: str | Path) -> Path:
    """Write a report (any dict of numbers, strings and lists) as JSON atomically; NaN and numpy scalars made JSON-safe."""
    text = json.dumps(json_safe(report), indent=2) + "\n"
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
