"""The learning rate of each training step (``Config.lr_schedule``).

Both schedules warm up linearly over ``warmup_steps`` exactly as diffusers' ``constant_with_warmup``
does (step s uses lr * s / warmup_steps, so the first step uses 0). Then:

* ``"constant"``: lr.
* ``"linear_budget"``: a linear decay from lr to ``lr_floor`` x lr at the run's last step (Li, Yumer
  and Ramanan, "Budgeted Training: Rethinking Deep Neural Network Training Under Resource
  Constraints", ICLR 2020: a linear decay that ends at the budget beats a schedule cut short). The
  last step is ``max_steps``, or with ``max_minutes`` the step the deadline is expected at: at each
  share of the time budget in ``ESTIMATE_AT`` the steps per second so far (from the end of the first
  step, which carries start-up costs, and including the sample grids and checkpoints written so far)
  fix it again. The first estimate comes early, so the decay starts at once; the later ones correct
  it where the speed changes during a run (another job on a shared CPU). The last estimate is saved
  in the checkpoint, so a resumed run keeps it, makes no new one and ends there (a resumed run gets a
  new ``max_minutes``, but the schedule has no steps left after its end).
"""
from __future__ import annotations

from typing import Any

SCHEDULES = ("constant", "linear_budget")
ESTIMATE_AT = (0.03, 0.1, 0.25, 0.5)  # shares of the time budget at which the last step is (re)estimated
MIN_PROBE_STEPS = 5                   # each estimate measures at least this many steps


class LRSchedule:
    """lr per step for one run; ``state_dict`` holds the budget estimate."""

    def __init__(self, config: Any) -> None:
        self.kind, self.lr, self.warmup, self.floor = config.lr_schedule, config.lr, config.warmup_steps, config.lr_floor
        self.budget_steps: int | None = None    # the step the deadline is expected at (max_minutes only)
        self.estimates = 0                      # how many of ESTIMATE_AT are done
        self._probe: tuple[float, int] | None = None

    def end_step(self, max_steps: int) -> int:
        """The step at which the decay reaches its floor."""
        return max_steps if self.budget_steps is None else min(max_steps, self.budget_steps)

    def lr_at(self, step: int, max_steps: int) -> float:
        """The learning rate for the step taken after ``step`` completed steps."""
        if step < self.warmup:
            return self.lr * (float(step) / float(max(1, self.warmup)))
        if self.kind == "constant":
            return self.lr * 1.0
        end = self.end_step(max_steps)
        left = max(0.0, 1.0 - (step - self.warmup) / max(1, end - self.warmup))
        return self.lr * (self.floor + (1.0 - self.floor) * left)

    def finished(self, step: int) -> bool:
        """True once a time-budget estimate exists and ``step`` has reached it."""
        return self.budget_steps is not None and step >= self.budget_steps

    def needs_estimate(self, max_minutes: float | None) -> bool:
        return self.kind == "linear_budget" and max_minutes is not None and self.estimates < len(ESTIMATE_AT)

    def propose(self, step: int, now: float, start: float, max_minutes: float) -> int | None:
        """The estimated last step when the next share of the budget is measured, else None (call after each
        step, then ``accept`` what it returns: in a multi-process run, what the main process returned)."""
        if self._probe is None:
            self._probe = (now, step)
            return None
        t0, s0 = self._probe
        budget_s = max_minutes * 60
        if now - start < ESTIMATE_AT[self.estimates] * budget_s or step - s0 < MIN_PROBE_STEPS or now <= t0:
            return None
        rate = (step - s0) / (now - t0)
        return step + round(rate * max(start + budget_s - now, 0.0))

    def accept(self, budget_steps: int) -> None:
        self.budget_steps, self.estimates = budget_steps, self.estimates + 1

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "budget_steps": self.budget_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.budget_steps = state.get("budget_steps")
        if self.budget_steps is not None:  # a resumed run's clock says nothing about the saved run's speed
            self.estimates = len(ESTIMATE_AT)
