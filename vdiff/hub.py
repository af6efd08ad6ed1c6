"""Share a trained model the way the field does: a self-contained folder and the Hugging Face Hub.

    pipe = vdiff.load_pipeline("runs/tiny")        # a run folder, a saved folder, or a Hub repo id
    pipe.save_pretrained("tiny-pretrained")        # config, weights, model card, sample GIF
    pipe.push_to_hub("me/vdiff-tiny")              # a private repo unless private=False

    python -m vdiff.hub save --run runs/tiny --out tiny-pretrained
    python -m vdiff.hub push --run runs/tiny --repo me/vdiff-tiny [--public] [--token hf_...]

The saved folder (everything a user needs to generate, no optimizer state):
    config.json         the run's Config: model shape, text encoder name, sampling defaults
    model.safetensors   the weights; caption whitening included (the model buffers text_mean and
                        text_whitening, fitted on the training captions)
    pipeline.json       format version, weights kind (ema/online), text encoder, steps trained
    README.md           model card: YAML front matter for the Hub, then how to load and generate
    sample.gif          the config's sample prompts generated with these weights
    eval.json           the evaluator's report, when the run had one
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cli import OneLineParser
from .config import Config

FORMAT = 1
PIPELINE_FILE = "pipeline.json"
WEIGHTS_FILE = "model.safetensors"
FILES = ("config.json", WEIGHTS_FILE, PIPELINE_FILE, "README.md", "sample.gif")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class Located:
    """Where a pipeline's weights are: the config, the weights file, the folder and what kind it is."""

    config: Config
    weights: Path
    folder: Path
    kind: str           # "run" or "pretrained"
    weights_kind: str   # "ema" or "online"


