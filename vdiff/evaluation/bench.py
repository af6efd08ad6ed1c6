"""Speed and memory benchmark of the 3D UNet, optionally against the reference model (``python -m vdiff.bench``).

``run(args)`` returns one JSON-ready dict. Our numbers are top-level (``clips_per_s``, ``denoise_call_s``,
``params_m``, ``gflop_per_call``, ``achieved_tflops``, ``flop_utilisation``, ``peak_mem_mb``,
``sampling``); with ``--baseline`` the same keys for lucidrains' video-diffusion-pytorch 0.7.0
``Unet3D`` at the same size sit under ``baseline``, and ``ratios`` compares the two.

Caption embeddings are random vectors of the encoder's width (384 for minilm): the text encoder
runs once per caption, outside the denoiser loop, so it is not what is being measured.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..core.config import Config, get_preset
from ..core.env import autocast_for, autocast_precision
from ..diffusion.guidance import Condition
from ..diffusion.process import Diffusion
from ..diffusion.sampler import sample
from ..models.unet import UNet3D

BASELINE = "video-diffusion-pytorch==0.7.0"




# --- measuring primitives ---------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], device: torch.device, warmup: int, iters: int) -> float:
    """Median wall time of ``fn`` over ``iters`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def count_flops(fn: Callable[[], object]) -> float:
    """FLOPs (multiply-add = 2) of one call of ``fn``, as torch.utils.flop_counter counts them."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def saved_activation_bytes(fn: Callable[[], object]) -> int:
    """Bytes of the distinct tensors autograd keeps for backward during ``fn`` (a forward pass)."""
    seen: dict[tuple, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, nn.Parameter):
            storage = t.untyped_storage()
            seen[(storage.data_ptr(), t.device.type)] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def matmul_peak_tflops(device: torch.device, dtype: torch.dtype) -> float:
    """This machine's dense matmul throughput: the yardstick for FLOP utilisation."""
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds = median_seconds(lambda: a @ b, device, warmup=1, iters=3)
    return 2 * n ** 3 / seconds / 1e12


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20, "cuda_max_allocated"
    # Linux reports ru_maxrss in KiB: the whole process, both models included.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_max_rss"


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- the two models behind one interface ------------------------------------------------
class Subject:
    """A model with a denoiser call, a training step and a guided sampler, ready to time."""

    name: str
    model: nn.Module

    def denoise(self) -> torch.Tensor: ...
    def train_loss(self) -> torch.Tensor: ...
    def sample_seconds(self) -> dict: ...


def _inputs(config: Config, batch: int, text_dim: int, device: torch.device, seed: int):
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, config.channels, config.num_frames, config.image_size, config.image_size)
    x = torch.randn(shape, generator=gen).to(device)
    t = torch.randint(0, config.timesteps, (batch,), generator=gen).to(device)
    text = torch.nn.functional.normalize(torch.randn(batch, text_dim, generator=gen), dim=-1).to(device)
    tokens = torch.randn(batch, config.max_text_len, text_dim, generator=gen).to(device)
    mask = torch.arange(config.max_text_len)[None].expand(batch, -1) < 8
    return x, t, text, tokens, mask.to(device)


class Ours(Subject):
    name = "vdiff.UNet3D"

    def __init__(self, config: Config, batch: int, text_dim: int, device: torch.device, args) -> None:
        self.config, self.device, self.args = config, device, args
        self.model = UNet3D(config, text_dim).to(device)
        self.run = torch.compile(self.model) if args.compile else self.model
        self.diffusion = Diffusion(config)
        self.x, self.t, self.text, self.tokens, self.mask = _inputs(config, batch, text_dim, device, 0)
        self.cond = dict(text_tokens=self.tokens, text_mask=self.mask) if config.cross_attention else {}
        first = (lambda v: None if v is None else v[:1].repeat(args.sample_clips, *[1] * (v.ndim - 1)))
        cross = config.cross_attention
        self.sample_cond = Condition(first(self.text), first(self.tokens) if cross else None,
                                     first(self.mask) if cross else None)

    def denoise(self) -> torch.Tensor:
        return self.run(self.x, self.t, self.text, **self.cond)

    def train_loss(self) -> torch.Tensor:
        drop = torch.rand(self.x.shape[0], device=self.device) < self.config.cond_drop_prob
        losses = self.diffusion.training_losses(self.run, self.x.clamp(-1, 1), self.text, drop_mask=drop, **self.cond)
        return losses["loss"]

    def sample_seconds(self) -> dict:
        # The preset's own sampling options (x0 clipping included), with --sample-steps / --guidance on top.
        options = self.config.sampling.override(steps=self.args.sample_steps, guidance=self.args.guidance)
        start = time.perf_counter()
        sample(self.diffusion, self.run, self.sample_cond, options, generator=0, progress=False)
        _sync(self.device)
        seconds = time.perf_counter() - start
        return {"clips": self.args.sample_clips, **options.to_dict(), "forward_passes_per_step": 1, "cfg": "batched (cond and null in one call)",
                "seconds": seconds, "extrapolated": False}


class Baseline(Subject):
    name = "video_diffusion_pytorch.Unet3D"

    def __init__(self, config: Config, batch: int, text_dim: int, device: torch.device, args) -> None:
        try:
            from video_diffusion_pytorch import GaussianDiffusion, Unet3D
        except ImportError:
            raise ValueError(f"--baseline needs {BASELINE}: pip install -r requirements-bench.txt") from None
        self.config, self.device, self.args = config, device, args
        self.model = Unet3D(dim=config.dim, dim_mults=tuple(config.dim_mults), cond_dim=text_dim,
                            channels=config.channels).to(device)
        self.diffusion = GaussianDiffusion(self.model, image_size=config.image_size, num_frames=config.num_frames,
                                           channels=config.channels, timesteps=1000, loss_type=config.loss_type
                                           ).to(device)
        self.x, self.t, self.text, _, _ = _inputs(config, batch, text_dim, device, 0)
        self.sample_text = self.text[:1].repeat(args.sample_clips, 1)

    def denoise(self) -> torch.Tensor:
        return self.model(self.x, self.t, cond=self.text)

    def train_loss(self) -> torch.Tensor:
        # Its own training objective: GaussianDiffusion.forward takes clips in [0, 1].
        return self.diffusion((self.x.clamp(-1, 1) + 1) / 2, cond=self.text, null_cond_prob=self.config.cond_drop_prob)

    def sample_seconds(self) -> dict:
        # 1000 ancestral steps, each two forward passes with guidance: far too slow to run whole
        # here, so time a few real steps of its own sampler and extrapolate (said in the output).
        timed = self.args.baseline_sample_steps
        shape = (self.args.sample_clips, self.config.channels, self.config.num_frames,
                 self.config.image_size, self.config.image_size)
        img = torch.randn(shape, device=self.device)
        steps_total = self.diffusion.num_timesteps
        guidance = self.config.sampling.override(guidance=self.args.guidance).guidance  # the same as ours
        with torch.inference_mode():
            per_step = []
            for i in range(timed + 1):  # the first step is an untimed warm-up
                t = torch.full((shape[0],), steps_total - 1 - i, device=self.device, dtype=torch.long)
                _sync(self.device)
                start = time.perf_counter()
                img = self.diffusion.p_sample(img, t, cond=self.sample_text, cond_scale=guidance)
                _sync(self.device)
                if i:
                    per_step.append(time.perf_counter() - start)
        step_s = statistics.median(per_step)
        return {"clips": self.args.sample_clips, "sampler": "ddpm (ancestral)", "steps": steps_total,
                "guidance": guidance, "forward_passes_per_step": 2, "cfg": "two separate calls",
                "seconds_per_step": step_s, "seconds": step_s * steps_total, "extrapolated": True,
                "timed_steps": timed}


# --- one measurement ------------------------------------------------------------------------
def measure_memory(subject: Subject, device: torch.device, precision: str) -> dict:
    """Parameters and activation memory only: one training forward, no timing (fast on a CPU)."""
    model = subject.model.train()
    with autocast_for(device, precision):
        activations = saved_activation_bytes(subject.train_loss)
    params = param_count(model)
    # fp32 weights + grads + AdamW's two moments
    return {"model": subject.name, "params": params, "params_m": params / 1e6,
            "saved_activations_mb": activations / 2 ** 20, "weights_grads_adam_mb": 16 * params / 2 ** 20}


def measure(subject: Subject, device: torch.device, precision: str, args, peak_tflops: float | None) -> dict:
    if args.memory_only:
        return measure_memory(subject, device, precision)
    model = subject.model
    batch = subject.x.shape[0]
    params = param_count(model)
    with torch.no_grad(), autocast_for(device, precision):
        model.eval()
        flops = count_flops(subject.denoise)
        call_s = median_seconds(subject.denoise, device, args.warmup, args.iters)
    model.train()
    with autocast_for(device, precision):
        activations = saved_activation_bytes(subject.train_loss)

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def train_step() -> None:
        with autocast_for(device, precision):
            loss = subject.train_loss()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def forward_backward() -> None:
        with autocast_for(device, precision):
            loss = subject.train_loss()
        loss.backward()
        model.zero_grad(set_to_none=True)

    train_flops = count_flops(forward_backward)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step_s = median_seconds(train_step, device, args.warmup, args.iters)
    peak_mb, peak_kind = peak_memory_mb(device)

    model.eval()
    with torch.no_grad(), autocast_for(device, precision):
        sampling = subject.sample_seconds() if not args.no_sample else None
    achieved = flops / call_s / 1e12
    result = {
        "model": subject.name,
        "params": params,
        "params_m": params / 1e6,
        "gflop_per_call": flops / 1e9,
        "denoise_call_s": call_s,
        "achieved_tflops": achieved,
        "flop_utilisation": achieved / peak_tflops,
        "train_step_s": step_s,
        "clips_per_s": batch / step_s,
        "train_gflop_per_step": train_flops / 1e9,
        "train_achieved_tflops": train_flops / step_s / 1e12,
        "train_flop_utilisation": train_flops / step_s / 1e12 / peak_tflops,
        "saved_activations_mb": activations / 2 ** 20,
        "peak_mem_mb": peak_mb,
        "peak_mem_kind": peak_kind,
    }
    if sampling is not None:
        result["sampling"] = sampling
    return result


def ratios(ours: dict, base: dict) -> dict:
    if "clips_per_s" not in ours:  # --memory-only
        return {"params": ours["params"] / base["params"],
                "saved_activations": ours["saved_activations_mb"] / base["saved_activations_mb"]}
    out = {
        "train_clips_per_s": ours["clips_per_s"] / base["clips_per_s"],
        "denoise_call_speedup": base["denoise_call_s"] / ours["denoise_call_s"],
        "params": ours["params"] / base["params"],
        "gflop_per_call": ours["gflop_per_call"] / base["gflop_per_call"],
        "saved_activations": ours["saved_activations_mb"] / base["saved_activations_mb"],
    }
    if "sampling" in ours and "sampling" in base:
        out["sampling_speedup"] = base["sampling"]["seconds"] / ours["sampling"]["seconds"]
    return out


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for but no CUDA GPU is available")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} does not exist: {torch.cuda.device_count()} GPU(s) here")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r} is not supported: use cpu or cuda")
    return device


def resolve_precision(precision: str, device: torch.device) -> str:
    return autocast_precision(device) if precision == "auto" else precision


def run(args: argparse.Namespace) -> dict:
    """Measure as ``args`` says; return the JSON-ready result."""
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    precision = resolve_precision(args.precision, device)
    config = Config.from_json(args.config) if args.config else get_preset(args.preset)
    peak_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    peak = None if args.memory_only else matmul_peak_tflops(device, peak_dtype)
    result: dict = {
        "preset": args.config or args.preset, "batch": args.batch, "image_size": config.image_size,
        "num_frames": config.num_frames, "dim": config.dim, "dim_mults": list(config.dim_mults),
        # our training step is the preset's real one: with a perceptual weight it runs VGG16-BN too
        "perceptual_weight": config.perceptual_weight, "cross_attention": config.cross_attention,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or platform.machine()})",
        "threads": torch.get_num_threads(), "torch": torch.__version__, "precision": precision,
        "compile": args.compile, "matmul_peak_tflops": peak,
        # Timings on a shared CPU are only as good as its idleness: say how busy it was.
        "load_avg_1m_before": os.getloadavg()[0],
    }
    result.update(measure(Ours(config, args.batch, args.text_dim, device, args), device, precision, args, peak))
    if args.baseline:
        base = measure(Baseline(config, args.batch, args.text_dim, device, args), device, precision, args, peak)
        result["baseline"] = base
        result["ratios"] = ratios(result, base)
    result["load_avg_1m_after"] = os.getloadavg()[0]
    return result
