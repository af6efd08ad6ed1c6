"""The shape of the code: vdiff's layers and the packages' import contracts (pyproject.toml), short
modules, old module paths that still work, and the modules that must load without torch."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vdiff", "gif_editor", "data_prep", "clipkit")
MAX_LINES = 400


def test_the_import_contracts_hold():
    """Layers (every import points down), the packages' order and no circle anywhere: a new import that
    points the wrong way, even inside a function, breaks a contract and this test."""
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "3 kept, 0 broken" in proc.stdout


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("old, new", [
    ("vdiff.config", "vdiff.core.config"), ("vdiff.sampling", "vdiff.core.options"), ("vdiff.video", "vdiff.core.media"),
    ("vdiff.env", "vdiff.core.env"), ("vdiff.unet", "vdiff.models.unet"), ("vdiff.text", "vdiff.models.text"),
    ("vdiff.losses", "vdiff.models.perceptual"), ("vdiff.data", "vdiff.training.data"),
    ("vdiff.checkpoint", "vdiff.training.checkpoint"), ("vdiff.ema", "vdiff.training.ema"),
    ("vdiff.colab", "vdiff.apps.colab"), ("vdiff.inpaint", "vdiff.diffusion.sampler"),
])
def test_an_old_module_path_is_the_moved_module_itself(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)  # an alias, not a copy
    name = old.rsplit(".", 1)[1]
    exec(f"from vdiff import {name} as via_package", globals())  # noqa: S102 - the form users write
    assert via_package is importlib.import_module(new)  # noqa: F821


def test_the_command_modules_keep_their_old_names():
    from vdiff.edit import EditCancelled, extend, regenerate, reprompt
    from vdiff.evaluate import evaluate, write_report
    from vdiff.generate import Pipeline, load_pipeline
    from vdiff.hub import push_to_hub, save_pretrained, steps_trained
    from vdiff.pipelines import edit, hub, loading, pipeline
    from vdiff.train import Callback, Trainer, TrainingStopped, run_config, train
    from vdiff.training import trainer

    assert (reprompt, regenerate, extend) == (edit.reprompt, edit.regenerate, edit.extend)
    assert (Pipeline, load_pipeline, save_pretrained, push_to_hub) == (pipeline.Pipeline, loading.load_pipeline,
                                                                       hub.save_pretrained, hub.push_to_hub)
    assert (Trainer, Callback, run_config, train) == (trainer.Trainer, trainer.Callback, trainer.run_config,
                                                      trainer.train)
    assert issubclass(EditCancelled, Exception) and issubclass(TrainingStopped, RuntimeError)
    assert callable(evaluate) and callable(write_report) and callable(steps_trained)


@pytest.mark.parametrize("module", ["vdiff", "vdiff.edit", "vdiff.apps.model_panel", "vdiff.core.config",
                                    "vdiff.pipelines.edit", "gif_editor.ui"])
def test_these_modules_load_without_torch(module):
    """The editor's widget imports vdiff.edit and the Model panel; neither may pull in torch (seconds)."""
    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {{'torch', 'diffusers'}}))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
