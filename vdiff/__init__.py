"""vdiff: an improved text-to-video diffusion model (3D UNet, AdaGN, fast samplers).

Layers, each importing only those below it (docs/ARCHITECTURE.md): ``core`` <- ``models`` <-
``diffusion`` <- ``training`` <- ``pipelines`` <- ``evaluation`` <- ``apps`` <- the commands
(``python -m vdiff.train | generate | edit | evaluate | bench | hub | plot | judge``).
"""
from ._moved import install as _install_moved_paths
from .core.config import Config, get_preset, preset_names

_install_moved_paths()

__all__ = ["Config", "get_preset", "preset_names", "Trainer", "load_pipeline"]


def __getattr__(name: str):
    # Heavy modules (torch, transformers, accelerate) load only when asked for.
    if name == "Trainer":
        from .training.trainer import Trainer
        return Trainer
    if name == "train":  # the command module (vdiff.train.train is the function)
        import importlib
        return importlib.import_module(".train", __name__)
    if name == "load_pipeline":
        from .pipelines.loading import load_pipeline
        return load_pipeline
    raise AttributeError(f"module 'vdiff' has no attribute {name!r}")
