"""vdiff.colab: input checks that stop with one sentence, the preset/data fit, 04's input, live progress."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from vdiff.apps import colab
from vdiff.apps.colab import NotebookStop
from vdiff.core.media import save_gif

A100 = SimpleNamespace(device="cuda", gpu_memory_gb=40.0)
T4 = SimpleNamespace(device="cuda", gpu_memory_gb=15.0)
CPU = SimpleNamespace(device="cpu", gpu_memory_gb=None)


def clips(folder: Path, size: int, frames: int, n: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        save_gif(rng.integers(0, 255, (frames, size, size, 1), dtype=np.uint8), folder / f"c{i}.gif")
        (folder / f"c{i}.txt").write_text("digit 1 moving left", encoding="utf-8")
    return folder


def test_auto_preset_follows_the_gpu_and_01_uses_the_same_answer() -> None:
    assert colab.suggest_preset(A100) == "moving_mnist"
    assert colab.suggest_preset(T4) == colab.suggest_preset(CPU) == "tiny"
    assert colab.clip_shape("moving_mnist") == (64, 16) and colab.clip_shape("tiny") == (32, 8)


def test_an_explicit_preset_refuses_data_of_another_size_unless_resized(capsys) -> None:
    with pytest.raises(NotebookStop) as stop:
        colab.choose_preset("moving_mnist", (32, 32, 8), report=A100)
    message = str(stop.value)
    assert "32x32, 8-frame" in message and "64x64, 16 frames" in message
    assert "notebook 01 with PRESET = 'moving_mnist'" in message and "RESIZE_DATA" in message
    assert "\n" not in message and stop.value._render_traceback_() == [f"Stopped: {message}"]
    assert colab.choose_preset("moving_mnist", (32, 32, 8), resize=True, report=A100) == "moving_mnist"


def test_auto_trains_what_the_data_was_made_for(capsys) -> None:
    assert colab.choose_preset("auto", (64, 64, 16), report=A100) == "moving_mnist"
    # 01 ran on a CPU runtime (tiny-sized clips), 02 on an A100: train tiny and say how to get more
    assert colab.choose_preset("auto", (32, 32, 8), report=A100) == "tiny"
    assert "PRESET = 'moving_mnist'" in capsys.readouterr().out
    with pytest.raises(NotebookStop):
        colab.choose_preset("auto", (48, 48, 8), report=A100)


def test_missing_data_names_notebook_01(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotebookStop, match=r"no GIF clips in .*: run notebook 01 with DATA_DIR = 'data/x'"):
        colab.require_data(tmp_path / "data" / "x")
    assert colab.require_data(clips(tmp_path / "data" / "x", 16, 4)) == (16, 16, 4)


def test_a_started_run_keeps_its_own_preset(tmp_path: Path, capsys) -> None:
    from vdiff import get_preset

    data = clips(tmp_path / "data", 32, 8)
    run = tmp_path / "run"
    run.mkdir()
    get_preset("tiny").to_json(run / "config.json")
    config = colab.training_config("moving_mnist", data, run)  # today's choice differs: the run's wins
    assert (config.image_size, config.num_frames) == (32, 8) and config.dim == get_preset("tiny").dim
    assert "resuming" in capsys.readouterr().out
    with pytest.raises(NotebookStop, match="RESIZE_DATA"):
        colab.training_config("tiny", clips(tmp_path / "big", 64, 16), run)
    assert colab.training_config("tiny", tmp_path / "big", run, resize=True).image_size == 32


def test_missing_run_names_notebook_02(tmp_path: Path) -> None:
    with pytest.raises(NotebookStop, match="run notebook 02 with RUN_DIR"):
        colab.require_run(tmp_path / "runs" / "none")


def test_editor_input_never_takes_its_own_output(tmp_path: Path, capsys) -> None:
    generated = clips(tmp_path / "outputs" / "generated", 16, 4)
    (generated / "trajectory").mkdir()
    save_gif(np.zeros((4, 16, 16, 1), np.uint8), generated / "trajectory" / "x_start.gif")
    newest = generated / "c0.gif"
    os.utime(newest, (time.time() + 10, time.time() + 10))
    output = tmp_path / "outputs" / "edited" / "edited.gif"
    assert colab.editor_input(None, generated, output) == newest
    output.parent.mkdir(parents=True)
    output.write_bytes(newest.read_bytes())  # after a first run, the edited GIF is the newest file
    os.utime(output, (time.time() + 20, time.time() + 20))
    assert colab.editor_input(None, generated, output) == newest
    with pytest.raises(NotebookStop, match="inside GENERATED_DIR"):
        colab.editor_input(None, generated, generated / "edited.gif")
    with pytest.raises(NotebookStop, match="is not a file"):
        colab.editor_input(tmp_path / "nope.gif", generated, output)
    with pytest.raises(NotebookStop, match="own OUTPUT_GIF"):
        colab.editor_input(output, generated, output)
    demo = colab.editor_input(None, tmp_path / "empty", output)
    assert demo.is_file() and "run notebook 03" in capsys.readouterr().out


def test_storage_root_is_drive_in_colab(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.chdir(tmp_path)
    assert colab.storage_root(True) == tmp_path  # not in Colab: the working folder
    stub = Path(__file__).resolve().parent / "colab_stub"
    monkeypatch.syspath_prepend(str(stub))
    monkeypatch.setenv("VDIFF_DRIVE_MOUNT", str(tmp_path / "content" / "drive"))
    monkeypatch.setenv("COLAB_STUB_DRIVE", str(tmp_path / "drive"))
    (tmp_path / "drive").mkdir()
    for name in [m for m in sys.modules if m == "google" or m.startswith("google.colab")]:
        monkeypatch.delitem(sys.modules, name)
    import google.colab  # noqa: F401  (what Colab's kernel has imported)

    root = colab.storage_root(True)
    assert root == tmp_path / "content" / "drive" / "MyDrive" / "vdiff"
    assert (tmp_path / "drive" / "vdiff").is_dir()  # written through the mount, kept by "Drive"
    assert colab.storage_root(False) == tmp_path
    for name in [m for m in sys.modules if m.startswith("google.colab")]:
        monkeypatch.delitem(sys.modules, name)


def test_free_space_note_warns_when_the_run_will_not_fit(tmp_path: Path) -> None:
    assert "WARNING" not in colab.free_space_note(tmp_path / "runs" / "new", 1)
    note = colab.free_space_note(tmp_path / "runs" / "new", 10**18)
    assert "free space at" in note and "WARNING" in note and "trash" in note


def test_live_progress_redraws_at_most_every_interval_and_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps({"step": s, "loss": 1.0 / s, "lr": 1e-4})
                                                  for s in range(1, 5)), encoding="utf-8")
    trainer = SimpleNamespace(out_dir=tmp_path)
    progress = colab.live_progress(every_s=3600)
    progress.on_start(trainer)
    for step in range(3):
        progress.on_log(trainer, {"step": step})
    assert progress.redraws == 1 and (tmp_path / "loss.png").stat().st_size > 0
    gif = save_gif(np.zeros((2, 8, 8, 1), np.uint8), tmp_path / "samples" / "step_0000004_ema.gif")
    progress.on_samples(trainer, 4, [gif])
    assert progress.strips == 0  # no progress grid yet: nothing to show
    (tmp_path / "samples" / "progress.png").write_bytes((tmp_path / "loss.png").read_bytes())
    progress.on_samples(trainer, 4, [gif])
    assert progress.strips == 1
    progress.on_end(trainer, {"step": 4})
    assert progress.redraws == 2
    eager = colab.live_progress(every_s=0)
    eager.on_start(trainer)
    for step in range(3):
        eager.on_log(trainer, {"step": step})
    assert eager.redraws == 3


def fake_run(folder: Path, preset: str) -> Path:
    """A run folder with weights files and the config they were written under (enough for find_source)."""
    from vdiff import get_preset

    (folder / "weights").mkdir(parents=True)
    for kind in ("ema", "online"):
        (folder / "weights" / f"{kind}.safetensors").write_bytes(b"weights")
    get_preset(preset).to_json(folder / "weights" / "config.json")
    return folder


def test_init_from_takes_the_trained_runs_config_and_refuses_what_does_not_fit(tmp_path: Path, capsys) -> None:
    from vdiff import get_preset

    data, source = clips(tmp_path / "data", 32, 8), fake_run(tmp_path / "runs" / "base", "tiny")
    config = colab.training_config("auto", data, tmp_path / "runs" / "tuned", init_from=source)
    assert config.replace(init_from=None) == get_preset("tiny") and config.init_from == str(source)
    assert "fine-tuning from the weights of" in capsys.readouterr().out
    for preset, given, run, words in (("smoke", source, "tuned", "dim=32 -> 16"),
                                      ("auto", source, "base", "is the run folder being trained"),
                                      ("auto", data, "tuned", "holds no trained weights")):
        with pytest.raises(NotebookStop) as stop:
            colab.training_config(preset, data, tmp_path / "runs" / run, init_from=given)
        assert str(stop.value).startswith("INIT_FROM: ") and words in str(stop.value) and "\n" not in str(stop.value)
    with pytest.raises(NotebookStop, match="but the model in .*base trains on 32x32, 8 frames"):
        colab.training_config("auto", clips(tmp_path / "big", 64, 16), tmp_path / "runs" / "tuned", init_from=source)
    started = tmp_path / "runs" / "started"
    started.mkdir()
    get_preset("tiny").to_json(started / "config.json")
    assert colab.training_config("auto", data, started, init_from=source).init_from is None  # a started run's own
    assert "INIT_FROM are not used for a started run" in capsys.readouterr().out


def test_local_root_sits_beside_the_drive_mount(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VDIFF_DRIVE_MOUNT", str(tmp_path / "content" / "drive"))
    assert colab.local_root() == tmp_path / "content" / "vdiff_local"
    monkeypatch.delenv("VDIFF_DRIVE_MOUNT")
    assert colab.local_root() == Path("/content/vdiff_local")


def setup_cell(monkeypatch, tmp_path: Path, numpy_after: str) -> dict:
    """Run the notebooks' setup cell as in Colab, with pip standing in: it "installs" numpy ``numpy_after``."""
    import importlib.metadata as md
    import importlib.util
    import subprocess
    import sys
    import types

    spec = importlib.util.spec_from_file_location("build_notebooks", Path(__file__).parents[1] / "scripts" /
                                                  "build_notebooks.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    pip = {"ran": False}
    real_version = md.version
    monkeypatch.setattr(md, "version", lambda name: (numpy_after if pip["ran"] else "1.26.4") if name == "numpy"
                        else real_version(name))
    monkeypatch.setattr(md, "packages_distributions", lambda: {"numpy": ["numpy"], "json": []})
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: (pip.update(ran=True),
                                                              subprocess.CompletedProcess(cmd, 0, "", ""))[1])
    monkeypatch.chdir(tmp_path)
    namespace = {"INSTALL_FROM": str(tmp_path), "USE_DRIVE": False}
    exec(build.SETUP, namespace)
    return namespace


def test_the_setup_cell_asks_for_a_restart_in_one_line_when_the_install_replaced_an_imported_package(
        monkeypatch, tmp_path: Path) -> None:
    assert setup_cell(monkeypatch, tmp_path, "1.26.4")["ROOT"] == tmp_path  # nothing replaced: it goes on
    with pytest.raises(Exception) as stop:
        setup_cell(monkeypatch, tmp_path, "2.0.2")
    assert type(stop.value).__name__ == "RestartRuntime"
    (line,) = stop.value._render_traceback_()
    assert line.startswith("Restart the runtime (Runtime > Restart session)") and "numpy 1.26.4 -> 2.0.2" in line
