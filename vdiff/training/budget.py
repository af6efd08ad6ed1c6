"""When a run ends, in one place: one meaning per budget word.

* ``max_steps``: the most optimizer steps the run takes (the config's, or ``--max-steps``).
* ``max_minutes``: the wall-clock limit of this process's run (None: no limit).
* ``deadline_step``: the step the time limit is expected at. Only a schedule that must know its last
  step ahead (``lr_schedule="linear_budget"``) asks for it: at each share of the limit in ``ESTIMATE_AT``
  the steps per second so far (from the end of the first step, which carries start-up costs, and
  including the sample grids and checkpoints written so far) fix it again. The first estimate comes
  early, so the decay starts at once; the later ones correct it where the speed changes during a run
  (another job on a shared CPU). It is saved in the checkpoint, so a resumed run keeps it, makes no
  new one and ends there (a resumed run gets a new ``max_minutes``, but the schedule has no steps left
  after its end).
* ``end_step``: the step the run is planned to end at, ``min(max_steps, deadline_step)``.
"""
from __future__ import annotations

from typing import Any

ESTIMATE_AT = (0.03, 0.1, 0.25, 0.5)  # shares of the time limit at which the deadline step is (re)estimated
MIN_PROBE_STEPS = 5                   # each estimate measures at least this many steps


class Budget:
    """A run's step and time limits, and the deadline step estimated from its speed."""

    def __init__(self, max_steps: int, max_minutes: float | None, *, estimate_deadline: bool) -> None:
        self.max_steps, self.max_minutes = int(max_steps), max_minutes
        self.estimate_deadline = estimate_deadline and max_minutes is not None
        self.deadline_step: int | None = None
        self.estimates = 0                       # how many of ESTIMATE_AT are done
        self._probe: tuple[float, int] | None = None

    @property
    def end_step(self) -> int:
        return self.max_steps if self.deadline_step is None else min(self.max_steps, self.deadline_step)

    def over_time(self, elapsed_minutes: float) -> bool:
        return self.max_minutes is not None and elapsed_minutes >= self.max_minutes

    def reached_deadline_step(self, step: int) -> bool:
        """True once a deadline estimate exists and ``step`` has reached it."""
        return self.deadline_step is not None and step >= self.deadline_step

    def needs_estimate(self) -> bool:
        return self.estimate_deadline and self.estimates < len(ESTIMATE_AT)

    def propose(self, step: int, now: float, start: float) -> int | None:
        """The estimated deadline step when the next share of the time limit is measured, else None (call
        after each step, then ``accept`` what it returns: in a multi-process run, what the main process returned)."""
        if self._probe is None:
            self._probe = (now, step)
            return None
        t0, s0 = self._probe
        limit_s = self.max_minutes * 60
        if now - start < ESTIMATE_AT[self.estimates] * limit_s or step - s0 < MIN_PROBE_STEPS or now <= t0:
            return None
        rate = (step - s0) / (now - t0)
        return step + round(rate * max(start + limit_s - now, 0.0))

    def accept(self, deadline_step: int) -> None:
        self.deadline_step, self.estimates = deadline_step, self.estimates + 1

    def state_dict(self) -> dict[str, Any]:
        return {"deadline_step": self.deadline_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.deadline_step = state.get("deadline_step")
        if self.deadline_step is not None:  # a resumed run's clock says nothing about the saved run's speed
            self.estimates = len(ESTIMATE_AT)


def saved_budget(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's budget state; checkpoints written before ``Budget`` kept it as ``lr_schedule.budget_steps``."""
    if "budget" in checkpoint:
        return checkpoint["budget"]
    return {"deadline_step": checkpoint.get("lr_schedule", {}).get("budget_steps")}
