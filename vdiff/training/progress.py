"""The progress grid: the EMA samples of a run over its steps, ``samples/progress.png``.

Every sample step renders the config's ``sample_prompts`` with the config's seed (the trainer's
``sample_grids``), so the rows differ only by what the model learned in between: one row per sample
step, for each prompt a few frames spread over its clip. The grid is rebuilt from the sample GIFs
already in the run folder, so a resumed run (or one copied back from Drive) keeps its earlier rows.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from clipkit.atomic import atomic_write
from clipkit.fonts import load_font
from clipkit.gif import read_gif_array

from ..core.run_folder import RunFolder

# The sample GIFs' layout: clipkit.sheet.gif_grid with its default 2 px padding and the 4 clips a row
# that vdiff.training.steps.sample_grid_gifs asks for (tests/test_progress.py writes one that way).
GRID_PAD, GRID_COLS = 2, 4
FRAMES_SHOWN = 4       # frames of each clip in a row: its first, and three more spread over it
MIN_TILE = 64          # small clips are enlarged (nearest) to at least this many pixels
LABEL_W, HEADER_H, GAP = 96, 28, 8


def grid_clips(grid: np.ndarray, count: int, size: int) -> list[np.ndarray]:
    """The ``count`` clips [F, size, size, 3] of a sample grid GIF's frames [F, H, W, 3]; ValueError when the
    grid does not have the layout sample_grid_gifs writes."""
    cols = min(GRID_COLS, count)
    rows = -(-count // cols)
    want = (GRID_PAD + rows * (size + GRID_PAD), GRID_PAD + cols * (size + GRID_PAD))
    if grid.shape[1:3] != want:
        raise ValueError(f"a sample grid of {grid.shape[2]}x{grid.shape[1]} px is not {count} clips of {size} px")
    clips = []
    for i in range(count):
        top, left = GRID_PAD + (i // cols) * (size + GRID_PAD), GRID_PAD + (i % cols) * (size + GRID_PAD)
        clips.append(grid[:, top:top + size, left:left + size])
    return clips


def strip(clips: list[np.ndarray]) -> np.ndarray:
    """One row of the grid [h, w, 3]: each clip's ``FRAMES_SHOWN`` frames side by side, clips apart by a gap."""
    scale = max(1, -(-MIN_TILE // clips[0].shape[1]))
    cells = []
    for i, clip in enumerate(clips):
        picks = np.unique(np.linspace(0, len(clip) - 1, FRAMES_SHOWN).round().astype(int))
        frames = [np.kron(clip[k], np.ones((scale, scale, 1), dtype=np.uint8)) for k in picks]
        cells.append(np.concatenate([np.pad(f, ((0, 0), (0, 1), (0, 0)), constant_values=255) for f in frames], 1))
        if i < len(clips) - 1:
            cells.append(np.full((cells[-1].shape[0], GAP, 3), 255, dtype=np.uint8))
    return np.concatenate(cells, axis=1)


def progress_image(rows: list[tuple[int, np.ndarray]], prompts: list[str]) -> Image.Image:
    """The grid: a header with the prompts, then one labeled row per (step, strip)."""
    height, width = rows[0][1].shape[:2]
    image = Image.new("RGB", (LABEL_W + width, HEADER_H + len(rows) * (height + GAP)), "white")
    draw, font = ImageDraw.Draw(image), load_font(12)
    group = (width + GAP) // max(len(prompts), 1)
    for i, prompt in enumerate(prompts):
        draw.text((LABEL_W + i * group, 6), _fit(draw, prompt, font, group - GAP), fill="black", font=font)
    for r, (step, row) in enumerate(rows):
        top = HEADER_H + r * (height + GAP)
        image.paste(Image.fromarray(row), (LABEL_W, top))
        draw.text((6, top + height // 2 - 7), f"step {step:,}", fill="black", font=font)
    return image


def write_progress(run_folder: RunFolder, config: Any) -> Path | None:
    """Rebuild ``samples/progress.png`` from the run's EMA sample GIFs; None before the first one."""
    rows = []
    for step, path in run_folder.sample_files("ema"):
        try:
            clips = grid_clips(read_gif_array(path), len(config.sample_prompts), config.image_size)
        except (OSError, ValueError):
            continue  # a GIF cut short by a killed run, or one written under another config
        rows.append((step, strip(clips)))
    if not rows:
        return None
    buffer = io.BytesIO()
    progress_image(rows, list(config.sample_prompts)).save(buffer, format="PNG")
    data = buffer.getvalue()
    return atomic_write(run_folder.progress_file, lambda tmp: Path(tmp).write_bytes(data))


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."
