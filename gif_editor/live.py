"""Debounced calls: the live preview renders once the controls have been still for a moment."""
from __future__ import annotations

import threading
from collections.abc import Callable


class Debouncer:
    """``trigger()`` (re)starts a timer; ``fn`` runs once ``delay`` seconds pass without another trigger.

    Runs never overlap (a lock), so a slow render and the next one queue up instead of racing on the
    widgets; ipykernel sends widget updates made from such a thread like any other.
    """

    def __init__(self, fn: Callable[[], object], delay: float = 0.35) -> None:
        self.fn, self.delay = fn, delay
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._running = threading.Lock()

    def trigger(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.delay, self._run)
            self._timer.daemon = True
            self._timer.start()

    def _run(self) -> None:
        with self._running:
            self.fn()

    def wait(self, timeout: float = 30.0) -> None:
        """Block until a pending run has finished (for scripts and tests)."""
        with self._lock:
            timer = self._timer
        if timer is not None:
            timer.join(timeout)
        if self._running.acquire(timeout=timeout):
            self._running.release()
