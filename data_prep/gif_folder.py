"""A folder of GIFs (crawled or own) -> pairs: filtered, de-duplicated, resampled to the target frames and size.

Dropped and counted: non-GIF and truncated files, GIFs smaller than ``min_size`` on either side,
single-frame GIFs, GIFs with an unstable frame rate (see ``delay_spread``; the report states the
threshold), exact duplicates (same bytes) and re-encoded copies (perceptual hash of three frames).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import clipkit.gif
from clipkit.gif import MAX_GIF_PIXELS, shown_delay_ms

from .clips import resize_crop, sample_by_time
from .pairs import PairsWriter, UserError, safe_name
from .videos import check_folders

_NOT_MEDIA = {".txt", ".json", ".jsonl", ".csv", ".md"}
GIPHY_ATTRIBUTION = "giphy.jsonl"


def read_gif(path: Path, max_pixels: int = MAX_GIF_PIXELS) -> tuple[list[Image.Image], list[int]]:
    """Every frame (RGB) and the delay it is shown for in ms (a stored 0 plays as 100). ValueError if broken."""
    gif = clipkit.gif.read_gif(path, max_pixels=max_pixels)
    return gif.frames, [shown_delay_ms(d) for d in gif.durations]


def delay_spread(delays: list[int]) -> float:
    """How unsteady the frame rate is: 0 for a steady one.

    GIF optimisers (gifsicle, ezgif) merge identical consecutive frames into one frame with the sum
    of their delays, so a steady 100 ms animation can be stored as 300/100/400 ms. When every delay
    is a whole multiple of the shortest, the clip is steady on its display timeline (spread 0);
    otherwise the spread is (max - min) / median of the delays.
    """
    step = min(delays)
    if step > 0 and all(d % step == 0 for d in delays):
        return 0.0
    return float((max(delays) - min(delays)) / np.median(delays))


def perceptual_hash(frames: list[Image.Image]) -> np.ndarray:
    """64-bit pHash (imagehash) of the first, middle and last frame, as uint64 [3]."""
    import imagehash

    picks = [frames[0], frames[len(frames) // 2], frames[-1]]
    return np.array([int(str(imagehash.phash(f)), 16) for f in picks], dtype=np.uint64)


def _bitcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    return np.array([bin(int(v)).count("1") for v in x.ravel()]).reshape(x.shape)


class Deduper:
    """Remembers kept GIFs by exact hash and perceptual hash; a near copy is within ``max_bits`` per frame on average.

    Unrelated clips differ in ~32 of 64 bits; re-encoded (resized, re-quantised) copies in a few.
    """

    def __init__(self, max_bits: int = 8):
        self.max_bits = max_bits
        self.exact: dict[str, str] = {}
        self.names: list[str] = []
        self.hashes = np.zeros((0, 3), np.uint64)

    def add(self, name: str, sha: str, phash: np.ndarray) -> None:
        self.exact[sha] = name
        self.names.append(name)
        self.hashes = np.vstack([self.hashes, phash[None]])

    def find(self, sha: str, phash: np.ndarray | None = None) -> str | None:
        if sha in self.exact:
            return self.exact[sha]
        if phash is None or not len(self.names):
            return None
        # Averaged over the three frames: one frame re-quantised harder than the others must not hide a copy.
        close = _bitcount(self.hashes ^ phash[None]).mean(axis=1) <= self.max_bits
        return self.names[int(np.argmax(close))] if close.any() else None


def _attribution(src: Path) -> dict[str, dict]:
    """GIPHY attribution rows (written by data_prep.giphy) keyed by file name."""
    path = src / GIPHY_ATTRIBUTION
    rows = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                rows[row["file"]] = {k: v for k, v in row.items() if k != "file"}
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return rows


def prepare_gif_folder(src: str | Path, out: str | Path, *, caption: str = "auto", min_size: int = 32,
                       size: int = 64, frames: int = 16, fps: float = 8, max_delay_spread: float = 0.5,
                       dedup_bits: int = 8, limit: int | None = None,
                       captioner: Callable[[np.ndarray], str] | None = None, caption_model: str | None = None,
                       giphy_query: str | None = None, giphy_limit: int = 25, overwrite: bool = False,
                       progress: bool = True) -> dict:
    """GIFs under ``src`` -> pairs in ``out`` at ``size`` px and ``frames`` frames sampled at ``fps``.

    ``caption``: auto (sibling .txt, else the cleaned file name), txt, filename, model (BLIP) or none.
    ``giphy_query`` first downloads up to ``giphy_limit`` GIFs from GIPHY into ``src`` with the user's
    key ($GIPHY_API_KEY); attribution is kept in the manifest.
    """
    from tqdm.auto import tqdm

    from .captions import make_caption_fn

    if min_size < 1 or size < 1 or frames < 1:
        raise UserError("--min-size, --size and --frames must be positive")
    if giphy_query:
        from .giphy import download_giphy
        Path(src).mkdir(parents=True, exist_ok=True)
        download_giphy(giphy_query, src, limit=giphy_limit)
    src, out = check_folders(src, out)
    caption_fn = make_caption_fn(caption, captioner, caption_model)
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() not in _NOT_MEDIA
                   and not any(part.startswith(".") for part in p.relative_to(src).parts))[:limit]
    if not files:
        raise UserError(f"no files to read under {src}")
    settings = {"size": size, "frames": frames, "fps": fps, "min_size": min_size,
                "max_delay_spread": max_delay_spread, "dedup_bits": dedup_bits, "caption": caption}
    writer = PairsWriter(out, "gif_folder", fps=fps, overwrite=overwrite, settings=settings)
    dedup = Deduper(dedup_bits)
    if not overwrite:  # pairs kept by an earlier run still count as originals
        for row in writer.rows.values():
            if row.get("source") == "gif_folder" and row.get("prep_id") == writer.prep_id and "phash" in row:
                dedup.add(row["name"], row["sha256"], np.array([int(h, 16) for h in row["phash"]], np.uint64))
    credits = _attribution(src)

    with writer:
        for path in tqdm(files, desc="gifs", disable=not progress):
            rel = path.relative_to(src)
            name = safe_name(str(rel.with_suffix("")).replace("/", "__"))
            if writer.done(name):
                continue
            try:
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                writer.skip(name, f"unreadable file: {exc.__class__.__name__}")
                continue
            original = dedup.find(sha)
            if original:
                writer.skip(name, f"duplicate: same bytes as {original}")
                continue
            try:
                gif, delays = read_gif(path)
                w, h = gif[0].size
                if min(w, h) < min_size:
                    raise ValueError(f"too small: {w}x{h} < {min_size} px")
                if len(gif) < 2:
                    raise ValueError("single frame: a still image, not a clip")
                spread = delay_spread(delays)
                if spread > max_delay_spread:
                    raise ValueError(f"unstable frame rate: delays {min(delays)}-{max(delays)} ms, spread {spread:.2f} "
                                     f"> {max_delay_spread}")
                phash = perceptual_hash(gif)
                original = dedup.find(sha, phash)
                if original:
                    raise ValueError(f"duplicate: looks like {original} (perceptual hash)")
                clip = np.stack([np.asarray(resize_crop(gif[i], size)) for i in sample_by_time(delays, frames, fps)])
                text = caption_fn(path, clip)
            except ValueError as exc:
                writer.skip(name, str(exc))
                continue
            dedup.add(name, sha, phash)
            writer.write(name, clip, text, file=str(rel), sha256=sha, phash=[f"{int(v):016x}" for v in phash],
                         **credits.get(rel.name, {}))
    return writer.finish()
