"""Own videos (mp4/mov/webm/avi...) -> pairs, and the clip-writing loop MSR-VTT shares with it."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from .clips import VIDEO_EXTENSIONS, default_workers, extract_clip, parallel_map
from .pairs import PairsWriter, UserError, safe_name


@dataclass
class VideoItem:
    """One video to convert: pair name(s), the file, and its captions (None: ask caption_fn)."""
    name: str
    path: Path
    captions: list[str] | None = None


def _extract(item: VideoItem, **kwargs) -> tuple[VideoItem, np.ndarray | None, str | None]:
    try:
        return item, extract_clip(item.path, **kwargs), None
    except ValueError as exc:
        return item, None, str(exc)


def write_video_pairs(writer: PairsWriter, items: list[VideoItem], *, size: int, frames: int, fps: float,
                      start: float = 0.0, duration: float | None = None, workers: int | None = None,
                      caption_fn: Callable[[Path, np.ndarray], str] | None = None, progress: bool = True,
                      desc: str = "videos") -> dict:
    """Extract each item's clip (``workers`` at a time) and write one pair per caption; returns the report.

    An item with several captions gives pairs <name>_c00, <name>_c01, ... from one decode.
    """
    from tqdm.auto import tqdm

    def names(item: VideoItem) -> list[str]:
        n = len(item.captions) if item.captions else 1
        return [item.name] if n == 1 else [f"{item.name}_c{k:02d}" for k in range(n)]

    todo = [it for it in items if not all([writer.done(n) for n in names(it)])]
    work = partial(_extract, size=size, frames=frames, fps=fps, start=start, duration=duration)
    with writer:
        for item, clip, error in tqdm(parallel_map(work, todo, workers or default_workers()), total=len(todo),
                                      desc=desc, disable=not progress):
            if clip is None:
                writer.skip(item.name, error or "undecodable video")
                continue
            try:
                captions = item.captions or [caption_fn(item.path, clip) if caption_fn else ""]
            except ValueError as exc:
                writer.skip(item.name, str(exc))
                continue
            for name, caption in zip(names(item), captions):
                writer.write(name, clip, caption, video=item.path.name)
    return writer.finish()


def find_videos(src: Path) -> list[Path]:
    """Video files under ``src`` (recursively), sorted for a deterministic order; hidden files skipped."""
    return sorted(p for p in Path(src).rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(src).parts))


def check_folders(src: str | Path, out: str | Path) -> tuple[Path, Path]:
    """--src must be a folder and --out must not be it (writing there could overwrite inputs)."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise UserError(f"--src {src} is not a folder")
    if out.resolve() == src.resolve():
        raise UserError("--out must be a different folder from --src (inputs are never overwritten)")
    return src, out


def prepare_videos(src: str | Path, out: str | Path, *, caption: str = "auto", size: int = 64, frames: int = 16,
                   fps: float = 8, start: float = 0.0, duration: float | None = None, limit: int | None = None,
                   workers: int | None = None, captioner: Callable[[np.ndarray], str] | None = None,
                   caption_model: str | None = None, overwrite: bool = False, progress: bool = True) -> dict:
    """Own videos in ``src`` -> pairs in ``out``; captions per ``caption`` mode (see captions.make_caption_fn)."""
    from .captions import make_caption_fn

    src, out = check_folders(src, out)
    paths = find_videos(src)[:limit]
    if not paths:
        raise UserError(f"no video files ({', '.join(VIDEO_EXTENSIONS)}) under {src}")
    caption_fn = make_caption_fn(caption, captioner, caption_model)
    settings = {"size": size, "frames": frames, "fps": fps, "start": start, "duration": duration, "caption": caption}
    writer = PairsWriter(out, "videos", fps=fps, overwrite=overwrite, settings=settings)
    items = [VideoItem(safe_name(str(p.relative_to(src).with_suffix("")).replace("/", "__")), p) for p in paths]
    return write_video_pairs(writer, items, size=size, frames=frames, fps=fps, start=start, duration=duration,
                             workers=workers, caption_fn=caption_fn, progress=progress)
