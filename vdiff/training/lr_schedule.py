"""The learning rate of each training step (``Config.lr_schedule``).

Both schedules warm up linearly over ``warmup_steps`` exactly as diffusers' ``constant_with_warmup``
does (step s uses lr * s / warmup_steps, so the first step uses 0). Then:

* ``"constant"``: lr.
* ``"linear_budget"``: a linear decay from lr to ``lr_floor`` x lr at the run's last step, its
  ``end_step`` (``vdiff.training.budget``: ``max_steps``, or with ``max_minutes`` the step the deadline
  is expected at). Li, Yumer and Ramanan, "Budgeted Training: Rethinking Deep Neural Network Training
  Under Resource Constraints", ICLR 2020: a linear decay that ends at the budget beats a schedule cut short.
"""
from __future__ import annotations

from typing import Any

SCHEDULES = ("constant", "linear_budget")


class LRSchedule:
    """lr per step for one run."""

    def __init__(self, config: Any) -> None:
        self.kind, self.lr, self.warmup, self.floor = config.lr_schedule, config.lr, config.warmup_steps, config.lr_floor

    @property
    def needs_end_step(self) -> bool:
        """True when the lr depends on where the run ends (so a time limit must be turned into a step)."""
        return self.kind == "linear_budget"

    def lr_at(self, step: int, end_step: int) -> float:
        """The learning rate for the step taken after ``step`` completed steps of a run ending at ``end_step``."""
        if step < self.warmup:
            return self.lr * (float(step) / float(max(1, self.warmup)))
        if self.kind == "constant":
            return self.lr * 1.0
        left = max(0.0, 1.0 - (step - self.warmup) / max(1, end_step - self.warmup))
        return self.lr * (self.floor + (1.0 - self.floor) * left)
