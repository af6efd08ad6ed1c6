"""How well a trained run edits real clips it never saw, judged by vdiff's judge (vdiff.judge).

    OMP_NUM_THREADS=1 python benchmarks/edit_quality.py --run RUN [--clips 32] [--steps 10] [--seed 4242] \\
        [--speed PX] [--out docs/results/edit_tiny.json] [--sheet docs/images/edit_tiny.png]

Fresh labeled clips ("digit D moving X") come from ``data_prep.moving_mnist.generate_labeled`` with a
seed the training data did not use (it used 0), with the bundled scikit-learn glyphs the judge and the
digit runs use, at the run's size and frame count; clips whose combination (or,
for re-prompting, whose target combination) is in the default holdout are skipped, so every number is
about combinations the run was trained on. ``--speed`` sets their speed in px per frame (default: the
data_prep default for the run's size and frame count; give the training data's, e.g. 0.63 for ``data/long``).

* re-prompt "digit D moving X" -> "digit D moving <opposite of X>" at each strength: the share of
  edited clips the judge sees moving the new way, and the share that keep digit D (targets 0.80 each);
  and, on half the clips, "digit D moving X" -> "digit D' moving X" (new digit, same motion); the
  strength with the best mean of the two "both" shares is reported as the default's candidate;
* re-prompt to the opposite direction keeping the first frame (``keep_first``) beside today's whole-clip
  re-prompt at the default strength, on fresh clips whose digit has room to go back from frame 0
  (``vdiff.evaluation.reprompt``, also ``python -m vdiff.evaluate --reprompt``): the new direction and the
  digit kept, judged on the re-animated frames 1 to F-1 (targets 0.80 each);
* extend by 8 frames with the clip's own caption, for each way of keeping the context (plain
  replacement, RePaint resampling, reconstruction guidance): the new frames' digit and direction
  (targets 0.80 / 0.90) and the seam, the mean absolute difference from the last old frame to the
  first new one, over the clip's own mean frame step (target <= 1.5); and the first variant again on
  half as many clips at half the data's speed, which end mid-frame with room to go on;
* regenerating frames 4-7 of a clip with its own caption (digit and direction of the whole clip);
* CPU seconds of a single-clip re-prompt and extension at the defaults.

Prints the JSON and writes it to --out; the contact sheet (input, re-prompted, extended, a box and
frames regenerated) goes to --sheet.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}
EXTEND_VARIANTS = {  # how the context is kept: the share of each window's frames that are known (8 frames: 4 or 6)
    "context_half": {"context_share": 0.5, "resample": 1, "recon_weight": 0.0},
    "context_3_4": {"context_share": 0.75, "resample": 1, "recon_weight": 0.0},
    "context_half_resample_2": {"context_share": 0.5, "resample": 2, "recon_weight": 0.0},
    "context_half_recon_16": {"context_share": 0.5, "resample": 1, "recon_weight": 16.0},
    "context_3_4_recon_16": {"context_share": 0.75, "resample": 1, "recon_weight": 16.0},
}


def fresh_clips(size: int, frames: int, num: int, seed: int,
                speed: float | None = None) -> tuple[np.ndarray, list[int], list[str], np.ndarray]:
    """``num`` labeled single-digit clips whose combination and opposite combination were both trained on,
    with their true centres [num, F, 2]."""
    from data_prep.moving_mnist import DEFAULT_HOLDOUT, generate_labeled

    clips, digits, directions, centers = [], [], [], []
    for clip in generate_labeled(num * 4, size=size, frames=frames, seed=seed, holdout="default", source="sklearn",
                                 speed=speed):
        d, m = clip.digits[0], clip.directions[0]
        if clip.split == "holdout" or (d, OPPOSITE[m]) in DEFAULT_HOLDOUT:
            continue
        clips.append(clip.frames)
        digits.append(d)
        directions.append(m)
        centers.append(clip.centers[0])
        if len(clips) == num:
            break
    return np.stack(clips), digits, directions, np.stack(centers)


def variant_kwargs(name: str, frames: int) -> dict:
    """``pipe.extend`` keyword arguments of an EXTEND_VARIANTS entry for a run of ``frames`` frames."""
    v = dict(EXTEND_VARIANTS[name])
    v["context"] = max(1, min(frames - 1, round(v.pop("context_share") * frames)))
    return v


def mean_step(clips: np.ndarray) -> np.ndarray:
    """Per clip: mean absolute difference of consecutive frames, [0, 1] units."""
    x = clips.astype(np.float32) / 255.0
    return np.abs(np.diff(x, axis=1)).mean(axis=(1, 2, 3, 4))


def judged(judge, clips: np.ndarray, digits: list[int], directions: list[str]) -> dict:
    """The evaluator's scores (``vdiff.evaluation.scores``) under this report's names."""
    from vdiff.evaluation.scores import judge_summary

    s = judge_summary(judge, clips, digits, directions)
    return {"digit_kept": s["digit_accuracy"], "direction": s["direction_accuracy"], "both": s["both_correct"]}


def main(argv: list[str] | None = None) -> int:
    from vdiff.core.cli import OneLineParser

    p = OneLineParser(prog="benchmarks/edit_quality.py", description=__doc__.split("\n")[0])
    p.add_argument("--run", required=True)
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=4242, help="seed of the fresh clips (training data used 0)")
    p.add_argument("--speed", type=float, default=None,
                   help="px per frame of the fresh clips (default: data_prep's for the run's size and frames)")
    p.add_argument("--strengths", default="0.7,0.8,0.9,1.0", help="re-prompt to the opposite direction at these")
    p.add_argument("--digit-strengths", default="0.5,0.6,0.7,0.8,0.9,1.0", help="re-prompt to another digit at these")
    p.add_argument("--variants", default="context_3_4,context_half")
    p.add_argument("--out", default="docs/results/edit_tiny.json")
    p.add_argument("--sheet", default="docs/images/edit_tiny.png")
    args = p.parse_args(argv)

    from clipkit.sheet import contact_sheet
    from vdiff.edit import DEFAULT_STRENGTH
    from vdiff.generate import load_pipeline
    from vdiff.judge import load_judge

    from vdiff.evaluation.reprompt import reprompt_opposite
    from vdiff.evaluation.report import write_report

    torch.set_num_threads(1)
    try:
        pipe = load_pipeline(args.run, device="cpu")
        cfg = pipe.config
        f, s = cfg.num_frames, cfg.image_size
        clips, digits, directions, _ = fresh_clips(s, f, args.clips, args.seed, speed=args.speed)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    judge = load_judge()
    captions = [f"digit {d} moving {m}" for d, m in zip(digits, directions)]
    targets = [OPPOSITE[m] for m in directions]
    new_prompts = [f"digit {d} moving {m}" for d, m in zip(digits, targets)]
    common = {"steps": args.steps, "progress": False}
    report: dict = {"run": str(args.run), "clips": len(clips), "seed": args.seed, "steps": args.steps,
                    "sampler": cfg.sampling.sampler, "input": judged(judge, clips, digits, directions)}

    curve = {}
    for strength in [float(x) for x in args.strengths.split(",")]:
        start = time.perf_counter()
        out = pipe.reprompt(clips, new_prompts, strength=strength, seed=1, **common)
        curve[f"{strength:.2f}"] = {**judged(judge, out, digits, targets),
                                    "old_direction": judged(judge, out, digits, directions)["direction"],
                                    "seconds_batch": round(time.perf_counter() - start, 1)}
        print(f"strength {strength:.2f}: {curve[f'{strength:.2f}']}", file=sys.stderr)
    report["reprompt_opposite"] = curve

    # The other half of re-prompting: change the digit, keep the motion (SDEdit keeps the layout).
    from data_prep.moving_mnist import DEFAULT_HOLDOUT

    k = max(2, len(clips) // 2)
    other = [next((d + j) % 10 for j in range(3, 10) if ((d + j) % 10, m) not in DEFAULT_HOLDOUT)
             for d, m in zip(digits[:k], directions[:k])]
    curve_digit = {}
    for strength in [float(x) for x in args.digit_strengths.split(",")]:
        start = time.perf_counter()
        out = pipe.reprompt(clips[:k], [f"digit {d} moving {m}" for d, m in zip(other, directions[:k])],
                            strength=strength, seed=1, **common)
        curve_digit[f"{strength:.2f}"] = {**judged(judge, out, other, directions[:k]), "clips": k,
                                          "old_digit": judged(judge, out, digits[:k], directions[:k])["digit_kept"],
                                          "seconds_batch": round(time.perf_counter() - start, 1)}
        print(f"other digit {strength:.2f}: {curve_digit[f'{strength:.2f}']}", file=sys.stderr)
    report["reprompt_other_digit"] = curve_digit
    both = {key: [curve[key]["both"]] for key in curve}
    for key, row in curve_digit.items():
        both.setdefault(key, []).append(row["both"])
    report["best_strength_mean_both"] = max(sorted(both), key=lambda key: sum(both[key]) / 2)

    # Keeping frame 0 and re-animating the rest: only digits with room to go back from frame 0 can, so
    # the clips are drawn from a larger fresh pool (its own seed) and filtered.
    pool, pool_digits, pool_dirs, pool_centers = fresh_clips(s, f, 8 * args.clips, args.seed + 1, speed=args.speed)
    report["reprompt_opposite_keep_first"] = reprompt_opposite(pipe, judge, pool, pool_centers, pool_digits,
                                                               pool_dirs, max_clips=args.clips,
                                                               options={"steps": args.steps}, seed=1,
                                                               progress=False)
    print(f"re-prompt keeping frame 0: {report['reprompt_opposite_keep_first']}", file=sys.stderr)

    extension = {}
    for name in args.variants.split(","):
        start = time.perf_counter()
        out = pipe.extend(clips, captions, 8, seed=2, **variant_kwargs(name, f), **common)
        new = out[:, f:]
        seam = np.abs(out[:, f].astype(np.float32) - out[:, f - 1].astype(np.float32)).mean(axis=(1, 2, 3)) / 255.0
        ratio = seam / np.maximum(mean_step(clips), 1e-6)
        extension[name] = {**judged(judge, new, digits, directions),
                           "seam_over_step_mean": float(ratio.mean()), "seam_over_step_median": float(np.median(ratio)),
                           "seam_within_1.5x": float((ratio <= 1.5).mean()),
                           "input_kept_exactly": bool(np.array_equal(out[:, :f], clips)),
                           "seconds_batch": round(time.perf_counter() - start, 1), **variant_kwargs(name, f)}
        print(f"extend {name}: {extension[name]}", file=sys.stderr)
    report["extend_8"] = extension

    # The training clips cross the frame in 8 frames (data_prep's default speed), so the clips above end
    # at the far wall, where no training clip goes on. Clips at half that speed end mid-frame: can the
    # run continue a motion that has room?
    from data_prep.moving_mnist import default_speed

    slow, slow_digits, slow_dirs, _ = fresh_clips(s, f, k, args.seed, speed=(args.speed or default_speed(s, f)) / 2)
    name = args.variants.split(",")[0]
    out = pipe.extend(slow, [f"digit {d} moving {m}" for d, m in zip(slow_digits, slow_dirs)], 8, seed=2,
                      **variant_kwargs(name, f), **common)
    seam = np.abs(out[:, f].astype(np.float32) - out[:, f - 1].astype(np.float32)).mean(axis=(1, 2, 3)) / 255.0
    ratio = seam / np.maximum(mean_step(slow), 1e-6)
    report["extend_8_half_speed_input"] = {"variant": name, **judged(judge, out[:, f:], slow_digits, slow_dirs),
                                           "seam_over_step_mean": float(ratio.mean()),
                                           "seam_within_1.5x": float((ratio <= 1.5).mean())}
    print(f"extend half-speed input: {report['extend_8_half_speed_input']}", file=sys.stderr)

    start = time.perf_counter()
    half = f // 2
    regen = pipe.regenerate(clips, captions, frames=list(range(half, f)), seed=3, **common)
    report["regenerate_frames"] = {"frames": f"{half}-{f - 1}", **judged(judge, regen, digits, directions),
                                   "kept_frames_exact": bool(np.array_equal(regen[:, :half], clips[:, :half])),
                                   "seconds_batch": round(time.perf_counter() - start, 1)}

    one = clips[0]
    start = time.perf_counter()
    re_one = pipe.reprompt(one, new_prompts[0], strength=DEFAULT_STRENGTH, seed=1, **common)
    t_reprompt = time.perf_counter() - start
    start = time.perf_counter()
    ext_one = pipe.extend(one, captions[0], 8, seed=2, **common)
    t_extend = time.perf_counter() - start
    box = (0, 0, s // 2, s)  # the left half of every frame, regenerated under the clip's own caption
    box_one = pipe.regenerate(one, captions[0], box=box, seed=3, **common)
    report["cpu_seconds_one_clip"] = {"reprompt_default_strength": round(t_reprompt, 2),
                                      "extend_8": round(t_extend, 2), "threads": torch.get_num_threads()}

    grey = np.full((f, s, s, 3), 128, np.uint8)  # fills 8-frame rows to the extended clip's 16 frames
    pad = lambda c: np.concatenate([c, grey]) if len(c) == f else c  # noqa: E731
    rows = [one, re_one, ext_one, box_one, regen[0]]
    labels = [f"input: {captions[0]}", f"re-prompt at {DEFAULT_STRENGTH}: {new_prompts[0]}",
              f"extended by 8 frames: {captions[0]}", f"box {box} regenerated: {captions[0]}",
              f"frames {half}-{f - 1} regenerated: {captions[0]}"]
    Path(args.sheet).parent.mkdir(parents=True, exist_ok=True)
    contact_sheet([pad(r) for r in rows], labels, args.sheet, frames=2 * f)
    report["contact_sheet"] = str(args.sheet)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    print(write_report(report, args.out).read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
