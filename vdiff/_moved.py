"""Old module paths keep working: before the layers, vdiff was one flat folder of modules.

``import vdiff.unet`` (or ``from vdiff.unet import UNet3D``) gives the very module ``vdiff.models.unet``:
an alias, not a copy. The command modules (``vdiff.train``, ``vdiff.generate``, ...) are real modules
still, carrying the names their old selves had.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

MOVED = {
    "vdiff.config": "vdiff.core.config",
    "vdiff.sampling": "vdiff.core.options",
    "vdiff.env": "vdiff.core.env",
    "vdiff.rng": "vdiff.core.rng",
    "vdiff.video": "vdiff.core.media",
    "vdiff.cli": "vdiff.core.cli",
    "vdiff.unet": "vdiff.models.unet",
    "vdiff.blocks": "vdiff.models.layers",
    "vdiff.text": "vdiff.models.text",
    "vdiff.losses": "vdiff.models.perceptual",
    "vdiff.inpaint": "vdiff.diffusion.sampler",
    "vdiff.data": "vdiff.training.data",
    "vdiff.ema": "vdiff.training.ema",
    "vdiff.checkpoint": "vdiff.training.checkpoint",
    "vdiff.lr_schedule": "vdiff.training.lr_schedule",
    "vdiff.trackers": "vdiff.training.trackers",
    "vdiff.steps": "vdiff.training.steps",
    "vdiff.colab": "vdiff.apps.colab",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as the module it moved to."""

    def find_spec(self, fullname: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec):
        return None  # a placeholder; exec_module swaps the real module in

    def exec_module(self, module) -> None:
        # The import system returns whatever sys.modules holds under the name once this returns.
        sys.modules[module.__name__] = importlib.import_module(MOVED[module.__name__])


def install() -> None:
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModules())
