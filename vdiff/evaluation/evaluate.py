"""Metrics for a trained run on labeled moving digits, each beside its ceiling (real clips) and floor (noise).

    python -m vdiff.evaluate --run RUN_DIR --data DIR [--num-per-prompt N] [--steps 20] --out FILE.json
    (or ``evaluate(run_dir, data_dir, ...)``)

DATA is a labeled pairs folder (``python -m data_prep moving_mnist --labeled``) whose manifest rows
carry digits, directions and split. Each distinct single-digit caption is one prompt. Per prompt
and overall, for combinations seen in training and for held-out combinations:
  * digit accuracy (the judge's classifier, all frames vote), direction accuracy (centroid track)
    and both-correct;
  * temporal consistency: mean cosine similarity of consecutive frames' judge features;
  * flicker: mean absolute difference of consecutive frames, in [0, 1] units;
and over all clips the Fréchet distance to real clips in the judge's feature space (offline), plus
FVD with an I3D network when the user gives its weights (``--i3d PATH``). On request, the sections of
``vdiff.evaluation.continuation`` (continuation, long clips, in-betweening) and ``.reprompt``.
"""
from __future__ import annotations

from pathlib import Path

from . import continuation as sections
from .judge import judge_clips, judge_metadata, load_judge
from .labeled import (CAPTION_RE, SPLITS, Prompt, Tracked, load_real, load_tracked, match_shape, noise_clips,
                      read_prompts, spread)
from .metrics import clip_features, flicker, frechet_distance, i3d_features, temporal_consistency
from .reprompt import reprompt_opposite
from .scores import judge_summary, score_clips, summarize

# The data folder's readers and the scores moved to .labeled and .scores (so the sections can use them
# without importing this module); their names stay importable from here, as before.
__all__ = ["CAPTION_RE", "SPLITS", "Prompt", "Tracked", "clip_features", "evaluate", "flicker", "frechet_distance",
           "i3d_features", "judge_summary", "load_real", "load_tracked", "match_shape", "noise_clips", "read_prompts",
           "score_clips", "spread", "summarize", "summary_table", "temporal_consistency"]


# --- the evaluation ----------------------------------------------------------------------------------------

def evaluate(run_dir: str | Path, data_dir: str | Path, *, num_per_prompt: int = 4, steps: int | None = None,
             sampler: str | None = None, guidance: float | None = None, x0_clip: str | None = None,
             x0_clip_quantile: float | None = None, seed: int = 0, max_prompts: int | None = None, use_ema: bool = True, device: str | None = None,
             i3d_path: str | Path | None = None, judge_path: str | Path | None = None, pipeline=None,
             continuation: bool = False, given: int | None = None, long_frames: int | None = None,
             interpolation: bool = False, reprompt: bool = False, progress: bool = True) -> dict:
    """Generate ``num_per_prompt`` clips per labeled prompt from a run and score them, real clips and noise.

    ``pipeline`` (a loaded ``vdiff.generate.Pipeline``) skips loading the run again (the ablation
    reuses it). Sampling options left at None take the run config's values. Returns a JSON-ready dict.
    The sections of ``vdiff.evaluation.continuation`` and ``.reprompt`` are added on request, on up to
    ``num_per_prompt`` real clips per prompt whose path fits: ``continuation`` (from the first ``given``
    frames, default the run's window), ``long_frames`` (clips that long), ``interpolation``, ``reprompt``.
    """
    from ..pipelines.loading import load_pipeline

    if num_per_prompt < 1:
        raise ValueError("--num-per-prompt must be at least 1")
    every_prompt = read_prompts(data_dir)
    prompts = spread(every_prompt, max_prompts) if max_prompts is not None else every_prompt
    pipe = pipeline if pipeline is not None else load_pipeline(run_dir, use_ema=use_ema, device=device)
    cfg = pipe.config
    frames, size = cfg.num_frames, cfg.image_size
    given = frames if continuation and given is None else given
    sections.check_sections(frames, given if continuation else None, long_frames)
    tracked = None
    if continuation or interpolation or reprompt or long_frames:  # read before sampling: a bad folder fails at once
        tracked = load_tracked(prompts, num_per_prompt, size, min_frames=max(frames, given + 1 if continuation else 0))
    judge = load_judge(judge_path, device=pipe.device)
    options = cfg.sampling.override(sampler=sampler, steps=steps, guidance=guidance, x0_clip=x0_clip,
                                    x0_clip_quantile=x0_clip_quantile)
    generated = pipe([p.caption for p in prompts], num=num_per_prompt, seed=seed, progress=progress,
                     **options.to_dict())
    gen_owner = [i for i in range(len(prompts)) for _ in range(num_per_prompt)]
    # Two disjoint real sets: the reference for Fréchet distances and the "real" ceiling row.
    reference, ref_owner, skipped_a = load_real(prompts, num_per_prompt, frames, size, offset=0)
    real, real_owner, skipped_b = load_real(prompts, num_per_prompt, frames, size, offset=num_per_prompt)
    if not len(real):  # a small folder: score the reference clips themselves as the ceiling
        real, real_owner = reference, ref_owner
    noise = noise_clips(len(generated), frames, size, seed=seed)
    ref_feats = judge_clips(judge, reference).features if len(reference) else None

    results = {}
    for name, clips, owner in (("generated", generated, gen_owner), ("real", real, real_owner),
                               ("noise", noise, gen_owner)):
        results[name] = score_clips(judge, clips, prompts, owner, ref_feats)
    if i3d_path is not None:
        ref_i3d = i3d_features(reference, i3d_path, pipe.device)
        for name, clips in (("generated", generated), ("real", real), ("noise", noise)):
            results[name]["fvd_i3d"] = frechet_distance(ref_i3d, i3d_features(clips, i3d_path, pipe.device))
    for r in results.values():
        r.pop("_features")
    common = {"options": options.to_dict(), "seed": seed, "progress": progress}
    if continuation:
        results["continuation"] = sections.continuation(pipe, judge, tracked, prompts, given=given, **common)
    if long_frames:
        results["long_generation"] = sections.long_generation(pipe, judge, prompts, tracked, frames=long_frames,
                                                              num_per_prompt=num_per_prompt, **common)
    if interpolation:
        results["interpolation"] = sections.interpolation(pipe, judge, tracked, prompts, **common)
    if reprompt:
        held = frozenset((p.digit, p.direction) for p in every_prompt if p.split == "heldout")
        results["reprompt_opposite"] = reprompt_opposite(pipe, judge, tracked.clips, tracked.centers,
                                                         tracked.digits(prompts), tracked.directions(prompts),
                                                         skip=held, **common)
    return {
        "run": str(run_dir), "data": str(data_dir),
        "settings": {"num_per_prompt": num_per_prompt, **options.to_dict(), "seed": seed, "use_ema": use_ema,
                     "prompts": len(prompts),
                     "frames": frames, "image_size": size, "fvd_i3d": i3d_path is not None},
        "judge": judge_metadata(judge_path),
        "reference_clips": int(len(reference)), "skipped_real_clips": skipped_a + skipped_b,
        **results,
    }


