"""Train from the runtime's own disk: the dataset copied there once, the run folder brought there to resume.

    data = cache_dataset(drive_data, local / "data")        # one bulk copy, checked complete
    run = prepare_local_run(drive_run, local / "runs")      # the newest complete checkpoint, local or Drive's
    Trainer(config, data, run, callbacks=[RunMirror(run, drive_run)]).fit()   # vdiff.apps.drive_sync

Decoding thousands of GIFs through Colab's Drive mount is slow and fails when the mount drops; one
copy with many reads in flight, then training from local files, reads Drive once. ``python -m
vdiff.train --data-cache DIR --run-cache DIR`` does the same anywhere (a network disk, a slow NFS).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from clipkit.manifest import MANIFEST, REPORT

from ..core.run_folder import RunFolder, checkpoint_step
from .file_copy import CopyError, complete_checkpoint, copy_file, files_under, same_file

COPY_STAMP = ".vdiff_copy.json"   # in a finished copy: the source and its files' sizes, written last
COPY_WORKERS = 16                 # reads in flight: Drive answers each small read slowly, many at once fast
RETRIES = 3


def local_name(source: str | Path) -> str:
    """``<name>-<8 hex>``: a local folder per source folder, so two sources with one name never share one."""
    path = Path(source).expanduser().absolute()
    return f"{path.name}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


def dataset_files(folder: Path) -> dict[str, list[int]]:
    """The files of a pairs folder training reads (``*.gif``, ``*.txt``, the manifest, the report), each
    with [size, modification time in ns]; the rest of the folder is not copied."""
    wanted = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name) if folder.is_dir() else ():
        if entry.is_file() and (entry.suffix in (".gif", ".txt") or entry.name in (MANIFEST, REPORT)):
            stat = entry.stat()
            wanted[entry.name] = [stat.st_size, stat.st_mtime_ns]
    return wanted


def cache_dataset(source: str | Path, cache_root: str | Path, *, workers: int = COPY_WORKERS,
                  progress: bool = True) -> Path:
    """The pairs folder ``source`` copied under ``cache_root``: reused while its files are unchanged, else
    copied again (into a hidden folder, checked file by file against the source's sizes, then renamed in).
    CopyError in one line when files cannot be read after retries or the copy is incomplete."""
    from tqdm.auto import tqdm

    source = Path(source)
    wanted = dataset_files(source)
    if not wanted:
        raise CopyError(f"no GIF + caption pairs in {source} to copy")
    dest = Path(cache_root) / local_name(source)
    stamp = {"source": str(source.absolute()), "files": wanted}
    if _read_stamp(dest) == stamp:
        print(f"the data's local copy in {dest} is up to date ({len(wanted)} files)")
        return dest
    partial = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)

    def copy(name: str) -> str | None:
        """None once copied, else the last attempt's error."""
        error = None
        for _ in range(RETRIES):
            try:
                copy_file(source / name, partial / name)
                return None
            except OSError as e:
                error = f"{type(e).__name__}: {e}"
        return error

    total = sum(size for size, _ in wanted.values())
    failed = {}
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(total=total, unit="B", unit_scale=True,
                                                             desc=f"copying {source.name}", disable=not progress) as bar:
        for name, error in zip(wanted, pool.map(copy, wanted)):
            if error is not None:
                failed[name] = error
            bar.update(wanted[name][0])
    short = [n for n, (size, _) in wanted.items()
             if not (partial / n).is_file() or (partial / n).stat().st_size != size]
    if short:
        first = failed.get(short[0], "missing or short after copying")
        raise CopyError(f"copying {source} to {dest} left {len(short)} of {len(wanted)} files incomplete "
                        f"({short[0]}: {first}); Drive may have disconnected: run this again")
    (partial / COPY_STAMP).write_text(json.dumps(stamp), encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    print(f"copied {len(wanted)} files ({total / 1e6:.1f} MB) of {source} to {dest}")
    return dest


def prepare_local_run(remote: str | Path, cache_root: str | Path) -> Path:
    """The local run folder to train in for the run folder ``remote`` (on Drive): where the newest complete
    checkpoint is on ``remote`` and not newer locally, that checkpoint and the run's other files (config,
    log, weights, samples) are copied down; a local folder at least as new is kept as it is. Older
    checkpoints stay on ``remote`` only. Returns the local folder (made when missing)."""
    remote, local = RunFolder(remote), RunFolder(Path(cache_root) / local_name(remote))
    local.path.mkdir(parents=True, exist_ok=True)
    # Drive's files are read by name only: a name there is whole (each copy is renamed in when complete)
    # unless Drive itself broke it, which the check after copying it down catches.
    mine, theirs = newest_step(local), checkpoint_step(remote.checkpoints()[-1]) if remote.checkpoints() else None
    if theirs is None or (mine is not None and mine >= theirs):
        if mine is not None:
            print(f"resuming from the local disk's checkpoint at step {mine} in {local.path}"
                  + (f" (Drive's newest is step {theirs})" if theirs is not None else ""))
        return local.path
    try:
        for rel in files_under(remote.path):
            if rel.parts[0] != remote.checkpoint_dir.name and not same_file(remote.path / rel, local.path / rel):
                copy_file(remote.path / rel, local.path / rel)
        for path in reversed(remote.checkpoints()):  # the newest whose copy is whole
            target = local.checkpoint_dir / path.name
            copy_file(path, target, durable=True)
            if complete_checkpoint(target):
                print(f"resuming from {remote.path}'s checkpoint at step {checkpoint_step(path)} "
                      f"(copied to {local.path})")
                return local.path
            target.unlink()
    except OSError as e:
        raise CopyError(f"copying the run {remote.path} to the local disk failed ({type(e).__name__}: {e}); "
                        f"Drive may have disconnected: run this again") from None
    return local.path


def newest_step(run: RunFolder) -> int | None:
    """The step of the run's newest whole checkpoint (``complete_checkpoint``), or None."""
    for path in reversed(run.checkpoints()):
        if complete_checkpoint(path):
            return checkpoint_step(path)
    return None


def _read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / COPY_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
