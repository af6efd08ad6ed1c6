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

import clipkit.gif
from clipkit.atomic import atomic_write
from clipkit.manifest import MANIFEST, REPORT, read_manifest

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UserError(ValueError):
    """A mistake the user can fix (bad path, bad flag value): commands print it as one line, exit 2."""


def safe_name(text: str, max_len: int = 100) -> str:
    """A file-system safe stem: letters, digits, '.', '_' and '-' only; never empty or hidden."""
    name = _UNSAFE.sub("_", text).strip("._-")[:max_len]
    return name or "clip"


def clean_caption(text: str) -> str:
    """One line, single spaces: a caption file holds exactly one caption."""
    return " ".join(str(text).split())


def write_gif(frames: np.ndarray, path: Path, fps: float = 8) -> int:
    """Save uint8 [F, H, W, 3] (or [F, H, W]) as a looping GIF; returns the frame count stored.

    Grey clips are saved as L frames (an exact 256-grey palette). Pillow merges a frame identical
    to the previous one (adding its delay), so the count stored can be lower than F.
    """
    clipkit.gif.write_gif(frames, path, fps)
    with Image.open(path) as im:
        return int(getattr(im, "n_frames", 1))


class PairsWriter:
    """Writes pairs for one source into ``out`` and keeps the manifest and the report."""

    def __init__(self, out: str | Path, source: str, *, fps: float = 8, overwrite: bool = False,
                 settings: dict[str, Any] | None = None):
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise UserError(f"--out {self.out} exists and is not a folder")
        self.out.mkdir(parents=True, exist_ok=True)
        self.source, self.fps, self.overwrite = source, fps, overwrite
        try:
            clipkit.gif.gif_duration_ms(fps)  # validate early
        except ValueError as e:
            raise UserError(str(e)) from None
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
