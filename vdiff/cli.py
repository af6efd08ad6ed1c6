"""Shared command-line pieces of vdiff's commands: one-line errors and the --threshold value."""
from __future__ import annotations

import argparse
import sys


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes print one line and exit with status 2 (no usage block)."""

    def error(self, message: str) -> None:
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def parse_threshold(text: str, extra: tuple[str, ...] = ()) -> float | str | None:
    """``--threshold``: a quantile in (0, 1] (dynamic thresholding), ``none``/``static`` (clip x0 to
    [-1, 1]: returned as None), or one of ``extra`` passed through as it is (e.g. ``config``)."""
    if text in extra:
        return text
    if text.lower() in ("none", "static"):
        return None
    choices = "a quantile in (0, 1], 'none'" + "".join(f", '{e}'" for e in extra)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--threshold must be {choices}; got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"--threshold must be {choices}; got {text!r}")
    return value
