"""Time vdiff's samplers and training loss with the real UNet3D; prints one JSON object.

    python benchmarks/bench_sampling.py [--preset bench] [--batch 4] [--steps 20]

Per sampler: seconds for one batch of clips, model calls and seconds per call (guidance 2 runs
cond and uncond rows as one batch of 2B). Also the training step (loss + backward) with and
without the VGG16-BN perceptual term (random VGG weights: the speed is the same).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch

from vdiff.config import get_preset
from vdiff.core.options import SamplingOptions
from vdiff.diffusion import Condition, Diffusion, sample
from vdiff.models.unet import UNet3D

TEXT_DIM = 384  # MiniLM's width; random embeddings, the speed does not depend on the caption


def _timed(fn, repeat: int = 1) -> float:
    fn()  # warm-up (allocations, lazy VGG build)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="bench")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ddpm", action="store_true", help="also time full-length DDPM (T model calls)")
    args = parser.parse_args()

    torch.manual_seed(0)
    cfg = get_preset(args.preset)
    model = UNet3D(cfg, TEXT_DIM).eval()
    diffusion = Diffusion(cfg)
    emb = torch.randn(args.batch, TEXT_DIM)
    result: dict = {"preset": args.preset, "batch": args.batch, "steps": args.steps,
                    "torch_threads": torch.get_num_threads(), "load_avg_1m": os.getloadavg()[0]}

    calls = []
    model.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    samplers = ["ddim", "dpm++"] + (["ddpm"] if args.ddpm else [])
    for sampler in samplers:
        calls.clear()
        options = SamplingOptions(sampler=sampler, steps=args.steps, guidance=2.0)
        seconds = _timed(lambda: sample(diffusion, model, Condition(emb), options, progress=False, generator=0))
        n_calls = len(calls) // 2  # warm-up + timed run
        result[sampler] = {"seconds": round(seconds, 3), "model_calls": n_calls,
                           "call_batch": calls[-1], "seconds_per_call": round(seconds / n_calls, 4)}

    model.train()
    x0 = torch.rand(args.batch, cfg.channels, cfg.num_frames, cfg.image_size, cfg.image_size) * 2 - 1
    for weight in (0.0, 0.1):
        d = Diffusion(cfg.replace(perceptual_weight=weight, perceptual_pretrained=False))

        def train_step() -> None:
            model.zero_grad(set_to_none=True)
            d.training_losses(model, x0, emb)["loss"].backward()

        result[f"train_step_s_perceptual_{weight}"] = round(_timed(train_step, repeat=3), 3)
    result["load_avg_1m_end"] = os.getloadavg()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