def summary_table(report: dict) -> str:
    """A small Markdown table of the overall metrics for generated clips beside real (ceiling) and noise (floor)."""
    keys = ("digit_accuracy", "direction_accuracy", "both_correct", "frame_digit_consistency",
            "temporal_consistency", "flicker")
    lines = ["| metric | noise (floor) | generated | real (ceiling) |", "|---|---|---|---|"]
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(f"{report[n]['overall'][key]:.3f}" for n in ("noise", "generated", "real")) + " |")
    for split in SPLITS:
        lines.append(f"| both_correct ({split}) | " + " | ".join(
            f"{report[n][split]['both_correct']:.3f}" for n in ("noise", "generated", "real")) + " |")
    lines.append("| frechet_distance | " + " | ".join(f"{report[n]['frechet_distance']:.2f}" for n in ("noise", "generated", "real")) + " |")
    for section, (rows, keys, exact) in SECTION_TABLES.items():
        if section in report:
            lines += ["", _section_table(section, report[section], rows, keys, exact)]
    return "\n".join(lines)


# What the command prints of each section: its rows (ceiling and floors beside "generated"), the keys
# its targets are about, and its bit-for-bit count.
SECTION_TABLES = {
    "continuation": (("generated", "real", "repeat_last"),
                     ("digit_accuracy", "direction_accuracy", "frame_digit_consistency", "centroid_error_px",
                      "centroid_error_vs_repeat", "seam_ratio"), "given_exact"),
    "long_generation": (("generated", "real", "held", "noise"),
                        ("digit_accuracy", "direction_accuracy", "frame_digit_consistency", "travel_px"), None),
    "interpolation": (("generated", "real", "hold_first", "nearest_end", "cross_fade"),
                      ("digit_accuracy", "frame_digit_consistency", "centroid_error_px", "path_distance_px"),
                      "ends_exact"),
    "reprompt_opposite": (("input", "reversed", "reprompt", "reprompt_keep_first"),
                          ("digit_accuracy", "direction_accuracy", "old_direction", "frame_digit_consistency"),
                          "first_frame_exact"),
}


def _section_table(name: str, section: dict, rows: tuple[str, ...], keys: tuple[str, ...], exact: str | None) -> str:
    rows = tuple(r for r in rows if r in section)
    lines = [f"| {name} | " + " | ".join(rows) + " |", "|---" * (len(rows) + 1) + "|"]
    lines += [f"| {key} | " + " | ".join(f"{section[r][key]:.3f}" for r in rows) + " |" for key in keys]
    if exact is not None and exact in section:
        lines.append(f"{exact}: {section[exact]} of {section['settings']['clips']} clips")
    return "\n".join(lines)


