"""Copies between the runtime's disk and Google Drive that are whole or absent, never half.

Colab's Drive mount reads thousands of small files slowly and fails reads and writes when it
disconnects mid-run (googlecolab/colabtools#3892, #2143, #3950). Every copy here goes to a hidden
temp file beside its destination (``clipkit.atomic``: ``.<name>.<random>.tmp``, a name no reader
takes for data), is checked to hold every byte of its source, and only then is renamed in; it keeps
the source's modification time, so ``same_file`` can skip a file that is already current.
"""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from clipkit.atomic import atomic_write

# Drive's client keeps modification times to the millisecond (its API's modifiedTime); a copy whose
# time is off by more than this is copied again, which is only slower, never wrong.
MTIME_SLACK_S = 0.002


class CopyError(ValueError):
    """A copy that could not be completed: one line (IPython shows only it; a command exits with status 2)."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for a custom traceback
        return [f"Stopped: {self}"]


def copy_file(src: str | Path, dst: str | Path, *, durable: bool = False) -> Path:
    """Copy ``src`` to ``dst`` atomically (OSError when the copy comes out short); returns ``dst``."""
    src, dst = Path(src), Path(dst)
    stat = src.stat()

    def write(tmp: str) -> None:
        shutil.copyfile(src, tmp)
        copied = os.path.getsize(tmp)
        # Short: a read ended early, or the source was emptied under the copy (a prune). Longer is a log
        # that grew meanwhile: its start is whole, and the next copy takes the rest.
        if copied < stat.st_size:
            raise OSError(f"copied {copied} of {stat.st_size} bytes of {src}")
        os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    return atomic_write(dst, write, durable=durable)


def same_file(src: Path, dst: Path) -> bool:
    """True when ``dst`` is a copy of ``src`` as it is now (same size and modification time)."""
    try:
        a, b = src.stat(), dst.stat()
    except OSError:
        return False
    return a.st_size == b.st_size and abs(a.st_mtime - b.st_mtime) <= MTIME_SLACK_S


def complete_checkpoint(path: Path) -> bool:
    """True when a checkpoint file is whole: torch.save writes a zip archive, and every member's CRC must
    match (reads the file once, unpickles nothing)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def files_under(folder: Path) -> list[Path]:
    """Every file below ``folder``, as paths relative to it, leaving out hidden ones (temp files of writes
    in progress); [] when the folder does not exist."""
    if not folder.is_dir():
        return []
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root, f).relative_to(folder) for f in files if not f.startswith(".")]
    return sorted(found)
