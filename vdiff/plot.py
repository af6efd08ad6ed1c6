"""``python -m vdiff.plot RUN_DIR``: draw a run's loss curves into RUN_DIR/loss.png (``vdiff.apps.plot``)."""
from __future__ import annotations

import sys

from .apps.plot import plot_losses, read_log

__all__ = ["plot_losses", "read_log", "main"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m vdiff.plot RUN_DIR  (writes RUN_DIR/loss.png)", file=sys.stderr)
        return 2
    try:
        print(plot_losses(argv[0]))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
