"""Ablation: the same training budget with each improvement switched off in turn, judged by vdiff.evaluate.

    python benchmarks/ablation.py --preset tiny --minutes 5 --out ablation/      # per trained variant
    python benchmarks/ablation.py --preset smoke --max-steps 3 --out /tmp/abl   # seconds, for a check

Trained variants (each gets the same --minutes of wall clock, or the same --max-steps):
  full            everything on: the digit recipe (presets.json "_digits": grey, v-prediction,
                  timestep shift 4, caption whitening, x0 clipping, no flips), AdaGN with separate time/text MLPs,
                  the caption LayerNorm, EMA warm-up, the lr decaying to zero at the budget, automatic
                  precision (bf16 on GPUs and CPUs that have it), perceptual loss at
                  --perceptual-weight (0 leaves it off; then skip no_perceptual, it would equal full)
  adagn_concat    one MLP on [time, text] (the reference's FiLM) instead of separate MLPs
  no_perceptual   perceptual_weight = 0
  ema_fixed       no EMA warm-up: decay fixed at --ema-fixed-decay (0.9999) from step 0
  epsilon         epsilon-prediction instead of v-prediction
  no_text_whitening  the pooled caption without whitening
  no_timestep_shift  uniform training timesteps
  min_snr         min-SNR-5 loss weighting added (the recipe before the shift; for v it starves the
                  noisiest steps, docs/diffusion.md)
  min_snr_cap_only  min-SNR-5 that only lowers the low-noise steps' weight (snr_cap_only: v's x0 weight
                  min(SNR + 1, 5)), the noisy steps at the plain loss
  no_text_norm    the caption MLP without its LayerNorm
  constant_lr     a constant lr after warm-up instead of the linear decay to zero at the budget
  fp32            fp32 instead of bf16 autocast (equals full where the machine has no bf16)
  shift_2         timestep shift 2 instead of 4 (measured, not kept: docs/evaluation.md)
  self_condition  self-conditioning added (config.self_condition; measured, not kept yet)
  space_time_attention  space-time attention added at the attention resolutions (measured, not kept)
  hflip           horizontal flips with "left"/"right" swapped in the caption (the digit recipe before:
                  a mirrored 3, 5, 6 or 7 kept its caption, and the digits changed shape; docs/evaluation.md)
  cross_attention cross-attention to the caption's token embeddings added at the attention resolutions
  temporal_conv_full_res  the 3-tap temporal convolution instead of temporal attention at the full
                  resolution (temporal attention at the lower two: a speed lever)
  frame_conditioning  trained with given frames (a share of each batch continues, ends or fills in
                  given frames; docs/editing.md): plain text-to-video must not lose by it
Sampling variants (the "full" run's weights, sampled differently):
  static_threshold  clip x0 to [-1, 1]            (the digit presets' own choice: then equal to full)
  dynamic_threshold Imagen's dynamic thresholding at p = 0.995 (msrvtt's own choice)
  ddpm_1000         1000-step (config.timesteps) ancestral DDPM instead of 20-step DDIM
  dpmpp_10          10-step DPM-Solver++ instead of 20-step DDIM
  guidance_4        classifier-free guidance 4 instead of the config's scale
  online_weights    the online weights instead of the EMA
Writes ablation.json (every report) and ablation.md (one table) into --out, and prints the table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

TRAINED = ("full", "adagn_concat", "no_perceptual", "ema_fixed", "epsilon", "no_text_whitening",
           "no_timestep_shift", "min_snr", "min_snr_cap_only", "no_text_norm", "constant_lr", "fp32", "shift_2",
           "self_condition", "space_time_attention", "hflip", "cross_attention", "temporal_conv_full_res",
           "frame_conditioning")
SAMPLED = ("static_threshold", "dynamic_threshold", "ddpm_1000", "dpmpp_10", "guidance_4", "online_weights")
COLUMNS = ("digit_accuracy", "direction_accuracy", "both_correct", "frame_digit_consistency", "temporal_consistency",
           "flicker")


def variant_overrides(name: str, perceptual_weight: float, ema_fixed_decay: float, preset: str = "tiny") -> dict:
    """Config changes of a trained variant relative to the full model (the digit recipe of presets.json)."""
    from vdiff.config import preset_fields

    full = {**preset_fields("_digits"), "adagn": "separate", "perceptual_weight": perceptual_weight,
            "text_norm": True, "snr_gamma": None, "lr_schedule": "linear_budget", "mixed_precision": "auto"}
    changes = {"full": {}, "adagn_concat": {"adagn": "concat"}, "no_perceptual": {"perceptual_weight": 0.0},
               "ema_fixed": {"ema_decay_min": ema_fixed_decay, "ema_decay_max": ema_fixed_decay},
               "epsilon": {"prediction_type": "epsilon"}, "no_text_whitening": {"text_whitening": False},
               "no_timestep_shift": {"timestep_shift": 1.0}, "min_snr": {"snr_gamma": 5.0},
               "min_snr_cap_only": {"snr_gamma": 5.0, "snr_cap_only": True},
               "no_text_norm": {"text_norm": False}, "constant_lr": {"lr_schedule": "constant"},
               "fp32": {"mixed_precision": "no"}, "shift_2": {"timestep_shift": 2.0},
               "self_condition": {"self_condition": True}, "space_time_attention": {"space_time_attention": True},
               "hflip": {"hflip": True}, "cross_attention": {"cross_attention": True},
               "temporal_conv_full_res": {"temporal_attention_resolutions": _below_full_resolution(preset)},
               "frame_conditioning": {"frame_conditioning": True}}
    return {**full, **changes[name]}


def _below_full_resolution(preset: str) -> list[int]:
    """The preset's UNet resolutions but the first (full) one: where temporal attention stays."""
    from vdiff.config import get_preset

    cfg = get_preset(preset)
    return [cfg.image_size // 2 ** i for i in range(1, len(cfg.dim_mults))]


def sampling_settings(name: str, config, steps: int) -> dict:
    """evaluate() keyword arguments of a variant: how its clips are sampled."""
    if name == "static_threshold":
        return {"steps": steps, "sampler": "ddim", "x0_clip": "static"}
    if name == "dynamic_threshold":
        return {"steps": steps, "sampler": "ddim", "x0_clip": "dynamic", "x0_clip_quantile": 0.995}
    if name == "ddpm_1000":  # x0 clipping as the run's config says
        return {"steps": config.timesteps, "sampler": "ddpm"}
    if name == "dpmpp_10":
        return {"steps": 10, "sampler": "dpm++"}
    if name == "guidance_4":
        return {"steps": steps, "sampler": "ddim", "guidance": 4.0}
    return {"steps": steps, "sampler": "ddim"}


def run_ablation(preset: str, data_dir: Path, out_dir: Path, *, minutes: float | None, max_steps: int | None,
                 variants: list[str], num_per_prompt: int, max_prompts: int | None, steps: int,
                 perceptual_weight: float, ema_fixed_decay: float, seed: int = 0,
                 on_row: Callable[[dict[str, dict]], None] | None = None) -> dict:
    """Train each trained variant under one budget, evaluate every variant; returns {variant: row}.

    Trained variants come first and the sampling variants of "full" last (1000-step DDPM is the
    slowest part); on_row gets the rows so far after each one, so a cut-short run keeps its rows.
    """
    from vdiff.config import get_preset
    from vdiff.evaluate import evaluate
    from vdiff.generate import load_pipeline
    from vdiff.hub import steps_trained
    from vdiff.train import train

    rows: dict[str, dict] = {}
    # None keeps the preset's max_steps as a cap (it also sets the LR schedule's length).
    budget = {"max_minutes": minutes, "max_steps": max_steps}
    needed = [v for v in TRAINED if v in variants or (v == "full" and any(s in variants for s in SAMPLED))]
    trained: dict[str, tuple[Path, object, float]] = {}
    for name in needed:
        config = get_preset(preset, **variant_overrides(name, perceptual_weight, ema_fixed_decay, preset), seed=seed,
                            sample_every=0, save_every=0)
        run = out_dir / "runs" / name
        t0 = time.perf_counter()
        train(config, data_dir, run, resume=False, **budget)
        trained[name] = (run, config, time.perf_counter() - t0)
    evaluations = [(v, v) for v in needed if v in variants] + [(v, "full") for v in SAMPLED if v in variants]
    pipe, loaded_from = None, None
    for variant, source in evaluations:
        run, config, train_s = trained[source]
        use_ema = variant != "online_weights"
        if (source, use_ema) != loaded_from:  # the sampling variants of "full", one after another, share a load
            pipe, loaded_from = load_pipeline(run, use_ema=use_ema), (source, use_ema)
        t1 = time.perf_counter()
        report = evaluate(run, data_dir, num_per_prompt=num_per_prompt, max_prompts=max_prompts, seed=seed,
                          pipeline=pipe, use_ema=use_ema, progress=False,
                          **sampling_settings(variant, config, steps))
        rows[variant] = {"run": str(run), "overrides": variant_overrides(source, perceptual_weight, ema_fixed_decay,
                                                                         preset),
                         "train_steps": steps_trained(run), "train_s": round(train_s, 1),
                         "sample_eval_s": round(time.perf_counter() - t1, 1), "report": report}
        if on_row is not None:
            on_row(rows)
    return rows


def markdown_table(rows: dict[str, dict], budget: str, first_column: str = "variant") -> str:
    """One line per row: the generated clips' metrics, then the real (ceiling) and noise (floor) rows."""
    head = f"| {first_column} | steps | " + " | ".join(COLUMNS) + " | both (held-out) | Fréchet |"
    lines = [f"Budget: {budget}", "", head, "|" + "---|" * (len(COLUMNS) + 4)]

    def line(label: str, steps, r: dict) -> str:
        cells = [f"{r['overall'][c]:.3f}" for c in COLUMNS] + [f"{r['heldout']['both_correct']:.3f}",
                                                                f"{r['frechet_distance']:.1f}"]
        return f"| {label} | {steps} | " + " | ".join(cells) + " |"

    for name, row in rows.items():
        lines.append(line(name, row["train_steps"], row["report"]["generated"]))
    if rows:
        any_report = next(iter(rows.values()))["report"]
        lines.append(line("real clips (ceiling)", "-", any_report["real"]))
        lines.append(line("noise (floor)", "-", any_report["noise"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/ablation.py", description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="tiny")
    p.add_argument("--data", default=None, help="labeled pairs folder (default: generate one under --out)")
    p.add_argument("--num-clips", type=int, default=2000, help="clips to generate when --data is not given")
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=None, help="wall-clock training budget per trained variant")
    p.add_argument("--max-steps", type=int, default=None, help="step budget per trained variant (instead of minutes)")
    p.add_argument("--variants", default=",".join(TRAINED + SAMPLED))
    p.add_argument("--num-per-prompt", type=int, default=2)
    p.add_argument("--max-prompts", type=int, default=None)
    p.add_argument("--steps", type=int, default=20, help="DDIM steps of the non-DDPM variants")
    p.add_argument("--perceptual-weight", type=float, default=0.1, help="perceptual weight of the full model")
    p.add_argument("--ema-fixed-decay", type=float, default=0.9999)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(TRAINED + SAMPLED))
    if unknown or (args.minutes is None and args.max_steps is None):
        print(f"error: {'unknown variant(s) ' + ', '.join(unknown) if unknown else 'give --minutes or --max-steps'}",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from vdiff.config import get_preset
    cfg = get_preset(args.preset)
    data = Path(args.data) if args.data else out / "data"
    if args.data is None and not (data / "manifest.jsonl").is_file():
        from data_prep.moving_mnist import prepare_moving_mnist
        prepare_moving_mnist(data, num=args.num_clips, size=cfg.image_size, frames=cfg.num_frames,
                             holdout="default", progress=False)
    budget = (f"{args.minutes} min" if args.minutes is not None else f"{args.max_steps} steps") + \
             f" per trained variant, preset {args.preset}, {args.num_per_prompt} clips per prompt"
    from vdiff.evaluate import write_report

    def write(rows: dict[str, dict]) -> None:
        write_report({"budget": budget, "variants": rows}, out / "ablation.json")
        (out / "ablation.md").write_text(markdown_table(rows, budget) + "\n")

    rows = run_ablation(args.preset, data, out, minutes=args.minutes, max_steps=args.max_steps, variants=variants,
                        num_per_prompt=args.num_per_prompt, max_prompts=args.max_prompts, steps=args.steps,
                        perceptual_weight=args.perceptual_weight, ema_fixed_decay=args.ema_fixed_decay, seed=args.seed,
                        on_row=write)
    write(rows)
    print(markdown_table(rows, budget))
    return 0


if __name__ == "__main__":
    sys.exit(main())
