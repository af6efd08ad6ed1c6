"""Trainer and the ``python -m vdiff.train`` command.

One loop, nanoGPT style: Accelerate places the model, sets mixed precision (vdiff.env decides) and
runs several processes; we do gradient accumulation, clipping, the EMA, logging, samples and
checkpoints ourselves. Exact resume: the noise, timesteps and caption dropout of step s come from
a generator seeded by (seed, step, micro-batch, rank), and the data order is a pure function of
(seed, step) (vdiff.data.StepBatchSampler), so a resumed run repeats the uninterrupted one.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import sys
import time
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cli import OneLineParser
from .config import Config, get_preset

CHECKPOINT_DIR = "checkpoints"


class TrainingStopped(RuntimeError):
    """The run stopped on its own (too many non-finite losses); a loadable checkpoint was saved."""


# --- RNG states, as tensors and plain numbers (torch.load(weights_only=True) reads them) ------------

def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def step_generator(seed: int, step: int, micro: int, rank: int, device: torch.device) -> torch.Generator:
    """The generator for one micro-batch's timesteps, noise and caption dropout."""
    g = torch.Generator(device=device if device.type == "cuda" else "cpu")
    return g.manual_seed(((seed * 1_000_003 + step) * 64 + micro) * 4096 + rank)


# --- the trainer -------------------------------------------------------------------------------------

def _as_config(config: Config | str | dict) -> Config:
    if isinstance(config, Config):
        return config
    if isinstance(config, str):
        return get_preset(config)
    if isinstance(config, dict):
        return Config.from_dict(config)
    raise ValueError(f"config must be a Config, a preset name or a dict, got {type(config).__name__}")


def _check_resume(config: Config, saved: dict[str, Any], path: Path) -> None:
    saved_config = Config.from_dict(saved)
    changed = config.shape_mismatch(saved_config)
    if changed:
        detail = ", ".join(f"{f}={getattr(saved_config, f)!r} -> {getattr(config, f)!r}" for f in changed)
        raise ValueError(f"cannot resume from {path}: the config changes the model's shape ({detail}); "
                         f"use a new run folder or the original values")


