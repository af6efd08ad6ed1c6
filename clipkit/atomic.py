"""Atomic file writes, shared by data_prep, vdiff and gif_editor.

A writer goes to a temp file in the destination's folder and is renamed over the destination, so
a process killed at any point leaves the old file or the new one, never half of one.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], *, durable: bool = False,
                 suffix: str = ".tmp") -> Path:
    """Call ``write(tmp_path)``, then rename the temp file over ``path``; returns ``path``.

    ``durable=True`` also fsyncs the file and its folder, so the rename survives a power cut
    (checkpoints want this; a GIF in a batch does not need the cost). ``suffix`` ends the temp
    file's name: writers that pick a format from the name (ffmpeg) need the real extension there,
    while the default keeps a leftover temp file out of ``*.gif`` listings.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; the result is an ordinary file
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    try:  # makes the rename itself durable; not every OS or filesystem allows it
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
