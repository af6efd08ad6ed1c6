"""Side by side with the reference: lucidrains' video-diffusion-pytorch 0.7.0 against vdiff, same data,
same wall clock, same caption embeddings, judged by the same evaluator.

    pip install --no-deps -r requirements-bench.txt
    python benchmarks/reference_side_by_side.py --data DATA --eval-data EVAL --minutes 30 --out OUT \\
        [--ours RUN_DIR] [--num-per-prompt 2] [--max-prompts 16]

What the reference gets, so that only the model and its training recipe differ:
- the same pairs folder through vdiff's data pipeline (cached clips at the preset's frames, size and
  channels, whole-clip flips with "left"/"right" swapped in the caption);
- the same pooled MiniLM caption embeddings as ``cond``, and ``null_cond_prob`` 0.1;
- its own ``Unet3D`` at the preset's width (``dim``, ``dim_mults``) and its own ``GaussianDiffusion``
  (cosine schedule, noise prediction, L1 loss), trained as its ``Trainer`` does: Adam at lr 1e-4, no
  clipping, the preset's batch size; its EMA (decay 0.995 every 10 steps) only starts at step 2,000,
  so below that the EMA model is the online model, which is what is sampled.
- Its sampler is 1000 ancestral steps with two calls each (~9 minutes a clip on a 2-core CPU), so it
  is sampled with the same 20-step DDIM and guidance 2.0 as ours, on its own beta schedule, with its
  own static clipping of x0. That only helps it.

``--ours RUN_DIR`` scores a vdiff run folder with the same prompts, seeds and settings, for the table.
Writes OUT/side_by_side.json and OUT/side_by_side.md and prints the table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

REFERENCE = "video-diffusion-pytorch==0.7.0"


class ReferenceDenoiser(nn.Module):
    """vdiff's denoiser signature around the reference ``Unet3D``: rows with ``drop_mask`` get its null embedding."""

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, text_emb: torch.Tensor,
                drop_mask: torch.Tensor | None = None, text_tokens: torch.Tensor | None = None,
                text_mask: torch.Tensor | None = None) -> torch.Tensor:
        if drop_mask is not None:
            text_emb = torch.where(drop_mask.bool()[:, None], self.unet.null_cond_emb.to(text_emb.dtype), text_emb)
        return self.unet(x, timesteps, cond=text_emb)


def reference_pipeline(unet: nn.Module, betas: torch.Tensor, config, text_encoder, device: torch.device):
    """A ``vdiff.generate.Pipeline`` that samples the reference model on the reference's own beta schedule."""
    from vdiff.diffusion import Diffusion
    from vdiff.generate import Pipeline

    # Its own static clipping of x0, and exactly its schedule (diffusers' cosine caps betas at 0.999, it at 0.9999).
    config = config.replace(prediction_type="epsilon", sampling={"x0_clip": "static"}, timesteps=len(betas))
    return Pipeline(ReferenceDenoiser(unet), config, text_encoder, device, diffusion=Diffusion(config, betas=betas))


