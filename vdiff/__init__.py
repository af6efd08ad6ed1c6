"""vdiff: an improved text-to-video diffusion model (3D UNet, AdaGN, fast samplers)."""
from .config import Config, get_preset, preset_names

__all__ = ["Config", "get_preset", "preset_names", "Trainer", "load_pipeline"]


def __getattr__(name: str):
    # Heavy modules (torch, transformers, accelerate) load only when asked for.
    if name == "Trainer":
        from .train import Trainer
        return Trainer
    if name == "train":  # the module (vdiff.train.train is the function)
        import importlib
        return importlib.import_module(".train", __name__)
    if name == "load_pipeline":
        from .generate import load_pipeline
        return load_pipeline
    raise AttributeError(f"module 'vdiff' has no attribute {name!r}")
