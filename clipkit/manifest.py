"""The pairs folder's manifest (one JSON row per <name>.gif + <name>.txt pair) and the labeled digits' vocabulary."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MANIFEST = "manifest.jsonl"
REPORT = "prepare_report.json"
DIRECTIONS: tuple[str, ...] = ("left", "right", "up", "down")  # labeled moving digits: "digit 5 moving left"


def manifest_rows(folder: str | os.PathLike, *, strict: bool = False) -> list[dict[str, Any]]:
    """The rows of ``folder``'s manifest.jsonl in file order ([] when it has none).

    A line that is not a JSON object is skipped (the files are the truth), or with ``strict``
    raises ValueError naming the file and line.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return []
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        elif strict:
            raise ValueError(f"{path}:{line_no} is not a JSON object")
    return rows


def read_manifest(folder: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Manifest rows by pair name (rows without a string "name" are skipped)."""
    return {row["name"]: row for row in manifest_rows(folder) if isinstance(row.get("name"), str)}
