"""The command-line rule every command follows: a usage mistake is one line and exit status 2."""
from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake prints ``PROG: error: MESSAGE (see --help)`` on one line and exits 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
