"""How far apart a trained run holds opposite directions, axis by axis.

For each digit the captions "digit D moving up/down/left/right" are encoded as the run encodes them;
the script prints, as one JSON object, the mean distance between the "up" and "down" rows and between
the "left" and "right" rows at three places: the whitened caption (what the model is given), the
text MLP's output (what its blocks are conditioned on) and the model's output on the same noise at
the noisiest timesteps (where a caption picks the motion). A run whose clips move up and down at a
coin flip while left and right are right shows it here as a small up-down distance beside a large
left-right one (docs/evaluation.md, "Up and down are where every recipe loses its direction").

    python benchmarks/direction_separation.py --run RUN [--timesteps 999 900 700] [--draws 4]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from vdiff.generate import load_pipeline

PAIRS = {"up_down": (0, 1), "left_right": (2, 3)}
DIRECTIONS = ("up", "down", "left", "right")


def pair_distances(rows: torch.Tensor) -> dict[str, float]:
    """rows [4, ...] in DIRECTIONS order -> the distance within each opposite pair."""
    return {name: float((rows[a] - rows[b]).flatten().norm()) for name, (a, b) in PAIRS.items()}


@torch.no_grad()
def direction_separation(run: str, timesteps: list[int], draws: int = 4, seed: int = 0) -> dict:
    pipe = load_pipeline(run)
    model, cfg = pipe.model.eval(), pipe.config
    seen: dict[str, list[dict[str, float]]] = {}  # place -> one pair_distances row per digit (and draw)
    gen = torch.Generator().manual_seed(seed)
    shape = (1, cfg.channels, cfg.num_frames, cfg.image_size, cfg.image_size)
    t_batch = {t: torch.full((len(DIRECTIONS),), t, device=pipe.device) for t in timesteps}
    for digit in range(10):
        cond = pipe.condition([f"digit {digit} moving {d}" for d in DIRECTIONS])
        tokens = {"text_tokens": cond.tokens, "text_mask": cond.mask} if cfg.cross_attention else {}
        whitened = model.whiten_text(cond.text)
        seen.setdefault("whitened_caption", []).append(pair_distances(whitened))
        seen.setdefault("text_mlp", []).append(pair_distances(model.text_mlp(whitened)))
        for _ in range(draws):
            x = torch.randn(shape, generator=gen).expand(len(DIRECTIONS), *shape[1:]).to(pipe.device)
            for t in timesteps:
                out = model(x, t_batch[t], cond.text, **tokens)
                seen.setdefault(f"model_output_t{t}", []).append(pair_distances(out.float()))
    means = {place: {name: sum(r[name] for r in rows) / len(rows) for name in PAIRS} for place, rows in seen.items()}
    for pairs in means.values():
        pairs["up_down_over_left_right"] = pairs["up_down"] / pairs["left_right"] if pairs["left_right"] else None
    return {"run": run, "digits": 10, "draws": draws, "timesteps": timesteps, "distances": means}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder (or saved pipeline folder)")
    parser.add_argument("--timesteps", type=int, nargs="+", default=[999, 900, 700])
    parser.add_argument("--draws", type=int, default=4, help="noise draws per digit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not Path(args.run).is_dir():
        print(f"direction_separation: --run {args.run}: no such run folder", file=sys.stderr)
        return 2
    print(json.dumps(direction_separation(args.run, args.timesteps, args.draws, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
