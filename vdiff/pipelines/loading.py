"""Loading a trained model: ``load_pipeline`` from a run folder, a saved folder or a Hub repo id.

Generating needs only a run's ``weights/`` folder (safetensors + config.json), no optimizer state.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import Config
from ..core.run_folder import RunFolder
from .pipeline import Pipeline
from .saved_folder import FORMAT, PIPELINE_FILE, REPO_ID, WEIGHTS_FILE, is_pretrained_folder, read_json

if TYPE_CHECKING:
    import torch


@dataclass
class Located:
    """Where a pipeline's weights are: the config, the weights file, the folder and what kind it is."""

    config: Config
    weights: Path
    folder: Path
    kind: str           # "run" or "pretrained"
    weights_kind: str   # "ema" or "online"


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
        if not (isinstance(source, str) and REPO_ID.match(source) and not path.exists()):
            raise ValueError(f"run folder not found: {source} (nor a saved pipeline folder or a Hub repo id owner/name)")
        try:
            path = download(source)
        except ValueError as e:  # "runs/tiny" may be a mistyped local folder as well as a repo id
            raise ValueError(f"no folder {source} here, and as a {e}") from None
    if is_pretrained_folder(path):
        if not use_ema:
            raise ValueError(f"{source} holds one set of weights (the ones it was saved with); "
                             "load it with use_ema=True")
        info = read_json(path / PIPELINE_FILE)
        if int(info.get("format", 0)) > FORMAT:
            raise ValueError(f"{source} was saved in format {info.get('format')}; this vdiff reads up to "
                             f"{FORMAT}: update vdiff")
        return Located(Config.from_json(path / "config.json"), path / WEIGHTS_FILE, path, "pretrained",
                       str(info.get("weights", "ema")))
    run = RunFolder(path)
    config_path = run.weights_config_file if run.weights_config_file.is_file() else run.config_file
    if not config_path.is_file():
        raise ValueError(f"{path} is not a run folder: no config.json (train first with python -m vdiff.train)")
    kind = "ema" if use_ema else "online"
    file = run.weights_file(kind)
    if not file.is_file():
        raise ValueError(f"no weights at {file}: the run has not saved a checkpoint yet")
    return Located(Config.from_json(config_path), file, path, "run", kind)


def load_pipeline(run_dir: str | Path, use_ema: bool = True, device: str | torch.device | None = None) -> Pipeline:
    """The EMA (or online) model of a run folder, a folder written by ``save_pretrained`` or a Hub repo
    id (downloaded once into the Hugging Face cache), ready to sample; ValueError (one line) otherwise."""
    import torch

    from ..models.text import load_text_encoder
    from ..models.unet import UNet3D
    from ..training.checkpoint import load_weights

    found = locate(run_dir, use_ema)
    config, file = found.config, found.weights
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    encoder = load_text_encoder(config.text_encoder, device=device, max_length=config.max_text_len)
    model = UNet3D(config, encoder.dim)
    state = load_weights(file)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"weights {file} do not fit the run's config: {str(e).splitlines()[0]}") from None
    pipe = Pipeline(model.to(device), config, encoder, device)
    pipe.source, pipe.weights_kind = found.folder, found.weights_kind  # save_pretrained reads the run's log
    return pipe


