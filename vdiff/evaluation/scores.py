"""The judge's scores of a set of clips against the digit and direction each was meant to show."""
from __future__ import annotations

import numpy as np
import torch

from .judge import NO_MOTION, Judgement, judge_clips
from .labeled import SPLITS, Prompt
from .metrics import clip_features, flicker, frechet_distance, temporal_consistency


def _rows(verdict: Judgement, digits: list[int], directions: list[str]) -> list[dict]:
    rows = []
    for k, (digit, direction) in enumerate(zip(digits, directions)):
        digit_ok = int(verdict.digits[k]) == digit
        dir_ok = verdict.directions[k] == direction
        rows.append({"digit": digit_ok, "direction": dir_ok, "both": digit_ok and dir_ok,
                     "none": verdict.directions[k] == NO_MOTION,
                     "frames": float((verdict.frame_digits[k] == digit).mean())})
    return rows


def _summary(rows: list[dict], clips: np.ndarray, features: np.ndarray, center: np.ndarray | None) -> dict:
    n = len(rows)
    mean = (lambda key: sum(r[key] for r in rows) / n) if n else (lambda key: float("nan"))
    # frame_digit_consistency: the share of frames showing the captioned digit, so a clip whose digit
    # morphs between frames scores low even when its majority vote is right.
    return {"n": n, "digit_accuracy": mean("digit"), "direction_accuracy": mean("direction"),
            "both_correct": mean("both"), "frame_digit_consistency": mean("frames"), "no_motion": mean("none"),
            "temporal_consistency": temporal_consistency(features, center), "flicker": flicker(clips)}


def summarize(verdict: Judgement, clips: np.ndarray, digits: list[int], directions: list[str],
              center: np.ndarray | None = None) -> dict:
    """The overall scores of judged ``clips`` against one target digit and direction per clip."""
    return _summary(_rows(verdict, digits, directions), clips, verdict.features, center)


def judge_summary(judge: torch.nn.Module, clips: np.ndarray, digits: list[int], directions: list[str],
                  center: np.ndarray | None = None) -> dict:
    """Judge ``clips`` and score them against one target digit and direction per clip (``summarize``)."""
    return summarize(judge_clips(judge, clips), clips, digits, directions, center)


def score_clips(judge: torch.nn.Module, clips: np.ndarray, prompts: list[Prompt], owner: list[int],
                reference: np.ndarray | None) -> dict:
    """Every metric for one set of clips: overall, per split, per prompt; Fréchet distance to ``reference``."""
    verdict = judge_clips(judge, clips)
    rows = _rows(verdict, [prompts[i].digit for i in owner], [prompts[i].direction for i in owner])
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
