"""Copy a run trained on the local disk to its folder on Drive, while it trains: ``RunMirror``, a trainer callback.

After each checkpoint (and at the start, after sample grids and at the end) one pass copies to Drive
the newest checkpoint, then the inference weights, then the run's small files (config, log, samples,
the progress grid, TensorBoard's events); a pass that finds Drive current copies nothing. The passes
run on a thread of their own, so a slow or hung Drive never holds up a training step. When a pass
fails (Drive disconnected), training goes on on the local disk: the failure is said once, and the
next checkpoint, or a retry every ``retry_every_s`` seconds, copies the newest checkpoint when
Drive answers again.

Drive keeps what is deleted or replaced in its trash, counted against the quota for 30 days, so as in
``vdiff.training.checkpoint``: a checkpoint gets a new name, older ones beyond ``keep_last`` are
emptied before they are deleted, and the weights are replaced by staging (``replace_file``).
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..core.run_folder import RunFolder, checkpoint_step
from ..training.checkpoint import discard_leftovers, prune_checkpoints, replace_file
from ..training.trainer import Callback
from .file_copy import copy_file, files_under, same_file


class RunMirror(Callback):
    """Keeps ``remote`` (the run folder on Drive) a copy of ``local`` (the one the trainer writes).

    ``background=False`` runs each pass in the trainer's thread (tests, scripts); ``wait()`` blocks until
    the passes asked for so far are done. ``remote_step`` is the newest checkpoint step on Drive.
    """

    def __init__(self, local: str | Path, remote: str | Path, *, keep_last: int | None = None,
                 retry_every_s: float = 60.0, background: bool = True, end_timeout_s: float = 600.0) -> None:
        self.local, self.remote = RunFolder(local), RunFolder(remote)
        self.keep_last, self.retry_every_s, self.end_timeout_s = keep_last, retry_every_s, end_timeout_s
        self.background = background
        self.failing, self.last_error, self.last_try = False, None, -float("inf")
        self.remote_step: int | None = None
        self._cv = threading.Condition()
        self._asked = self._done = 0
        self._thread: threading.Thread | None = None

    # --- one pass -------------------------------------------------------------------------------
    def sync(self) -> int | None:
        """Copy what Drive lacks (OSError when Drive fails); returns the newest checkpoint step on Drive."""
        local, remote = self.local, self.remote
        newest = local.checkpoints()[-1:] if local.checkpoint_dir.is_dir() else []
        for path in newest:
            target = remote.checkpoint_dir / path.name
            if not same_file(path, target):
                discard_leftovers(remote.checkpoint_dir)  # the temp file of a copy cut off by a disconnect
                copy_file(path, target, durable=True)
            if self.keep_last:
                prune_checkpoints(remote.checkpoint_dir, self.keep_last)
        for rel in files_under(local.path):
            if rel.parts[0] == local.checkpoint_dir.name:
                continue
            src, dst = local.path / rel, remote.path / rel
            if same_file(src, dst):
                continue
            if rel.parts[0] == local.weights_dir.name and rel.suffix == ".safetensors":
                replace_file(dst, lambda tmp, src=src: copy_file(src, tmp))  # replaced, never renamed over
            else:
                copy_file(src, dst)
        steps = [checkpoint_step(p) for p in remote.checkpoints()]
        self.remote_step = steps[-1] if steps else None
        return self.remote_step

    def attempt(self) -> bool:
        """One pass that reports rather than raises: the first failure is said once, the recovery too."""
        self.last_try = time.monotonic()
        try:
            try:
                step = self.sync()
            except OSError:  # once more at once: a local file replaced under the copy is not Drive's fault
                step = self.sync()
        except OSError as e:
            self.last_error = f"{type(e).__name__}: {e}"
            if not self.failing:
                print(f"warning: copying the run to {self.remote.path} failed ({self.last_error}); training goes "
                      f"on on the local disk ({self.local.path}), and the newest checkpoint is copied when Drive "
                      f"answers again", file=sys.stderr)
            self.failing = True
            return False
        if self.failing:
            print(f"Drive answers again: {self.remote.path} has the checkpoint of step {step}", file=sys.stderr)
        self.failing, self.last_error = False, None
        return True

    # --- passes on their own thread ---------------------------------------------------------------
    def request(self) -> None:
        """Ask for a pass; several asked while one runs make one more pass."""
        if not self.background:
            self.attempt()
            return
        with self._cv:
            self._asked += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="vdiff-drive-mirror", daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def _work(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._asked > self._done)
                target = self._asked
            try:
                self.attempt()
            finally:
                with self._cv:
                    self._done = target
                    self._cv.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every pass asked for so far has run; False when ``timeout`` passed first."""
        with self._cv:
            target = self._asked
            return self._cv.wait_for(lambda: self._done >= target, timeout)

    # --- the trainer's hooks ------------------------------------------------------------------------
    def on_start(self, trainer: Any) -> None:
        if self.keep_last is None:
            self.keep_last = trainer.config.keep_last
        self.request()  # the config and, for a resumed run, a checkpoint newer than Drive's

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        if self.failing and time.monotonic() - self.last_try >= self.retry_every_s:
            self.request()

    def on_samples(self, trainer: Any, step: int, paths: list[Path]) -> None:
        self.request()

    def on_save(self, trainer: Any, step: int, path: Path) -> None:
        self.request()

    def on_end(self, trainer: Any, summary: dict[str, Any]) -> None:
        self.finish()

    def finish(self) -> bool:
        """After the passes asked for, one more (the log's last lines); True when Drive has the newest checkpoint."""
        if not self.wait(self.end_timeout_s):
            print(f"warning: Drive did not answer in {self.end_timeout_s:.0f} s; the newest checkpoint is on the "
                  f"local disk in {self.local.path}", file=sys.stderr)
            return False
        if not self.attempt():
            print(f"the newest checkpoint is only on the local disk in {self.local.path}: train again when "
                  f"Drive answers (the run resumes from there and copies it)", file=sys.stderr)
            return False
        return True

