"""Share a trained model the way the field does: a self-contained folder and the Hugging Face Hub.

    pipe = vdiff.load_pipeline("runs/tiny")        # a run folder, a saved folder, or a Hub repo id
    pipe.save_pretrained("tiny-pretrained")        # config, weights, model card, sample GIF
    pipe.push_to_hub("me/vdiff-tiny")              # a private repo unless private=False

    python -m vdiff.hub save --run runs/tiny --out tiny-pretrained
    python -m vdiff.hub push --run runs/tiny --repo me/vdiff-tiny [--public] [--token hf_...]

The saved folder holds everything a user needs to generate, no optimizer state
(``vdiff.pipelines.saved_folder`` lists its files).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ..core.config import Config
from .saved_folder import (FORMAT, PIPELINE_FILE, WEIGHTS_FILE, check_repo_id, is_pretrained_folder, read_json,
                           steps_trained)


def preset_of(config: Config) -> str:
    """The preset a config was made from: its name, plus the fields that differ when some do."""
    from ..core.config import get_preset, preset_names

    best: tuple[int, str, list[str]] | None = None
    mine = config.to_dict()
    for name in preset_names():
        try:
            theirs = get_preset(name).to_dict()
        except (TypeError, ValueError):
            continue
        diff = [k for k in mine if mine[k] != theirs.get(k)]
        if best is None or len(diff) < best[0]:
            best = (len(diff), name, diff)
    if best is None:
        return "custom"
    _, name, diff = best
    if not diff:
        return name
    shown = ", ".join(f"{k}={mine[k]!r}" for k in diff[:6]) + (", ..." if len(diff) > 6 else "")
    return f"{name} with {len(diff)} changed field(s): {shown}"


def eval_table(report: dict[str, Any]) -> str:
    """A Markdown table of the evaluator's overall numbers: noise (floor), generated, real (ceiling)."""
    rows = ("digit_accuracy", "direction_accuracy", "both_correct", "temporal_consistency", "flicker",
            "frechet_distance")
    cols = [c for c in ("noise", "generated", "real") if isinstance(report.get(c), dict)]
    lines = ["| metric | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for key in rows:
        values = [report[c].get(key, report[c].get("overall", {}).get(key)) for c in cols]
        if any(isinstance(v, (int, float)) for v in values):
            lines.append(f"| {key} | " + " | ".join(f"{v:.3f}" if isinstance(v, (int, float)) else "-"
                                                       for v in values) + " |")
    return "\n".join(lines)


def model_card(config: Config, info: dict[str, Any], report: dict[str, Any] | None = None,
               repo_id: str | None = None) -> str:
    """README.md for the folder: YAML front matter (the Hub reads it) and the text people read."""
    import yaml

    front = {"library_name": "vdiff", "pipeline_tag": "text-to-video",
             "tags": ["text-to-video", "diffusion", "video-diffusion", "vdiff"]}
    name = repo_id or "path/to/this/folder"
    steps = info.get("steps_trained")
    first_prompt = (info["sample_prompts"] or ["a prompt"])[0]
    lines = [
        "---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
        f"# vdiff text-to-video model ({info['preset'].split(' ')[0]})", "",
        "A 3D-UNet video diffusion model trained with vdiff. It generates "
        f"{config.num_frames}-frame {config.image_size}x{config.image_size} "
        f"{'grey' if config.channels == 1 else 'colour'} clips from a text prompt.", "",
    ]
    if info["sample_prompts"]:
        lines += ["![samples](sample.gif)", "",
                  f"Sample prompts (left to right, seed {info['sample_seed']}): {', '.join(info['sample_prompts'])}.", ""]
    lines += [
        "| | |", "|---|---|",
        f"| preset | {info['preset']} |",
        f"| steps trained | {steps if steps is not None else 'unknown'} |",
        *([f"| started from | `{config.init_from}` (fine-tuned from its weights) |"] if config.init_from else []),
        f"| weights | {info['weights']} |",
        f"| parameters | {info['params_m']:.2f} M |",
        f"| text encoder | `{config.text_encoder}` (frozen), caption whitening "
        f"{'on (saved in model.safetensors)' if config.text_whitening else 'off'} |",
        f"| prediction | {config.prediction_type}, {config.timesteps} training timesteps |",
        f"| sampling defaults | {config.sampling.sampler}, {config.sampling.steps} steps, "
        f"guidance {config.sampling.guidance} |",
        "",
    ]
    if report:
        lines += ["## Evaluation", "",
                  "The evaluator's numbers (`python -m vdiff.evaluate`; eval.json holds them all), "
                  "generated clips between noise (floor) and real clips (ceiling):", "",
                  eval_table(report), ""]
    lines += [
        "## Use", "",
        "```python", "import vdiff", "",
        f'pipe = vdiff.load_pipeline("{name}")   # downloads once, then the cache works offline',
        f'clips = pipe(["{first_prompt}"], num=2, seed=0)  # uint8 [N, F, H, W, 3]',
        'pipe.save_pretrained("copy")           # the same folder again', "```", "",
        "or from a shell:", "",
        "```", f'python -m vdiff.generate --run {name} --prompt "{first_prompt}" --out samples/', "```", "",
        "Files: `config.json` (the training config), `model.safetensors`, `pipeline.json`, `sample.gif`"
        + (", `eval.json`" if report else "") + ".", "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ save / push

def save_pretrained(pipe, folder: str | Path, *, prompts: list[str] | None = None, steps: int | None = None,
                    seed: int = 0, repo_id: str | None = None) -> Path:
    """Write the self-contained folder (see the module docstring) and return its path.

    ``prompts`` for the sample GIF default to the config's sample prompts; ``steps`` to its sampling steps.
    A folder that exists must be empty or an earlier saved pipeline: nothing else is written over.
    """
    from clipkit.atomic import atomic_write

    from ..core.media import gif_grid
    from ..training.checkpoint import save_weights

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not is_pretrained_folder(folder))):
        raise ValueError(f"{folder} exists and is not an empty folder or a saved pipeline: choose another --out")
    config: Config = pipe.config
    source = getattr(pipe, "source", None)
    report = None
    if source is not None and (Path(source) / "eval.json").is_file():
        report = read_json(Path(source) / "eval.json")
    prompts = list(prompts if prompts is not None else config.sample_prompts)[:8]
    info = {
        "format": FORMAT, "weights": getattr(pipe, "weights_kind", "ema"),
        "text_encoder": config.text_encoder, "caption_whitening": bool(config.text_whitening),
        "steps_trained": steps_trained(source) if source is not None else None,
        "preset": preset_of(config), "sample_prompts": prompts, "sample_seed": seed,
        "params_m": sum(p.numel() for p in pipe.model.parameters()) / 1e6,
    }
    folder.mkdir(parents=True, exist_ok=True)
    text = config.to_json()
    atomic_write(folder / "config.json", lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    save_weights(pipe.model.state_dict(), folder / WEIGHTS_FILE)
    for stale in ("eval.json", "sample.gif"):  # an earlier save's files must not outlive its weights
        (folder / stale).unlink(missing_ok=True)
    if prompts:
        clips = pipe(prompts, num=1, seed=seed, steps=steps or config.sampling.steps, progress=False)
        gif_grid(clips, folder / "sample.gif", ncols=len(prompts))
    if report is not None:
        report_text = json.dumps(report, indent=2)
        atomic_write(folder / "eval.json", lambda tmp: Path(tmp).write_text(report_text + "\n", encoding="utf-8"))
    card = model_card(config, info, report, repo_id)
    atomic_write(folder / "README.md", lambda tmp: Path(tmp).write_text(card, encoding="utf-8"))
    info_text = json.dumps(info, indent=2)
    # pipeline.json last: a folder cut short by a crash is not mistaken for a complete one.
    atomic_write(folder / PIPELINE_FILE, lambda tmp: Path(tmp).write_text(info_text + "\n", encoding="utf-8"))
    return folder


def push_to_hub(pipe, repo_id: str, *, private: bool = True, token: str | None = None,
                commit_message: str | None = None, **save_kwargs: Any) -> str:
    """save_pretrained into a temporary folder, create the repo (private by default) and upload exactly
    that folder; returns the repo's URL. ``token`` defaults to huggingface_hub's login or HF_TOKEN."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="vdiff-push-") as tmp:
        folder = save_pretrained(pipe, Path(tmp) / "pipeline", repo_id=repo_id, **save_kwargs)
        url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=str(folder),
                          commit_message=commit_message or "Upload vdiff pipeline")
    return str(url)


