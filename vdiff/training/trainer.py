"""The trainer: ``Trainer`` (and ``train``, the one-call form) with its ``Callback`` hooks.

One loop in the shape of improved-diffusion's TrainLoop: ``fit`` -> ``run_loop`` -> ``run_step``
(``forward_backward``, ``optimize``) -> ``log_step``, with ``save`` and ``sample_grids`` on their
cadence, and callbacks (``Callback``) for notebooks. Accelerate places the model, sets mixed
precision (vdiff.core.env decides) and runs several processes; we do gradient accumulation, clipping,
the EMA, logging, samples and checkpoints ourselves.

Exact resume: the noise, timesteps and caption dropout of step s come from generators seeded by
(seed, step, loaded batch, rank) (vdiff.core.rng), and the data order is a pure function of (seed, step)
(vdiff.training.data.StepBatchSampler), so a resumed run repeats the uninterrupted one bit for bit.
"""
from __future__ import annotations

import contextlib
import json
import math
import sys
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ..core.config import Config, get_preset
from ..core.run_folder import RunFolder
from .budget import Budget, saved_budget
from .lr_schedule import LRSchedule
from .steps import (LogWindow, TrainingStopped, accumulation, draw_step, halved_micro_batch, micro_batches,
                    sample_grid_gifs, to_device)
from .trackers import check_log_with, init_trackers, log_samples, log_scalars

clock = time.perf_counter  # module attribute so that tests can stand in a machine of another speed


class Callback:
    """Hooks the trainer calls on the main process; every method is optional (the base does nothing)."""

    def on_start(self, trainer: "Trainer") -> None: ...
    def on_log(self, trainer: "Trainer", record: dict[str, Any]) -> None: ...
    def on_samples(self, trainer: "Trainer", step: int, paths: list[Path]) -> None: ...
    def on_save(self, trainer: "Trainer", step: int, path: Path) -> None: ...
    def on_end(self, trainer: "Trainer", summary: dict[str, Any]) -> None: ...


def run_config(out_dir: str | Path) -> Config | None:
    """The config a run folder was trained with (its ``config.json``), or None for a new folder.

    Resume with it rather than with today's ``auto`` choice, which may differ on another GPU.
    """
    path = RunFolder(out_dir).config_file
    return Config.from_json(path) if path.is_file() else None


def _as_config(config: Config | str | dict) -> Config:
    if isinstance(config, Config):
        return config
    if isinstance(config, str):
        return get_preset(config)
    if isinstance(config, dict):
        return Config.from_dict(config)
    raise ValueError(f"config must be a Config, a preset name or a dict, got {type(config).__name__}")