def is_pretrained_folder(path: str | Path) -> bool:
    """True for a folder written by save_pretrained (or downloaded from the Hub)."""
    path = Path(path)
    return (path / PIPELINE_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def download(repo_id: str, token: str | None = None) -> Path:
    """The Hub repo's files in the local Hugging Face cache (downloaded once; offline, the cached copy)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError)

    try:
        return Path(snapshot_download(repo_id, repo_type="model", token=token))
    except (RepositoryNotFoundError, GatedRepoError):
        raise ValueError(f"Hub repo id: {repo_id!r} not found, or it is private or gated: check the id "
                         "and log in (huggingface_hub.login() or HF_TOKEN)") from None
    except LocalEntryNotFoundError:
        raise ValueError(f"Hub repo id: {repo_id!r} is not in the local cache and the Hub cannot be reached "
                         "(offline or HF_HUB_OFFLINE=1)") from None
    except HfHubHTTPError as e:
        raise ValueError(f"cannot download {repo_id!r} from the Hub: {str(e).splitlines()[0]}") from None


def locate(source: str | Path, use_ema: bool = True) -> Located:
    """Resolve a run folder, a save_pretrained folder or a Hub repo id; ValueError (one line) otherwise."""
    path = Path(source)
    if not path.is_dir():
        if not (isinstance(source, str) and _REPO_ID.match(source) and not path.exists()):
            raise ValueError(f"run folder not found: {source} (nor a saved pipeline folder or a Hub repo id owner/name)")
        try:
            path = download(source)
        except ValueError as e:  # "runs/tiny" may be a mistyped local folder as well as a repo id
            raise ValueError(f"no folder {source} here, and as a {e}") from None
    if is_pretrained_folder(path):
        if not use_ema:
            raise ValueError(f"{source} holds one set of weights (the ones it was saved with); "
                             "load it with use_ema=True")
        info = _read_json(path / PIPELINE_FILE)
        if int(info.get("format", 0)) > FORMAT:
            raise ValueError(f"{source} was saved in format {info.get('format')}; this vdiff reads up to "
                             f"{FORMAT}: update vdiff")
        return Located(Config.from_json(path / "config.json"), path / WEIGHTS_FILE, path, "pretrained",
                       str(info.get("weights", "ema")))
    weights = path / "weights"
    config_path = weights / "config.json" if (weights / "config.json").is_file() else path / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{path} is not a run folder: no config.json (train first with python -m vdiff.train)")
    file = weights / ("ema.safetensors" if use_ema else "online.safetensors")
    if not file.is_file():
        raise ValueError(f"no weights at {file}: the run has not saved a checkpoint yet")
    return Located(Config.from_json(config_path), file, path, "run", "ema" if use_ema else "online")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return data


# ------------------------------------------------------------------ facts about a run

def steps_trained(folder: str | Path) -> int | None:
    """Optimizer steps behind a folder's weights: the newest checkpoint's step (weights are written
    with it), else the last step log.jsonl names, else what a saved folder recorded; None if unknown."""
    from .checkpoint import CHECKPOINT_DIR, CHECKPOINT_RE, list_checkpoints

    folder = Path(folder)
    if (folder / PIPELINE_FILE).is_file():
        value = _read_json(folder / PIPELINE_FILE).get("steps_trained")
        return int(value) if value is not None else None
    checkpoints = list_checkpoints(folder / CHECKPOINT_DIR)  # sorted by step
    if checkpoints:
        return int(CHECKPOINT_RE.match(checkpoints[-1].name).group(1))
    log = folder / "log.jsonl"
    steps = []
    if log.is_file():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed run
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                steps.append(record["step"])
    return max(steps) if steps else None


def preset_of(config: Config) -> str:
    """The preset a config was made from: its name, plus the fields that differ when some do."""
    from .config import get_preset, preset_names

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
        f"| weights | {info['weights']} |",
        f"| parameters | {info['params_m']:.2f} M |",
        f"| text encoder | `{config.text_encoder}` (frozen), caption whitening "
        f"{'on (saved in model.safetensors)' if config.text_whitening else 'off'} |",
        f"| prediction | {config.prediction_type}, {config.timesteps} training timesteps |",
        f"| sampling defaults | {config.sampler}, {config.sample_steps} steps, guidance {config.guidance_scale} |",
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

    from .checkpoint import save_weights
    from .video import gif_grid

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not is_pretrained_folder(folder))):
        raise ValueError(f"{folder} exists and is not an empty folder or a saved pipeline: choose another --out")
    config: Config = pipe.config
    source = getattr(pipe, "source", None)
    report = None
    if source is not None and (Path(source) / "eval.json").is_file():
        report = _read_json(Path(source) / "eval.json")
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
        clips = pipe(prompts, num=1, seed=seed, steps=steps or config.sample_steps, progress=False)
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


def check_repo_id(repo_id: str) -> str:
    """The id when it is a valid Hub model id ("owner/name"); ValueError otherwise."""
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or len(repo_id) > 96 or ".." in repo_id:
        raise ValueError(f"not a Hub repo id: {repo_id!r} (expected owner/name, e.g. me/vdiff-tiny)")
    return repo_id


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


# ------------------------------------------------------------------ command line

def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m vdiff.hub", description="Save a trained run as a self-contained folder, "
                                                              "or push it to the Hugging Face Hub.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, helptext in (("save", "write the folder"), ("push", "upload to a Hub model repo")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--run", required=True, help="run folder, saved folder or Hub repo id")
        s.add_argument("--no-ema", action="store_true", help="the online weights instead of the EMA")
        s.add_argument("--prompt", action="append", default=None, help="sample GIF prompt (repeat; default: the config's)")
        s.add_argument("--steps", type=int, default=None, help="sampler steps for the sample GIF")
        if name == "save":
            s.add_argument("--out", required=True, help="folder to write (new, empty or an earlier save)")
        else:
            s.add_argument("--repo", required=True, help="Hub model repo id, owner/name")
            s.add_argument("--public", action="store_true", help="make a new repo public (default: private)")
            s.add_argument("--token", default=None, help="Hub token (default: huggingface_hub login or HF_TOKEN)")
    return p


def main(argv: list[str] | None = None) -> int:
    from .generate import load_pipeline

    args = build_parser().parse_args(argv)
    try:
        if args.steps is not None and args.steps < 1:
            raise ValueError("--steps must be at least 1")
        if args.command == "push":
            check_repo_id(args.repo)
        pipe = load_pipeline(args.run, use_ema=not args.no_ema)
        if args.command == "save":
            print(save_pretrained(pipe, args.out, prompts=args.prompt, steps=args.steps))
            return 0
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        print(push_to_hub(pipe, args.repo, private=not args.public, token=args.token, prompts=args.prompt,
                          steps=args.steps))
    except Exception as e:  # network, authentication, quota: not the user's input, so exit status 1
        print(f"error: upload to {args.repo} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
