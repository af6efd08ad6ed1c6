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
FVD with an I3D network when the user gives its weights (``--i3d PATH``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from clipkit.manifest import DIRECTIONS, MANIFEST, manifest_rows

from ..core.media import frame_index, load_gif, resize_frames
from .judge import NO_MOTION, Judgement, judge_clips, judge_metadata, load_judge
from .metrics import clip_features, flicker, frechet_distance, i3d_features, temporal_consistency

CAPTION_RE = re.compile(rf"^digit (\d) moving ({'|'.join(DIRECTIONS)})$")
SPLITS = ("seen", "heldout")


@dataclass
class Prompt:
    caption: str
    digit: int
    direction: str
    split: str                   # "seen" (in training) or "heldout" (combination never trained on)
    real_files: list[Path]


# --- the labeled data folder ----------------------------------------------------------------------

def read_prompts(data_dir: str | Path) -> list[Prompt]:
    """Single-digit prompts of a labeled pairs folder, from its manifest (or captions when rows lack labels)."""
    root = Path(data_dir)
    manifest = root / MANIFEST
    if not root.is_dir():
        raise ValueError(f"data folder not found: {root}")
    if not manifest.is_file():
        raise ValueError(f"{root} has no {MANIFEST}: make it with python -m data_prep moving_mnist --labeled")
    prompts: dict[str, Prompt] = {}
    for row in manifest_rows(root, strict=True):
        caption = str(row.get("caption", "")).strip()
        digits, directions = row.get("digits"), row.get("directions")
        if digits is None or directions is None:
            match = CAPTION_RE.match(caption)
            if not match:
                continue
            digits, directions = [int(match.group(1))], [match.group(2)]
        if len(digits) != 1 or len(directions) != 1:
            continue  # two-digit clips: the judge reads one digit per clip
        gif = root / f"{row.get('name', '')}.gif"
        if not gif.is_file():
            continue
        split = "heldout" if row.get("split") == "holdout" else "seen"
        p = prompts.setdefault(caption, Prompt(caption, int(digits[0]), str(directions[0]), split, []))
        p.real_files.append(gif)
    if not prompts:
        raise ValueError(f"{manifest} has no single-digit labeled clips (captions like 'digit 5 moving left')")
    return sorted(prompts.values(), key=lambda p: (p.split, p.digit, p.direction))


def match_shape(clip: np.ndarray, frames: int, size: int) -> np.ndarray:
    """Resample a real clip [F, H, W, 3] to ``frames`` evenly spaced frames of ``size`` px, like the model's."""
    return resize_frames(clip[frame_index(len(clip), frames)][None], (size, size))[0]


def load_real(prompts: list[Prompt], per_prompt: int, frames: int, size: int,
              offset: int = 0) -> tuple[np.ndarray, list[int], int]:
    """Up to ``per_prompt`` real clips per prompt starting at ``offset``: (clips, prompt index per clip, skipped)."""
    clips, owner, skipped = [], [], 0
    for i, p in enumerate(prompts):
        for path in p.real_files[offset:offset + per_prompt]:
            try:
                clip = load_gif(path)
            except ValueError:
                skipped += 1  # a broken GIF is counted, not fatal
                continue
            clips.append(match_shape(clip[..., :3] if clip.shape[-1] >= 3 else np.repeat(clip, 3, -1), frames, size))
            owner.append(i)
    empty = np.zeros((0, frames, size, size, 3), np.uint8)
    return (np.stack(clips) if clips else empty), owner, skipped


def noise_clips(n: int, frames: int, size: int, seed: int = 0) -> np.ndarray:
    """The floor: uniform noise clips, uint8 [n, F, H, W, 3] (grey, like the digits)."""
    grey = np.random.default_rng(seed).integers(0, 256, (n, frames, size, size, 1), dtype=np.uint8)
    return np.repeat(grey, 3, axis=-1)


# --- metrics -----------------------------------------------------------------------------------------

def _scores(verdict: Judgement, prompts: list[Prompt], owner: list[int]) -> list[dict]:
    rows = []
    for k, i in enumerate(owner):
        digit_ok = int(verdict.digits[k]) == prompts[i].digit
        dir_ok = verdict.directions[k] == prompts[i].direction
        rows.append({"prompt": i, "digit": digit_ok, "direction": dir_ok, "both": digit_ok and dir_ok,
                     "none": verdict.directions[k] == NO_MOTION,
                     "frames": float((verdict.frame_digits[k] == prompts[i].digit).mean())})
    return rows


def _summary(rows: list[dict], clips: np.ndarray, features: np.ndarray, center: np.ndarray | None) -> dict:
    n = len(rows)
    mean = (lambda key: sum(r[key] for r in rows) / n) if n else (lambda key: float("nan"))
    # frame_digit_consistency: the share of frames showing the captioned digit, so a clip whose digit
    # morphs between frames scores low even when its majority vote is right.
    return {"n": n, "digit_accuracy": mean("digit"), "direction_accuracy": mean("direction"),
            "both_correct": mean("both"), "frame_digit_consistency": mean("frames"), "no_motion": mean("none"),
            "temporal_consistency": temporal_consistency(features, center), "flicker": flicker(clips)}


def score_clips(judge: torch.nn.Module, clips: np.ndarray, prompts: list[Prompt], owner: list[int],
                reference: np.ndarray | None) -> dict:
    """Every metric for one set of clips: overall, per split, per prompt; Fréchet distance to ``reference``."""
    verdict = judge_clips(judge, clips)
    rows = _scores(verdict, prompts, owner)
    owner_arr = np.asarray(owner, dtype=int)
    center = reference.mean(axis=(0, 1)) if reference is not None else None
    out = {"overall": _summary(rows, clips, verdict.features, center)}
    for split in SPLITS:
        keep = [k for k, i in enumerate(owner) if prompts[i].split == split]
        out[split] = _summary([rows[k] for k in keep], clips[keep], verdict.features[keep], center)
    per_prompt = {}
    for i, p in enumerate(prompts):
        keep = np.nonzero(owner_arr == i)[0].tolist()
        if keep:
            s = _summary([rows[k] for k in keep], clips[keep], verdict.features[keep], center)
            per_prompt[p.caption] = {"split": p.split, **s}
    out["per_prompt"] = per_prompt
    out["frechet_distance"] = (frechet_distance(clip_features(reference), clip_features(verdict.features))
                               if reference is not None else float("nan"))
    out["_features"] = verdict.features  # removed before writing JSON; kept for the caller's Fréchet distance
    return out


# --- the evaluation ----------------------------------------------------------------------------------------

def evaluate(run_dir: str | Path, data_dir: str | Path, *, num_per_prompt: int = 4, steps: int | None = None,
             sampler: str | None = None, guidance: float | None = None, x0_clip: str | None = None,
             x0_clip_quantile: float | None = None, seed: int = 0, max_prompts: int | None = None, use_ema: bool = True, device: str | None = None,
             i3d_path: str | Path | None = None, judge_path: str | Path | None = None, pipeline=None,
             progress: bool = True) -> dict:
    """Generate ``num_per_prompt`` clips per labeled prompt from a run and score them, real clips and noise.

    ``pipeline`` (a loaded ``vdiff.generate.Pipeline``) skips loading the run again (the ablation
    reuses it). Sampling options left at None take the run config's values. Returns a JSON-ready dict.
    """
    from ..pipelines.loading import load_pipeline

    if num_per_prompt < 1:
        raise ValueError("--num-per-prompt must be at least 1")
    prompts = read_prompts(data_dir)
    if max_prompts is not None:
        prompts = _spread(prompts, max_prompts)
    pipe = pipeline if pipeline is not None else load_pipeline(run_dir, use_ema=use_ema, device=device)
    cfg = pipe.config
    frames, size = cfg.num_frames, cfg.image_size
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
    return {
        "run": str(run_dir), "data": str(data_dir),
        "settings": {"num_per_prompt": num_per_prompt, **options.to_dict(), "seed": seed, "use_ema": use_ema,
                     "prompts": len(prompts),
                     "frames": frames, "image_size": size, "fvd_i3d": i3d_path is not None},
        "judge": judge_metadata(judge_path),
        "reference_clips": int(len(reference)), "skipped_real_clips": skipped_a + skipped_b,
        **results,
    }


def _spread(prompts: list[Prompt], limit: int) -> list[Prompt]:
    """At most ``limit`` prompts, held-out ones first so the generalisation numbers always exist."""
    if limit < 1:
        raise ValueError("--max-prompts must be at least 1")
    held = [p for p in prompts if p.split == "heldout"]
    seen = [p for p in prompts if p.split == "seen"]
    keep_held = held[:max(1, limit // 4)] if held else []
    return keep_held + seen[::max(1, len(seen) // max(1, limit - len(keep_held)))][:limit - len(keep_held)]


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
    return "\n".join(lines)