class Trainer:
    """Train on a folder of GIF + caption pairs into the run folder ``out_dir``; ``fit()`` runs it.

    ``max_steps`` / ``max_minutes`` override the config's. ``resume``: None resumes from ``out_dir``'s
    newest loadable checkpoint when there is one; True requires one; False refuses a folder that
    holds checkpoints. ``on_log`` fires every ``log_every`` steps and at least every ``progress_every_s``.
    """

    def __init__(self, config: Config | str | dict, data_dir: str | Path, out_dir: str | Path, *,
                 max_steps: int | None = None, max_minutes: float | None = None,
                 callbacks: Iterable[Callback] = (), progress_every_s: float = 30.0,
                 resume: bool | None = None) -> None:
        config = _as_config(config)
        overrides = {k: v for k, v in (("max_steps", max_steps), ("max_minutes", max_minutes)) if v is not None}
        self.config = config.replace(**overrides) if overrides else config  # replace() validates
        check_log_with(self.config.log_with)
        self.data_dir, self.out_dir = Path(data_dir), Path(out_dir)
        self.run_folder = RunFolder(self.out_dir)
        self.ckpt_dir = self.run_folder.checkpoint_dir
        self.callbacks, self.progress_every_s, self.resume = list(callbacks), float(progress_every_s), resume
        self.step, self.nonfinite_total = 0, 0
        self.lr_schedule = LRSchedule(self.config)  # sets the lr before each optimizer step
        self.budget = Budget(self.config.max_steps, self.config.max_minutes,
                             estimate_deadline=self.lr_schedule.needs_end_step)

    @property
    def end_step(self) -> int:
        """The step the run is planned to end at (``vdiff.training.budget``)."""
        return self.budget.end_step

    # --- setup --------------------------------------------------------------------------------
    def setup(self) -> None:
        """Accelerator, data, model, optimizer, EMA; then the checkpoint's state when resuming."""
        from accelerate import Accelerator, PartialState
        from accelerate.utils import set_seed

        from ..core.env import env_report
        from ..diffusion.process import Diffusion
        from ..models.text import load_text_encoder
        from ..models.unet import UNet3D
        from . import checkpoint as ckpt, init_from
        from .data import PairsDataset, StepBatchSampler, collate
        from .ema import EMA

        config = self.config
        self.env = env_report(config.mixed_precision)
        # Without an accelerator, processes started by `accelerate launch --multi_gpu` or torchrun only
        # form a (gloo) group when Accelerate is told to run on the CPU.
        cpu = self.env.device == "cpu"
        state = PartialState(cpu=cpu)
        self.precision = self.env.precision  # vdiff.core.env.choose_precision's rule for this device ("no" on MPS)
        if state.num_processes == 1:
            # Accelerate keeps one precision per process and refuses another; a notebook or the tests may
            # train several runs in one process, each with its own. (Accelerate's own tests reset it so.)
            from accelerate.state import AcceleratorState
            AcceleratorState._reset_state()
        self.accelerator = acc = Accelerator(mixed_precision=self.precision, cpu=cpu, log_with=config.log_with,
                                             project_dir=str(self.out_dir))
        self.device, self.rank, self.world = acc.device, acc.process_index, acc.num_processes
        self.main = acc.is_main_process

        saved = ckpt.resume_state(self.ckpt_dir, config, self.resume)  # every process reads the same file
        # --init-from's source is checked before the data is decoded; a resumed run never loads it again.
        source = init_from.source_for(config, self.out_dir) if saved is None else None

        set_seed(config.seed)  # python, numpy, torch: the model's init is the same in every process
        self.encoder = load_text_encoder(config.text_encoder, device=self.device, max_length=config.max_text_len)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.dataset = PairsDataset(self.data_dir, config, self.encoder)
        for w in caught if self.main else ():
            print(f"warning: {w.message}", file=sys.stderr)
        model = UNet3D(config, self.encoder.dim)
        if config.text_whitening:  # a resumed run loads the fitted buffers from its checkpoint below
            model.fit_text_whitening(self.dataset.text_pooled)
        self.diffusion = Diffusion(config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=tuple(config.adam_betas),
                                      weight_decay=config.weight_decay)
        self.last_lr = 0.0
        self.model, self.optimizer = acc.prepare(model, optimizer)
        self.raw_model = acc.unwrap_model(self.model)
        self.ema = EMA(self.raw_model, config)

        self.micro_batch = config.batch_size if config.micro_batch == "auto" else int(config.micro_batch)
        if saved is not None:
            self.load_state(saved)
        started_from = init_from.load_into(source, self.raw_model, self.ema) if source is not None else None
        if self.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            config.to_json(self.run_folder.config_file)
        init_trackers(acc, config, self.out_dir)
        self.log({"event": "resume" if saved is not None else "start", "step": self.step, "env": self.env.to_dict(),
                  "precision": self.precision, "processes": self.world, "pairs": len(self.dataset),
                  "skipped": len(self.dataset.skipped), "skipped_reasons": self.dataset.skipped,
                  "micro_batch": self.micro_batch, "init_from": started_from,
                  "params_m": sum(p.numel() for p in self.raw_model.parameters()) / 1e6})
        self.prompt_emb = self.encoder.encode(list(config.sample_prompts)) if config.sample_prompts else None
        sampler = StepBatchSampler(len(self.dataset), config.batch_size, seed=config.seed, start_step=self.step,
                                   micro_batches_per_step=config.grad_accum, rank=self.rank, world_size=self.world)
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=sampler, collate_fn=collate,
                                             num_workers=config.num_workers)
        self.batches = iter(loader)

    def load_state(self, saved: dict[str, Any]) -> None:
        """Continue from a checkpoint: weights, optimizer, EMA, scaler, step, deadline estimate, RNG states."""
        from ..core.rng import set_rng_state

        self.raw_model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.ema.load_state_dict(saved["ema"])
        if self.accelerator.scaler is not None and saved.get("scaler"):
            self.accelerator.scaler.load_state_dict(saved["scaler"])
        self.budget.load_state_dict(saved_budget(saved))
        self.step, self.nonfinite_total = int(saved["step"]), int(saved.get("nonfinite_total", 0))
        if self.config.micro_batch == "auto" and "micro_batch" in saved:  # an out-of-memory halving holds
            self.micro_batch = min(int(saved["micro_batch"]), self.micro_batch)
        set_rng_state(saved["rng"])

    # --- the loop -----------------------------------------------------------------------------
    def fit(self) -> Path:
        """Run (or resume) the whole run; returns the run folder."""
        from tqdm.auto import tqdm

        self.setup()
        self._call("on_start")
        self.start_time = clock()
        self.bar = tqdm(total=self.end_step, initial=self.step, desc="train", disable=not self.main,
                        dynamic_ncols=True)
        self.streak = 0
        try:
            reason = self.run_loop()
        except TrainingStopped:  # out of memory: keep what was trained since the last checkpoint
            self.save(self.step)
            raise
        finally:
            self.bar.close()
        self.save(self.step)
        summary = {"event": "stop", "step": self.step, "reason": reason, "nonfinite_total": self.nonfinite_total,
                   "minutes": (clock() - self.start_time) / 60}
        self.log(summary)
        self._call("on_end", summary)
        self.accelerator.end_training()  # closes the trackers' files (each log call has flushed them)
        if reason == "nonfinite":
            raise TrainingStopped(f"stopped at step {self.step}: {self.streak} non-finite losses in a row "
                                  f"(try a lower lr); the last good weights are in {self.ckpt_dir}")
        return self.out_dir

    def run_loop(self) -> str:
        """Steps until max_steps, the time limit, the deadline step or too many non-finite losses; the reason."""
        config, budget = self.config, self.budget
        self.window, self.last_log_t = LogWindow(clock()), clock()
        self.model.train()
        while self.step < budget.max_steps:
            finite, losses, grad_norm = self.run_step()
            self.bar.update(1)
            self.log_step(finite, losses, grad_norm)
            if self.streak >= config.max_nonfinite:
                return "nonfinite"
            out_of_time = budget.max_minutes is not None and budget.over_time((clock() - self.start_time) / 60)
            if self.world > 1 and budget.max_minutes is not None:
                out_of_time = not self.agree(not out_of_time)  # stop together when any process is out of time
            if out_of_time and self.step < budget.max_steps:
                return "max_minutes"
            if budget.reached_deadline_step(self.step) and self.step < budget.max_steps:
                return "deadline_step"  # a resumed run ends at its saved deadline step too
            # Several processes must all broadcast at the same steps: there, only on log steps, not every step.
            if budget.needs_estimate() and (self.world == 1 or self.step % config.log_every == 0):
                self.estimate_deadline()
            if config.sample_every > 0 and self.step % config.sample_every == 0:
                self.sample_grids(self.step)
            if config.save_every > 0 and self.step % config.save_every == 0 and self.step < budget.max_steps:
                self.save(self.step)
        return "max_steps"

    def run_step(self) -> tuple[bool, dict[str, float], float]:
        """One optimizer step: (finite, mean losses, grad norm)."""
        batch = self.next_batch()
        while True:
            try:
                finite, losses = self.forward_backward(batch)
                break
            except torch.cuda.OutOfMemoryError:
                pass  # handled outside the except block, so the failed step's tensors can be freed
            self.optimizer.zero_grad(set_to_none=True)
            self.shrink_micro_batch()
        grad_norm = float("nan")
        if finite:
            finite, grad_norm = self.optimize()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        if finite:
            self.streak = 0
            c = self.config
            if self.step > c.ema_start_step and (self.step - c.ema_start_step) % c.ema_update_every == 0:
                self.ema.step(self.raw_model)
        else:
            self.nonfinite_total += 1
            self.streak += 1
        return finite, losses, grad_norm

    def next_batch(self) -> dict[str, torch.Tensor]:
        """The step's clips with their timesteps, noise and caption dropout (vdiff.training.steps.draw_step)."""
        batch, waited = draw_step(self.batches, self.config, self.diffusion.num_timesteps, self.step, self.rank,
                                  self.device, clock)
        self.window.data_s += waited
        return batch

    def forward_backward(self, batch: dict[str, torch.Tensor]) -> tuple[bool, dict[str, float]]:
        """Gradients of the step's mean loss, ``micro_batch`` clips at a time; (finite, mean losses)."""
        acc, pieces = self.accelerator, micro_batches(batch, self.micro_batch)
        losses = {"loss": 0.0, "noise_loss": 0.0, "perceptual_loss": 0.0}
        for i, (part, share) in enumerate(pieces):
            # Skip the gradient all-reduce on all but the last micro-batch of a step.
            last = i == len(pieces) - 1
            sync = acc.no_sync(self.model) if (not last and self.world > 1) else contextlib.nullcontext()
            with sync:
                with acc.autocast():
                    out = self.diffusion.training_losses(
                        self.model, part["video"].to(self.device, non_blocking=True), part["text_emb"].to(self.device),
                        drop_mask=part["drop"], text_tokens=to_device(part.get("text_tokens"), self.device),
                        text_mask=to_device(part.get("text_mask"), self.device), t=part["t"], noise=part["noise"],
                        self_cond=part.get("self_cond"), given_mask=part.get("given_mask"), frame_stride=part.get("stride"))
                if not self.agree(bool(torch.isfinite(out["loss"]).item())):
                    return False, losses
                acc.backward(out["loss"] / share)
            for k in losses:
                losses[k] += float(out[k].detach()) / share
        return True, losses

    def optimize(self) -> tuple[bool, float]:
        """Clip, then step the optimizer when the gradients are finite; (finite, grad norm)."""
        grad_norm = float(self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.grad_clip))
        # Under fp16 the grad scaler skips inf gradients itself; elsewhere we must.
        finite = self.accelerator.scaler is not None or self.agree(math.isfinite(grad_norm))
        if finite:
            self.last_lr = self.lr_schedule.lr_at(self.step, self.end_step)
            for group in self.optimizer.param_groups:
                group["lr"] = self.last_lr
            self.optimizer.step()
        return finite, grad_norm

    def estimate_deadline(self) -> None:
        """With a time limit: (re)estimate the deadline step from the steps/s so far (the main process decides)."""
        proposal = self.budget.propose(self.step, clock(), self.start_time)
        if self.world > 1:  # every process takes the main process's estimate
            from accelerate.utils import broadcast_object_list
            proposal = broadcast_object_list([proposal], from_process=0)[0]
        if proposal is not None:
            self.budget.accept(proposal)
            self.bar.total = self.end_step
            self.log({"event": "deadline", "step": self.step, "end_step": self.end_step,
                      "estimated_steps": proposal})

    def shrink_micro_batch(self) -> None:
        """After CUDA ran out of memory: halve the micro-batch (``micro_batch="auto"``) or stop with what to change."""
        self.micro_batch = halved_micro_batch(self.micro_batch, self.config, self.world, self.step)
        n, k = self.config.batch_size * self.config.grad_accum, accumulation(self.config, self.micro_batch)
        if self.main:
            print(f"warning: out of memory; micro-batch {self.micro_batch} x {k} accumulated "
                  f"(the step still averages {n} clips)", file=sys.stderr)
        self.log({"event": "micro_batch", "step": self.step, "micro_batch": self.micro_batch,
                  "accumulation": k, "reason": "out of memory"})

    # --- logging, callbacks ---------------------------------------------------------------------
    def log(self, record: dict[str, Any]) -> None:
        """Append one line to RUN_DIR/log.jsonl (main process only)."""
        if self.main:
            with open(self.run_folder.log_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _call(self, hook: str, *args: Any) -> None:
        if self.main:
            for cb in self.callbacks:
                getattr(cb, hook)(self, *args)

    def log_step(self, finite: bool, losses: dict[str, float], grad_norm: float) -> None:
        """Accumulate the step; every ``log_every`` steps (or ``progress_every_s``) write a record."""
        self.window.add(finite, losses, grad_norm)
        now = clock()
        due = self.step % self.config.log_every == 0 or self.step == self.config.max_steps
        if not (due or (self.main and now - self.last_log_t >= self.progress_every_s)):
            return
        record = self.window.record(self.step, now, lr=self.last_lr, ema_decay=self.ema.last_decay,
                                    ema_update_count=self.ema.update_count, nonfinite_total=self.nonfinite_total)
        self.log(record)
        if self.config.log_with is not None:
            log_scalars(self.accelerator, record, self.step)
        self.bar.set_postfix(loss=f"{record['loss']:.4f}" if record["loss"] is not None else "nan",
                             data=f"{record['data_wait_share']:.0%}")
        self._call("on_log", record)
        self.window, self.last_log_t = LogWindow(clock()), now

    def agree(self, flag: bool) -> bool:
        """True only when every process says True."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        return bool(self.accelerator.gather(t).min().item() > 0)

    # --- checkpoints and samples ---------------------------------------------------------------
    def save(self, step: int) -> None:
        """Checkpoint + inference weights; only the main process writes."""
        from ..core.rng import rng_state
        from . import checkpoint as ckpt

        if self.main:
            acc = self.accelerator
            payload = {
                "step": step, "config": self.config.to_dict(), "model": self.raw_model.state_dict(),
                "ema": self.ema.state_dict(), "optimizer": self.optimizer.state_dict(),
                "budget": self.budget.state_dict(),
                "scaler": acc.scaler.state_dict() if acc.scaler is not None else {},
                "rng": rng_state(), "nonfinite_total": self.nonfinite_total, "micro_batch": self.micro_batch,
            }
            weights = {"ema": self.ema.module.state_dict(), "online": self.raw_model.state_dict()}
            path = ckpt.save_run_state(self.run_folder, step, payload, weights, self.config)
            self._call("on_save", step, path)
        self.accelerator.wait_for_everyone()

    def sample_grids(self, step: int) -> list[Path]:
        """``sample_prompts`` from the EMA and the online model as GIF grids under RUN_DIR/samples/."""
        if not self.main or self.prompt_emb is None:
            return []
        nets = {"ema": self.ema.module, "online": self.raw_model}
        paths = sample_grid_gifs(self.diffusion, nets, self.prompt_emb, self.config, self.device,
                                 self.run_folder, step)
        log_samples(self.accelerator, self.config, self.run_folder, paths, step)  # + samples/progress.png
        self._call("on_samples", step, paths)
        return paths


def train(config: Config | str | dict, data_dir: str | Path, out_dir: str | Path, **kwargs: Any) -> Path:
    """``Trainer(config, data_dir, out_dir, **kwargs).fit()``: train (or resume) and return the run folder."""
    return Trainer(config, data_dir, out_dir, **kwargs).fit()
