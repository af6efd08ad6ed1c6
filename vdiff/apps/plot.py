"""Loss curves of a run: ``plot_losses(run_dir)`` (also ``python -m vdiff.plot RUN_DIR``)."""
from __future__ import annotations

from pathlib import Path

from ..core.run_folder import RunFolder


def read_log(run_dir: str | Path) -> list[dict]:
    """The step records of a run's log.jsonl (event lines left out)."""
    run = RunFolder(run_dir)
    if not run.log_file.is_file():
        raise ValueError(f"no log at {run.log_file}")
    return [r for r in run.log_records() if "event" not in r and r.get("loss") is not None]


def plot_losses(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw total/noise/perceptual loss (log scale), lr and data-wait share against step; returns the PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_log(run_dir)
    if not records:
        raise ValueError(f"{run_dir} has no logged steps yet")
    # A resumed run may log a step twice (before and after the resume): keep the last record per step.
    by_step = {r["step"]: r for r in records}
    steps = sorted(by_step)
    fig, (ax_loss, ax_lr) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=[3, 1])
    for key in ("loss", "noise_loss", "perceptual_loss"):
        values = [by_step[s].get(key) or 0.0 for s in steps]
        if any(v > 0 for v in values):
            ax_loss.plot(steps, values, label=key)
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    ax_lr.plot(steps, [by_step[s]["lr"] for s in steps], label="lr")
    ax_lr.set_ylabel("lr")
    ax_lr.set_xlabel("step")
    ax_share = ax_lr.twinx()
    ax_share.plot(steps, [by_step[s].get("data_wait_share", 0.0) for s in steps], color="tab:red", alpha=0.6)
    ax_share.set_ylabel("data-wait share", color="tab:red")
    fig.tight_layout()
    out = Path(out) if out is not None else RunFolder(run_dir).loss_plot
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
