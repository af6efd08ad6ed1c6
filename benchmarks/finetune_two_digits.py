"""Fine-tuning (``--init-from``) against training from scratch on two-digit clips, at every kept checkpoint.

    python benchmarks/finetune_two_digits.py --run scratch=RUN_A --run finetune=RUN_B --last base=RUN_BASE \
        --eval-two EVAL2 --eval-one EVAL1 --out docs/results/finetune_two_digits.json

For each checkpoint the EMA weights sample (20-step DDIM, the run's sampling settings, seed 0):
  * two-digit prompts from EVAL2 ("digit 2 moving right and digit 0 moving left"): vdiff's evaluator
    reads one digit per clip, so here the judge's clip-level digit probabilities (all frames vote) must
    put the two captioned digits on top (``pair_accuracy``; real clips reach 0.89 with this rule, the
    ceiling it has), and the Fréchet distance in the judge's feature space to real two-digit clips;
  * the evaluator itself (``vdiff.evaluate``) on EVAL1's single-digit prompts: what it can score.
Each with noise (floor) and real clips (ceiling). The training curves come from each run's log.jsonl.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clipkit.manifest import manifest_rows  # noqa: E402
from vdiff.core.config import Config  # noqa: E402
from vdiff.core.media import load_gif  # noqa: E402
from vdiff.core.run_folder import RunFolder, checkpoint_step  # noqa: E402
from vdiff.evaluation.evaluate import evaluate, match_shape, noise_clips  # noqa: E402
from vdiff.evaluation.judge import judge_clips, load_judge  # noqa: E402
from vdiff.evaluation.metrics import clip_features, frechet_distance  # noqa: E402
from vdiff.evaluation.report import write_report  # noqa: E402
from vdiff.pipelines.loading import load_pipeline  # noqa: E402
from vdiff.training.checkpoint import load_checkpoint, save_weights  # noqa: E402

LOSS_STEPS = (10, 50, 100, 250, 500, 750, 1000)


def two_digit_set(folder: Path, prompts: int, reference: int, real: int, frames: int, size: int):
    """(captions with their digits, reference clips, real ceiling clips with their digits) of EVAL2."""
    rows = [r for r in manifest_rows(folder) if len(r.get("digits") or []) == 2]
    if len(rows) < prompts + reference + real:
        raise ValueError(f"{folder} has {len(rows)} two-digit clips; need {prompts + reference + real}")
    clip = lambda r: match_shape(load_gif(folder / f"{r['name']}.gif"), frames, size)  # noqa: E731
    asked = [(r["caption"], r["digits"]) for r in rows[:prompts]]
    ref = np.stack([clip(r) for r in rows[prompts:prompts + reference]])
    tail = rows[prompts + reference:prompts + reference + real]
    return asked, ref, np.stack([clip(r) for r in tail]), [r["digits"] for r in tail]


def pair_scores(judge, clips: np.ndarray, digits: list[list[int]], ref_features: np.ndarray) -> dict:
    """pair_accuracy (the captioned digits are the judge's top ones) and the Fréchet distance to the reference."""
    verdict = judge_clips(judge, clips)
    hits = [set(np.argsort(-p)[:len(set(d))].tolist()) == set(d) for p, d in zip(verdict.digit_probs, digits)]
    return {"n": len(clips), "pair_accuracy": float(np.mean(hits)),
            "frechet_distance": frechet_distance(clip_features(ref_features), clip_features(verdict.features))}


def checkpoint_view(path: Path, folder: Path) -> Path:
    """A run folder holding only the checkpoint's EMA weights and config, for load_pipeline."""
    state = load_checkpoint(path)
    ema = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
    run = RunFolder(folder)
    save_weights(ema, run.weights_file("ema"))
    config = Config.from_dict(state["config"])
    config.to_json(run.weights_config_file)
    config.to_json(run.config_file)
    return folder


def loss_curve(run: Path) -> dict:
    records = [r for r in RunFolder(run).log_records() if isinstance(r.get("noise_loss"), float)]
    at = {r["step"]: r["noise_loss"] for r in records}
    speeds = [r["steps_per_s"] for r in records if r.get("steps_per_s")]
    last = [r["noise_loss"] for r in records if r["step"] > records[-1]["step"] - 100]
    return {"noise_loss_at": {s: at[s] for s in LOSS_STEPS if s in at}, "noise_loss_last_100": statistics.mean(last),
            "steps": records[-1]["step"], "steps_per_s_median": statistics.median(speeds)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", action="append", default=[], help="NAME=RUN_DIR, judged at every kept checkpoint")
    p.add_argument("--last", action="append", default=[], help="NAME=RUN_DIR, judged at its newest checkpoint only")
    p.add_argument("--eval-two", required=True, help="two-digit labeled clips (data_prep moving_mnist --num-digits 2)")
    p.add_argument("--eval-one", required=True, help="single-digit labeled clips for vdiff.evaluate")
    p.add_argument("--prompts", type=int, default=32)
    p.add_argument("--num-per-prompt", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    judge = load_judge()
    runs = [(spec, False) for spec in args.run] + [(spec, True) for spec in args.last]
    report: dict = {"settings": vars(args), "runs": {}}
    first = Config.from_json(RunFolder(runs[0][0].split("=", 1)[1]).config_file)
    asked, ref, real, real_digits = two_digit_set(Path(args.eval_two), args.prompts, 128,
                                                  args.prompts * args.num_per_prompt, first.num_frames,
                                                  first.image_size)
    ref_features = judge_clips(judge, ref).features
    gen_digits = [d for _, d in asked for _ in range(args.num_per_prompt)]
    report["two_digit"] = {"real": pair_scores(judge, real, real_digits, ref_features),
                           "noise": pair_scores(judge, noise_clips(len(real), first.num_frames, first.image_size),
                                                gen_digits, ref_features)}
    for spec, last_only in runs:
        name, run = spec.split("=", 1)
        entry = {"path": run, **loss_curve(Path(run)), "checkpoints": {}}
        checkpoints = RunFolder(run).checkpoints()
        for path in checkpoints[-1:] if last_only else checkpoints:
            with tempfile.TemporaryDirectory() as tmp:
                pipe = load_pipeline(checkpoint_view(path, Path(tmp)))
                clips = pipe([c for c, _ in asked], num=args.num_per_prompt, seed=0, steps=args.steps, progress=False)
                one = evaluate(tmp, args.eval_one, pipeline=pipe, num_per_prompt=4, max_prompts=16, steps=args.steps,
                               progress=False)
            step = checkpoint_step(path)
            entry["checkpoints"][step] = {
                "two_digit": pair_scores(judge, clips, gen_digits, ref_features),
                "one_digit": {k: one["generated"]["overall"][k] for k in ("digit_accuracy", "direction_accuracy",
                                                                            "both_correct")}
                | {"frechet_distance": one["generated"]["frechet_distance"]},
            }
            report.setdefault("one_digit", {n: {k: one[n]["overall"][k] for k in ("digit_accuracy",
                                                "direction_accuracy", "both_correct")}
                                            | {"frechet_distance": one[n]["frechet_distance"]} for n in ("noise", "real")})
            print(name, step, entry["checkpoints"][step], flush=True)
        report["runs"][name] = entry
    write_report(report, args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