def train(config: Config | str, data_dir: str | Path, out_dir: str | Path, *, max_steps: int | None = None,
          max_minutes: float | None = None, resume: bool = True) -> Path:
    """Train on a folder of GIF + caption pairs; write the run folder ``out_dir`` and return it.

    Resumes from the newest checkpoint in ``out_dir`` unless ``resume`` is False (then a folder that
    already holds checkpoints is refused rather than overwritten). ``max_steps`` / ``max_minutes``
    override the config's.
    """
    from accelerate import Accelerator, PartialState
    from accelerate.utils import set_seed
    from diffusers.optimization import get_scheduler
    from tqdm.auto import tqdm

    from . import checkpoint as ckpt
    from .data import PairsDataset, StepBatchSampler, collate
    from .diffusion import Diffusion, sample_timesteps
    from .ema import EMA
    from .env import env_report
    from .text import load_text_encoder
    from .unet import UNet3D

    config = _as_config(config)
    overrides = {k: v for k, v in (("max_steps", max_steps), ("max_minutes", max_minutes)) if v is not None}
    if overrides:
        config = config.replace(**overrides)
        config.validate()
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / CHECKPOINT_DIR

    env = env_report(config.mixed_precision)
    # Without an accelerator, processes started by `accelerate launch --multi_gpu` or torchrun only
    # form a (gloo) group when Accelerate is told to run on the CPU.
    cpu = env.device == "cpu"
    state = PartialState(cpu=cpu)
    precision = env.precision if state.device.type == "cuda" else "no"
    accelerator = Accelerator(mixed_precision=precision, cpu=cpu)
    device, rank, world = accelerator.device, accelerator.process_index, accelerator.num_processes
    main = accelerator.is_main_process

    # --- resume? (every process reads the same file) ---
    found = ckpt.latest_loadable_checkpoint(ckpt_dir)
    if found is not None and not resume:
        raise ValueError(f"{out_dir} already holds checkpoints; resume it or choose a new --out folder")
    saved: dict[str, Any] | None = None
    if found is not None:
        _check_resume(config, found[1]["config"], found[0])
        saved = found[1]

    set_seed(config.seed)  # python, numpy, torch: the model's init is the same in every process
    encoder = load_text_encoder(config.text_encoder, device=device, max_length=config.max_text_len)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = PairsDataset(data_dir, config, encoder)
    for w in caught:
        if main:
            print(f"warning: {w.message}", file=sys.stderr)
    model = UNet3D(config, encoder.dim)
    if config.text_whitening:  # a resumed run loads the fitted buffers from its checkpoint below
        model.fit_text_whitening(dataset.text_pooled)
    diffusion = Diffusion(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=tuple(config.adam_betas),
                                  weight_decay=config.weight_decay)
    # Not passed to accelerator.prepare: its wrapper steps once per process, which would
    # shorten the warm-up by the number of processes. We step it once per optimizer step.
    scheduler = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=config.warmup_steps)
    model, optimizer = accelerator.prepare(model, optimizer)
    raw_model = accelerator.unwrap_model(model)
    ema = EMA(raw_model, config)

    step, nonfinite_total = 0, 0
    if saved is not None:
        raw_model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        ema.load_state_dict(saved["ema"])
        if accelerator.scaler is not None and saved.get("scaler"):
            accelerator.scaler.load_state_dict(saved["scaler"])
        step = int(saved["step"])
        nonfinite_total = int(saved.get("nonfinite_total", 0))
        set_rng_state(saved["rng"])

    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        config.to_json(out_dir / "config.json")
    log_path = out_dir / "log.jsonl"

    def log(record: dict[str, Any]) -> None:
        if main:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    log({"event": "resume" if saved is not None else "start", "step": step, "env": env.to_dict(),
         "precision": precision, "processes": world, "pairs": len(dataset), "skipped": len(dataset.skipped),
         "skipped_reasons": dataset.skipped, "params_m": sum(p.numel() for p in raw_model.parameters()) / 1e6})

    prompt_emb = encoder.encode(list(config.sample_prompts)) if config.sample_prompts else None
    threshold = "static" if config.threshold is None else config.threshold

    def save(final_step: int) -> None:
        """Checkpoint + inference weights; only the main process writes."""
        if main:
            payload = {
                "step": final_step, "config": config.to_dict(), "model": raw_model.state_dict(),
                "ema": ema.state_dict(), "ema_update_count": ema.update_count,
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": accelerator.scaler.state_dict() if accelerator.scaler is not None else {},
                "rng": rng_state(), "data": {"seed": config.seed, "position": final_step * config.grad_accum * config.batch_size * world},
                "nonfinite_total": nonfinite_total,
            }
            ckpt.save_checkpoint(payload, ckpt.checkpoint_path(ckpt_dir, final_step))
            ckpt.prune_checkpoints(ckpt_dir, config.keep_last)
            ckpt.save_weights(ema.module.state_dict(), out_dir / "weights" / "ema.safetensors")
            ckpt.save_weights(raw_model.state_dict(), out_dir / "weights" / "online.safetensors")
            config.to_json(out_dir / "weights" / "config.json")
        accelerator.wait_for_everyone()

    def sample_grids(at_step: int) -> None:
        if not main or prompt_emb is None:
            return
        from .video import gif_grid, to_uint8
        for name, net in (("ema", ema.module), ("online", raw_model)):
            clips = diffusion.sample(net, prompt_emb.pooled.to(device),
                                     text_tokens=prompt_emb.tokens.to(device) if config.cross_attention else None,
                                     text_mask=prompt_emb.mask.to(device) if config.cross_attention else None,
                                     sampler=config.sampler, steps=config.sample_steps,
                                     guidance_scale=config.guidance_scale, threshold=threshold,
                                     generator=config.seed, progress=False)
            gif_grid(to_uint8(clips), out_dir / "samples" / f"step_{at_step:07d}_{name}.gif", ncols=4)

    sampler = StepBatchSampler(len(dataset), config.batch_size, seed=config.seed, start_step=step,
                               micro_batches_per_step=config.grad_accum, rank=rank, world_size=world)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                                         num_workers=config.num_workers)
    batches = iter(loader)

    def agree(flag: bool) -> bool:
        """True only when every process says True."""
        if world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        return bool(accelerator.gather(t).min().item() > 0)

    start_time = time.perf_counter()
    bar = tqdm(total=config.max_steps, initial=step, desc="train", disable=not main, dynamic_ncols=True)
    window = {"loss": 0.0, "noise_loss": 0.0, "perceptual_loss": 0.0, "grad_norm": 0.0, "n": 0,
              "data_s": 0.0, "t0": time.perf_counter(), "steps": 0}
    streak = 0
    stop_reason = "max_steps"
    model.train()
    while step < config.max_steps:
        losses_sum = {"loss": 0.0, "noise_loss": 0.0, "perceptual_loss": 0.0}
        finite = True
        for micro in range(config.grad_accum):
            t_data = time.perf_counter()
            batch = next(batches)
            window["data_s"] += time.perf_counter() - t_data
            x0 = batch["video"].to(device, non_blocking=True)
            emb = batch["text_emb"].to(device)
            tokens = batch["text_tokens"].to(device) if "text_tokens" in batch else None
            mask = batch["text_mask"].to(device) if "text_mask" in batch else None
            g = step_generator(config.seed, step, micro, rank, device)
            b = x0.shape[0]
            t = sample_timesteps(b, diffusion.num_timesteps, config.timestep_shift, generator=g, device=g.device).to(device)
            noise = torch.randn(x0.shape, generator=g, device=g.device).to(device)
            drop = (torch.rand(b, generator=g, device=g.device) < config.cond_drop_prob).to(device)
            last = micro == config.grad_accum - 1
            # Skip the gradient all-reduce on all but the last micro-batch of a step.
            sync = accelerator.no_sync(model) if (not last and world > 1) else contextlib.nullcontext()
            with sync:
                with accelerator.autocast():
                    out = diffusion.training_losses(model, x0, emb, drop_mask=drop, text_tokens=tokens,
                                                    text_mask=mask, t=t, noise=noise)
                finite = agree(bool(torch.isfinite(out["loss"]).item()))
                if not finite:
                    break
                accelerator.backward(out["loss"] / config.grad_accum)
            for k in losses_sum:
                losses_sum[k] += float(out[k].detach()) / config.grad_accum

        grad_norm = float("nan")
        if finite:
            grad_norm = float(accelerator.clip_grad_norm_(model.parameters(), config.grad_clip))
            # Under fp16 the grad scaler skips inf gradients itself; elsewhere we must.
            finite = accelerator.scaler is not None or agree(math.isfinite(grad_norm))
        if finite:
            optimizer.step()
            scheduler.step()
            streak = 0
        else:
            nonfinite_total += 1
            streak += 1
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if finite and step > config.ema_start_step and (step - config.ema_start_step) % config.ema_update_every == 0:
            ema.step(raw_model)

        bar.update(1)
        if finite:
            for k, v in losses_sum.items():
                window[k] += v
            window["grad_norm"] += grad_norm
            window["n"] += 1
        window["steps"] += 1
        if step % config.log_every == 0 or step == config.max_steps:
            elapsed = time.perf_counter() - window["t0"]
            n = max(window["n"], 1)
            record = {"step": step, "loss": window["loss"] / n, "noise_loss": window["noise_loss"] / n,
                      "perceptual_loss": window["perceptual_loss"] / n, "grad_norm": window["grad_norm"] / n,
                      "lr": scheduler.get_last_lr()[0], "ema_decay": ema.last_decay,
                      "ema_update_count": ema.update_count, "steps_per_s": window["steps"] / max(elapsed, 1e-9),
                      "data_wait_share": window["data_s"] / max(elapsed, 1e-9), "nonfinite_total": nonfinite_total}
            if window["n"] == 0:
                record.update(loss=None, noise_loss=None, perceptual_loss=None, grad_norm=None)
            log(record)
            bar.set_postfix(loss=f"{record['loss']:.4f}" if record["loss"] is not None else "nan",
                            data=f"{record['data_wait_share']:.0%}")
            window.update(loss=0.0, noise_loss=0.0, perceptual_loss=0.0, grad_norm=0.0, n=0, data_s=0.0,
                          t0=time.perf_counter(), steps=0)

        if streak >= config.max_nonfinite:
            stop_reason = "nonfinite"
            break
        out_of_time = config.max_minutes is not None and (time.perf_counter() - start_time) / 60 >= config.max_minutes
        if world > 1 and config.max_minutes is not None:
            out_of_time = not agree(not out_of_time)  # stop together when any process is out of time
        if out_of_time and step < config.max_steps:
            stop_reason = "max_minutes"
            break
        if config.sample_every > 0 and step % config.sample_every == 0:
            sample_grids(step)
        if config.save_every > 0 and step % config.save_every == 0 and step < config.max_steps:
            save(step)
    bar.close()

    save(step)
    log({"event": "stop", "step": step, "reason": stop_reason, "nonfinite_total": nonfinite_total,
         "minutes": (time.perf_counter() - start_time) / 60})
    if stop_reason == "nonfinite":
        raise TrainingStopped(f"stopped at step {step}: {streak} non-finite losses in a row "
                              f"(try a lower lr); the last good weights are in {ckpt_dir}")
    return out_dir


