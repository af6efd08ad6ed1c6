"""Attention on a CPU: PyTorch's fused kernel against matmul-softmax-matmul, forward + backward.

    python benchmarks/attention_cpu.py [--threads 1] [--iters 5]

Prints one JSON line per shape: milliseconds for ``F.scaled_dot_product_attention`` and for
``vdiff.models.attention._math_attention`` (fp32 softmax), in bf16 and fp32, and which one ``vdiff.models.attention.attention``
picks. The shapes are the ``tiny`` preset's (batch 8, 8 frames, 4 heads x 32): temporal attention
at 32x32 / 16x16 / 8x8 and spatial attention at 8x8, plus longer sequences for the crossover.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from vdiff.models.attention import _math_attention, _use_math_attention  # noqa: E402

SHAPES = {  # name: (sequences N, length L)
    "temporal 32x32": (8 * 32 * 32, 8), "temporal 16x16": (8 * 16 * 16, 8), "temporal 8x8": (8 * 8 * 8, 8),
    "spatial 8x8": (8 * 8, 64), "128 keys": (32, 128), "256 keys": (16, 256), "space-time 8x8": (8, 512),
}


def milliseconds(fn, q, k, v, iters: int) -> float:
    for _ in range(2):
        fn(q, k, v).float().sum().backward()
    start = time.perf_counter()
    for _ in range(iters):
        fn(q, k, v).float().sum().backward()
    return (time.perf_counter() - start) / iters * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kernel = lambda q, k, v: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
    matmuls = lambda q, k, v: _math_attention(q, k, v, None)  # noqa: E731
    for name, (n, length) in SHAPES.items():
        row = {"shape": name, "N": n, "L": length, "threads": args.threads}
        for dtype in (torch.bfloat16, torch.float32):
            q, k, v = (torch.randn(n, 4, length, 32, dtype=dtype, requires_grad=True) for _ in range(3))
            tag = "bf16" if dtype == torch.bfloat16 else "fp32"
            row[f"{tag}_kernel_ms"] = round(milliseconds(kernel, q, k, v, args.iters), 1)
            row[f"{tag}_matmul_ms"] = round(milliseconds(matmuls, q, k, v, args.iters), 1)
            row[f"{tag}_picked"] = "matmul" if _use_math_attention(q, k, None) else "kernel"
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
