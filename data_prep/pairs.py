"""The pairs contract: <name>.gif + <name>.txt, manifest.jsonl and prepare_report.json in one folder.

Every source writes through ``PairsWriter`` so the contract lives in one place: GIFs saved with
Pillow (duration in ms, loop=0) atomically, UTF-8 one-line captions, a manifest row per pair, a
re-run that skips pairs already written from the same source (unless ``overwrite``), and broken
inputs skipped and counted with their reason.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .atomic import atomic_write

MANIFEST = "manifest.jsonl"
REPORT = "prepare_report.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UserError(ValueError):
    """A mistake the user can fix (bad path, bad flag value): commands print it as one line, exit 2."""


def gif_duration_ms(fps: float) -> int:
    """Per-frame delay for fps: GIFs store 1/100 s and browsers play delays under 20 ms slowly."""
    if not fps > 0:
        raise UserError(f"fps must be positive, got {fps}")
    return max(20, int(round(100.0 / fps)) * 10)


def safe_name(text: str, max_len: int = 100) -> str:
    """A file-system safe stem: letters, digits, '.', '_' and '-' only; never empty or hidden."""
    name = _UNSAFE.sub("_", text).strip("._-")[:max_len]
    return name or "clip"


def clean_caption(text: str) -> str:
    """One line, single spaces: a caption file holds exactly one caption."""
    return " ".join(str(text).split())


def write_gif(frames: np.ndarray, path: Path, fps: float = 8) -> int:
    """Save uint8 [F, H, W, 3] (or [F, H, W]) as a looping GIF; returns the frame count stored.

    Grey clips are saved as L frames (an exact 256-grey palette); colour frames get Pillow's adaptive
    palette. Pillow merges a frame identical to the previous one (adding its delay), so the count
    stored can be lower than F while the total duration is kept.
    """
    arr = np.asarray(frames)
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4) or arr.shape[0] < 1:
        raise ValueError(f"frames must be uint8 [F, H, W, 3], got {arr.dtype} {arr.shape}")
    if arr.ndim == 4 and arr.shape[-1] == 3 and np.array_equal(arr[..., 0], arr[..., 1]) \
            and np.array_equal(arr[..., 0], arr[..., 2]):
        arr = arr[..., 0]
    images = [Image.fromarray(f) for f in arr]

    def save(tmp: str) -> None:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=gif_duration_ms(fps), loop=0, optimize=False)

    atomic_write(path, save)
    with Image.open(path) as im:
        return int(getattr(im, "n_frames", 1))


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Existing manifest rows by name (unparseable lines are ignored: the files are the truth)."""
    rows: dict[str, dict[str, Any]] = {}
    path = Path(folder) / MANIFEST
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("name"), str):
                rows[row["name"]] = row
    return rows


class PairsWriter:
    """Writes pairs for one source into ``out`` and keeps the manifest and the report."""

    def __init__(self, out: str | Path, source: str, *, fps: float = 8, overwrite: bool = False,
                 settings: dict[str, Any] | None = None):
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise UserError(f"--out {self.out} exists and is not a folder")
        self.out.mkdir(parents=True, exist_ok=True)
        self.source, self.fps, self.overwrite = source, fps, overwrite
        gif_duration_ms(fps)  # validate early
        self.settings = dict(settings or {})
        # Pairs count as "already written" only if the same source with the same content-shaping
        # settings wrote them: a re-run with another size or seed must not keep stale clips.
        self.prep_id = hashlib.sha1(json.dumps(self.settings, sort_keys=True, default=str).encode()).hexdigest()[:12]
        self.rows = read_manifest(self.out)
        self.kept = 0
        self.already = 0
        self.skipped: list[dict[str, str]] = []

    def done(self, name: str) -> bool:
        """True when this pair was already written by the same source and both files are there."""
        if self.overwrite:
            return False
        row = self.rows.get(name)
        have = (self.out / f"{name}.gif").exists() and (self.out / f"{name}.txt").exists()
        if have and row is not None and row.get("source") == self.source and row.get("prep_id") == self.prep_id:
            self.already += 1
            return True
        return False

    def write(self, name: str, frames: np.ndarray, caption: str, **extra: Any) -> dict[str, Any]:
        """Write <name>.gif and <name>.txt and record the manifest row (extra keys are kept)."""
        caption = clean_caption(caption)
        stored = write_gif(frames, self.out / f"{name}.gif", self.fps)
        atomic_write(self.out / f"{name}.txt", lambda tmp: Path(tmp).write_text(caption + "\n", encoding="utf-8"))
        f, h, w = np.asarray(frames).shape[:3]
        row = {"name": name, "caption": caption, "frames": stored, "width": int(w), "height": int(h),
               "fps": self.fps, "source": self.source, **extra, "prep_id": self.prep_id}
        self.rows[name] = row
        self.kept += 1
        return row

    def skip(self, name: str, reason: str) -> None:
        """Count a broken or filtered input; ``reason`` starts with a short category before ':'."""
        self.skipped.append({"name": name, "reason": reason})

    def __enter__(self) -> "PairsWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Interrupted or failed mid-run: record the pairs written so far, so a re-run skips them.
        if exc_type is not None:
            self.finish()

    def report(self) -> dict[str, Any]:
        reasons = Counter(s["reason"].split(":")[0] for s in self.skipped)
        return {"source": self.source, "out": str(self.out), "kept": self.kept,
                "already_present": self.already, "skipped": len(self.skipped),
                "skipped_by_reason": dict(sorted(reasons.items())), "skipped_items": self.skipped,
                "pairs_in_folder": sum(1 for n in self.rows if (self.out / f"{n}.gif").exists()),
                "settings": self.settings}

    def finish(self) -> dict[str, Any]:
        """Write manifest.jsonl and prepare_report.json; return the report."""
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.rows.values()
                        if (self.out / f"{r['name']}.gif").exists())
        atomic_write(self.out / MANIFEST, lambda tmp: Path(tmp).write_text(lines, encoding="utf-8"))
        report = self.report()
        atomic_write(self.out / REPORT, lambda tmp: Path(tmp).write_text(
            json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"))
        return report


def summary_line(report: dict[str, Any]) -> str:
    """The one-line summary every command prints."""
    reasons = ", ".join(f"{k}: {v}" for k, v in report["skipped_by_reason"].items())
    return (f"{report['source']}: wrote {report['kept']} pairs, {report['already_present']} already present, "
            f"skipped {report['skipped']}" + (f" ({reasons})" if reasons else "") + f" -> {report['out']}")