# --- command line --------------------------------------------------------------------------------



def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m vdiff.train", description="Train the text-to-video diffusion model "
                "on a folder of <name>.gif + <name>.txt pairs. Resumes when RUN_DIR holds checkpoints.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="a named preset (smoke, tiny, moving_mnist, msrvtt, ...)")
    src.add_argument("--config", help="a config JSON file (e.g. a run folder's config.json)")
    p.add_argument("--data", required=True, help="folder of <name>.gif + <name>.txt pairs")
    p.add_argument("--out", required=True, help="run folder to write (or resume)")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--resume", action="store_true",
                   help="resume from RUN_DIR's newest checkpoint (the default whenever one exists)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = get_preset(args.preset) if args.preset else Config.from_json(args.config)
        if args.max_steps is not None and args.max_steps < 1:
            raise ValueError(f"--max-steps must be >= 1, got {args.max_steps}")
        if args.resume and not (Path(args.out) / CHECKPOINT_DIR).is_dir():
            print(f"note: {args.out} holds no checkpoint yet; starting a new run", file=sys.stderr)
        run = train(config, args.data, args.out, max_steps=args.max_steps, max_minutes=args.max_minutes, resume=True)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TrainingStopped as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"run folder: {run}")
    return 0


class _CallableModule(types.ModuleType):
    """``vdiff.train`` names both this module and its ``train`` function (DESIGN.md: ``vdiff.train(config)``).

    Importing the module rebinds the package attribute to the module, so the module forwards calls.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
