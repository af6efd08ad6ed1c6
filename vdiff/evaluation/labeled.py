"""The labeled data folder the evaluator reads: its prompts, its real clips and their true digit paths.

A labeled pairs folder (``python -m data_prep moving_mnist --labeled``) has manifest rows with
digits, directions and split, and, since sub-pixel motion, each digit's true centre per frame
(``centers``) and its ``speed``. Each distinct single-digit caption is one ``Prompt``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clipkit.manifest import DIRECTIONS, MANIFEST, manifest_rows

from ..core.media import frame_index, load_gif, resize_frames
from .judge import centroid_track
from .tracks import path_fits, scale_track

CAPTION_RE = re.compile(rf"^digit (\d) moving ({'|'.join(DIRECTIONS)})$")
SPLITS = ("seen", "heldout")


@dataclass
class Prompt:
    caption: str
    digit: int
    direction: str
    split: str                   # "seen" (in training) or "heldout" (combination never trained on)
    real_files: list[Path]
    real_centers: list[list | None] = field(default_factory=list)  # per file: the manifest's true centres [F][2]


def read_prompts(data_dir: str | Path) -> list[Prompt]:
    """Single-digit prompts of a labeled pairs folder, from its manifest (or captions when rows lack labels)."""
    root = Path(data_dir)
    manifest = root / MANIFEST
    if not root.is_dir():
        raise ValueError(f"data folder not found: {root}")
    if not manifest.is_file():
        raise ValueError(f"{root} has no {MANIFEST}: make it with python -m data_prep moving_mnist --labeled")
    prompts: dict[str, Prompt] = {}
    for row in manifest_rows(root, strict=True):
        caption = str(row.get("caption", "")).strip()
        digits, directions = row.get("digits"), row.get("directions")
        if digits is None or directions is None:
            match = CAPTION_RE.match(caption)
            if not match:
                continue
            digits, directions = [int(match.group(1))], [match.group(2)]
        if len(digits) != 1 or len(directions) != 1:
            continue  # two-digit clips: the judge reads one digit per clip
        gif = root / f"{row.get('name', '')}.gif"
        if not gif.is_file():
            continue
        split = "heldout" if row.get("split") == "holdout" else "seen"
        p = prompts.setdefault(caption, Prompt(caption, int(digits[0]), str(directions[0]), split, []))
        p.real_files.append(gif)
        centers = row.get("centers")
        p.real_centers.append(centers[0] if isinstance(centers, list) and len(centers) == 1 else None)
    if not prompts:
        raise ValueError(f"{manifest} has no single-digit labeled clips (captions like 'digit 5 moving left')")
    return sorted(prompts.values(), key=lambda p: (p.split, p.digit, p.direction))


def spread(prompts: list[Prompt], limit: int) -> list[Prompt]:
    """At most ``limit`` prompts, held-out ones first so the generalisation numbers always exist."""
    if limit < 1:
        raise ValueError("--max-prompts must be at least 1")
    held = [p for p in prompts if p.split == "heldout"]
    seen = [p for p in prompts if p.split == "seen"]
    keep_held = held[:max(1, limit // 4)] if held else []
    return keep_held + seen[::max(1, len(seen) // max(1, limit - len(keep_held)))][:limit - len(keep_held)]


def match_shape(clip: np.ndarray, frames: int, size: int) -> np.ndarray:
    """Resample a real clip [F, H, W, 3] to ``frames`` evenly spaced frames of ``size`` px, like the model's."""
    return resize_frames(clip[frame_index(len(clip), frames)][None], (size, size))[0]


def _rgb(clip: np.ndarray) -> np.ndarray:
    return clip[..., :3] if clip.shape[-1] >= 3 else np.repeat(clip, 3, -1)


def load_real(prompts: list[Prompt], per_prompt: int, frames: int, size: int,
              offset: int = 0) -> tuple[np.ndarray, list[int], int]:
    """Up to ``per_prompt`` real clips per prompt starting at ``offset``: (clips, prompt index per clip, skipped)."""
    clips, owner, skipped = [], [], 0
    for i, p in enumerate(prompts):
        for path in p.real_files[offset:offset + per_prompt]:
            try:
                clip = load_gif(path)
            except ValueError:
                skipped += 1  # a broken GIF is counted, not fatal
                continue
            clips.append(match_shape(_rgb(clip), frames, size))
            owner.append(i)
    empty = np.zeros((0, frames, size, size, 3), np.uint8)
    return (np.stack(clips) if clips else empty), owner, skipped


def noise_clips(n: int, frames: int, size: int, seed: int = 0) -> np.ndarray:
    """The floor: uniform noise clips, uint8 [n, F, H, W, 3] (grey, like the digits)."""
    grey = np.random.default_rng(seed).integers(0, 256, (n, frames, size, size, 1), dtype=np.uint8)
    return np.repeat(grey, 3, axis=-1)


@dataclass
class Tracked:
    """Real clips with their true digit path, every frame kept (not re-timed), at the model's size."""
    clips: np.ndarray            # uint8 [N, L, S, S, 3]
    centers: np.ndarray          # float [N, L, 2]: the true (x, y) per frame at size S
    owner: list[int]             # the prompt of each clip
    truth: str                   # "manifest" where every clip's row had centres, else "centroid track"
    skipped: dict[str, int]      # clips left out and why: broken GIF, too short, path that does not fit

    def digits(self, prompts: list[Prompt]) -> list[int]:
        return [prompts[i].digit for i in self.owner]

    def directions(self, prompts: list[Prompt]) -> list[str]:
        return [prompts[i].direction for i in self.owner]


def load_tracked(prompts: list[Prompt], per_prompt: int, size: int, min_frames: int) -> Tracked:
    """Up to ``per_prompt`` real clips per prompt whose straight captioned path fits the frame, with their
    true centres; clips longer than the shortest are cut to it so they stack. Raises ValueError if none."""
    clips, centers, owner, sources = [], [], [], []
    skipped = {"broken": 0, "short": 0, "unfit": 0}
    for i, p in enumerate(prompts):
        taken = 0
        for path, truth in zip(p.real_files, p.real_centers or [None] * len(p.real_files)):
            if taken == per_prompt:
                break
            try:
                clip = _rgb(load_gif(path))
            except ValueError:
                skipped["broken"] += 1
                continue
            if len(clip) < min_frames:
                skipped["short"] += 1
                continue
            track = (scale_track(np.asarray(truth, np.float64), clip.shape[2], size)
                     if truth is not None and len(truth) == len(clip) else None)
            clip = resize_frames(clip[None], (size, size))[0]
            if track is None:  # rows from before the manifest kept centres: the real frames' own centroids
                track = centroid_track(clip)
            if not path_fits(track, p.direction, size):
                skipped["unfit"] += 1  # bounced or left the frame: its caption is not true of every frame
                continue
            clips.append(clip)
            centers.append(track)
            owner.append(i)
            sources.append(truth is not None)
            taken += 1
    if not clips:
        raise ValueError(f"no real clip of at least {min_frames} frames whose path fits the frame "
                         f"(skipped: {', '.join(f'{k} {v}' for k, v in skipped.items())})")
    length = min(len(c) for c in clips)
    return Tracked(np.stack([c[:length] for c in clips]), np.stack([t[:length] for t in centers]), owner,
                   "manifest" if all(sources) else "centroid track", skipped)
