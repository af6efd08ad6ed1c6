"""Check a pairs folder: every GIF has a readable caption and decodes; sizes and frame counts summarised."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from .captions import read_sibling_caption
from .gif_folder import read_gif
from .pairs import UserError


def validate(folder: str | Path) -> dict[str, Any]:
    """Summary of a pairs folder: {"pairs", "problems": [{name, problem}], "sizes", "frames", ...}.

    A pair is good when <name>.gif decodes and <name>.txt is UTF-8; an empty caption is counted
    (it is legal for unconditional training) but is not a problem. Files are only read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    gifs = sorted(p for p in folder.glob("*.gif") if not p.name.startswith("."))
    problems: list[dict[str, str]] = []
    sizes: Counter = Counter()
    frame_counts: Counter = Counter()
    empty = 0
    for gif in gifs:
        txt = gif.with_suffix(".txt")
        if not txt.is_file():
            problems.append({"name": gif.stem, "problem": "missing caption: no .txt beside the GIF"})
            continue
        try:
            read_sibling_caption(gif)
        except ValueError as exc:
            if "is empty" not in str(exc):
                problems.append({"name": gif.stem, "problem": str(exc)})
                continue
            empty += 1
        try:
            frames, _ = read_gif(gif)
        except ValueError as exc:
            problems.append({"name": gif.stem, "problem": str(exc)})
            continue
        sizes[f"{frames[0].width}x{frames[0].height}"] += 1
        frame_counts[len(frames)] += 1
    orphans = sorted(p.stem for p in folder.glob("*.txt") if not p.with_suffix(".gif").exists())
    return {"folder": str(folder), "gifs": len(gifs), "pairs": len(gifs) - len(problems), "problems": problems,
            "sizes": dict(sizes.most_common()), "frames": {str(k): v for k, v in sorted(frame_counts.items())},
            "empty_captions": empty, "captions_without_gif": len(orphans)}


def format_summary(result: dict[str, Any]) -> str:
    """The table ``python -m data_prep validate`` prints."""
    rows = [("folder", result["folder"]), ("GIFs", result["gifs"]), ("good pairs", result["pairs"]),
            ("problems", len(result["problems"])),
            ("sizes", ", ".join(f"{k} ({v})" for k, v in result["sizes"].items()) or "-"),
            ("frames per GIF", ", ".join(f"{k} ({v})" for k, v in result["frames"].items()) or "-"),
            ("empty captions", result["empty_captions"]), ("captions without GIF", result["captions_without_gif"])]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines += [f"  {p['name']}: {p['problem']}" for p in result["problems"][:20]]
    if len(result["problems"]) > 20:
        lines.append(f"  ... and {len(result['problems']) - 20} more")
    return "\n".join(lines)
