"""Where a clip's caption comes from, for sources without their own annotations (GIF folders, own videos)."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .pairs import UserError, clean_caption

CAPTION_MODES = ("auto", "txt", "filename", "model", "none")
_SEPARATORS = re.compile(r"[_\-.+]+")
_NOISE = re.compile(r"\b(?:gif|giphy|final|copy|\d{3,})\b|\(\d+\)", re.IGNORECASE)


def caption_from_filename(path: Path) -> str:
    """"cat_jumps-over-fence (2).gif" -> "cat jumps over fence": separators to spaces, counters dropped."""
    text = _SEPARATORS.sub(" ", Path(path).stem)
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)  # camelCase -> camel Case
    return clean_caption(_NOISE.sub(" ", text)).lower()


def read_sibling_caption(path: Path) -> str | None:
    """The caption in <stem>.txt beside the file; None if there is none. Raises ValueError if unreadable."""
    txt = Path(path).with_suffix(".txt")
    if not txt.is_file():
        return None
    try:
        text = clean_caption(txt.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"unreadable caption: {txt.name} ({exc.__class__.__name__})") from None
    if not text:
        raise ValueError(f"unreadable caption: {txt.name} is empty")
    return text


def make_caption_fn(mode: str, captioner: Callable[[np.ndarray], str] | None = None,
                    model_name: str | None = None, device: str | None = None
                    ) -> Callable[[Path, np.ndarray], str]:
    """A function (source path, frames) -> caption for ``mode``; raises ValueError to skip the item.

    auto: sibling .txt, else the cleaned file name; txt: sibling .txt only; filename: the cleaned
    file name; model: a captioning model (BLIP unless ``captioner`` is given); none: empty caption
    (for unconditional training).
    """
    if mode not in CAPTION_MODES:
        raise UserError(f"--caption must be one of {', '.join(CAPTION_MODES)}, got {mode!r}")
    if mode == "model" and captioner is None:
        from .captioning import BlipCaptioner
        captioner = BlipCaptioner(model_name or BlipCaptioner.DEFAULT_MODEL, device=device)

    def caption(path: Path, frames: np.ndarray) -> str:
        if mode == "none":
            return ""
        if mode == "model":
            return captioner(frames)
        if mode in ("auto", "txt"):
            text = read_sibling_caption(path)
            if text:
                return text
            if mode == "txt":
                raise ValueError(f"no caption: {Path(path).with_suffix('.txt').name} missing")
        text = caption_from_filename(path)
        if not text:
            raise ValueError(f"no caption: the file name {Path(path).name} has no words")
        return text

    return caption
