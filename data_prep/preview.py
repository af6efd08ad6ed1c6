"""A contact sheet PNG of a pairs folder: a few frames of each clip with its caption beneath."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from clipkit.sheet import contact_sheet

from .captions import read_sibling_caption
from .clips import resize_crop
from .gif_folder import read_gif
from .pairs import UserError


def preview(folder: str | Path, out: str | Path | None = None, *, num: int = 16, frames: int = 4,
            seed: int | None = None) -> Path:
    """Write a contact sheet of ``num`` pairs (the first ones, or a seeded random choice) and return its path.

    Clips of other sizes are resized to the first clip's size; broken pairs are left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    gifs = sorted(p for p in folder.glob("*.gif") if p.with_suffix(".txt").exists() and not p.name.startswith("."))
    if seed is not None:
        gifs = [gifs[i] for i in sorted(np.random.default_rng(seed).permutation(len(gifs))[:num])]
    clips, captions, size = [], [], None
    for gif in gifs:
        if len(clips) >= num:
            break
        try:
            images, _ = read_gif(gif)
            caption = read_sibling_caption(gif) or ""
        except ValueError:
            continue
        size = size or min(images[0].size)
        clips.append(np.stack([np.asarray(resize_crop(im, size)) for im in images]))
        captions.append(f"{gif.stem}: {caption}")
    if not clips:
        raise UserError(f"no readable pairs (<name>.gif + <name>.txt) in {folder}")
    # Clips may differ in frame count: pick `frames` from each before stacking rows.
    rows = [c[np.linspace(0, len(c) - 1, frames).round().astype(int)] for c in clips]
    return contact_sheet(rows, captions, Path(out) if out else folder / "preview.png", frames=frames)