def train_reference(config, data_dir: Path, minutes: float, device: torch.device, seed: int = 0):
    """Train the reference for ``minutes`` of wall clock; returns (unet, diffusion, steps, seconds, losses)."""
    from video_diffusion_pytorch import GaussianDiffusion, Unet3D
    from vdiff.training.data import PairsDataset, collate
    from vdiff.models.text import load_text_encoder

    torch.manual_seed(seed)
    encoder = load_text_encoder(config.text_encoder)
    data = PairsDataset(data_dir, config, encoder)
    unet = Unet3D(dim=config.dim, dim_mults=tuple(config.dim_mults), channels=config.channels,
                  cond_dim=encoder.dim).to(device)
    diffusion = GaussianDiffusion(unet, image_size=config.image_size, num_frames=config.num_frames,
                                  channels=config.channels, timesteps=1000).to(device)  # its default: L1 loss
    optimizer = torch.optim.Adam(diffusion.parameters(), lr=1e-4)
    order = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < 60 * minutes:
        index = torch.randint(len(data), (config.batch_size,), generator=order).tolist()
        batch = collate([data[(i, seed * 1_000_003 + len(losses) * 64 + k)] for k, i in enumerate(index)])
        clips01 = (batch["video"].to(device) + 1) / 2  # its forward takes clips in [0, 1]
        loss = diffusion(clips01, cond=batch["text_emb"].to(device), null_cond_prob=config.cond_drop_prob)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if len(losses) % 10 == 0:
            print(f"reference step {len(losses)}: loss {sum(losses[-10:]) / 10:.4f}", file=sys.stderr, flush=True)
    return unet, diffusion, len(losses), time.perf_counter() - start, losses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/reference_side_by_side.py", description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="tiny", help="shape, width, batch size and data settings for both models")
    p.add_argument("--data", required=True, help="labeled pairs folder to train the reference on")
    p.add_argument("--eval-data", required=True, help="labeled pairs folder with the prompts to judge")
    p.add_argument("--minutes", type=float, required=True, help="wall-clock training budget of the reference")
    p.add_argument("--out", required=True)
    p.add_argument("--ours", default=None, help="a vdiff run folder to score with the same settings")
    p.add_argument("--num-per-prompt", type=int, default=2)
    p.add_argument("--max-prompts", type=int, default=16)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        import video_diffusion_pytorch  # noqa: F401
    except ImportError:
        print(f"error: the side-by-side needs {REFERENCE}: pip install --no-deps -r requirements-bench.txt",
              file=sys.stderr)
        return 2
    for flag, folder in (("--data", args.data), ("--eval-data", args.eval_data)):
        if not Path(folder).is_dir():
            print(f"error: {flag} {folder} is not a folder", file=sys.stderr)
            return 2
    if args.ours is not None and not (Path(args.ours) / "config.json").is_file():
        print(f"error: --ours {args.ours} is not a vdiff run folder (no config.json)", file=sys.stderr)
        return 2

    from safetensors.torch import save_model

    from ablation import markdown_table  # benchmarks/ is on sys.path when run as a script
    from clipkit.atomic import atomic_write
    from vdiff.config import get_preset
    from vdiff.evaluate import evaluate, write_report
    from vdiff.generate import load_pipeline
    from vdiff.hub import steps_trained
    from vdiff.models.text import load_text_encoder

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cpu")
    config = get_preset(args.preset)
    unet, diffusion, steps, seconds, losses = train_reference(config, Path(args.data), args.minutes, device, args.seed)
    # save_model, not save_file: the reference shares its rotary-embedding buffers between layers.
    atomic_write(out / "reference_unet.safetensors", lambda tmp: save_model(unet, tmp))
    (out / "reference_losses.json").write_text(json.dumps(losses) + "\n")

    settings = dict(num_per_prompt=args.num_per_prompt, max_prompts=args.max_prompts, steps=args.steps,
                    guidance=args.guidance, seed=args.seed, progress=False)
    rows: dict[str, dict] = {}
    pipe = reference_pipeline(unet.eval(), diffusion.betas, config, load_text_encoder(config.text_encoder), device)
    t0 = time.perf_counter()
    report = evaluate(out, args.eval_data, pipeline=pipe, **settings)  # its config clips x0 statically
    rows["reference (video-diffusion-pytorch 0.7.0)"] = {"train_steps": steps, "train_s": round(seconds, 1),
                                                         "sample_eval_s": round(time.perf_counter() - t0, 1),
                                                         "report": report}
    if args.ours is not None:
        ours = load_pipeline(args.ours)
        t0 = time.perf_counter()
        report = evaluate(args.ours, args.eval_data, pipeline=ours, **settings)
        rows["vdiff"] = {"run": str(args.ours), "train_steps": steps_trained(Path(args.ours)),
                         "sample_eval_s": round(time.perf_counter() - t0, 1), "report": report}
    budget = (f"reference trained {args.minutes} min on {args.data} (preset {args.preset} shape, batch "
              f"{config.batch_size}); {args.num_per_prompt} clips per prompt, {args.steps}-step DDIM, "
              f"guidance {args.guidance}")
    write_report({"budget": budget, "rows": rows}, out / "side_by_side.json")
    table = markdown_table(rows, budget, first_column="model")
    (out / "side_by_side.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
