"""save_pretrained / load_pipeline / push_to_hub, offline: the Hub's network calls are replaced in these
tests only (monkeypatched HfApi methods, a hand-built Hugging Face cache)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import write_moving_square_pairs
from vdiff import hub
from vdiff.core.config import get_preset
from vdiff.generate import load_pipeline
from vdiff.train import train

pytestmark = pytest.mark.usefixtures("single_thread_torch")
PROMPTS = ["square moving left", "square moving up"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A smoke run with caption whitening, 15 steps (one checkpoint), and an evaluator report beside it."""
    root = tmp_path_factory.mktemp("hub")
    data = write_moving_square_pairs(root / "pairs")
    run = train(get_preset("smoke", text_whitening=True), data, root / "run", max_steps=15)
    report = {name: {"overall": {"digit_accuracy": d, "direction_accuracy": 0.5 + d / 2, "both_correct": d / 2},
                     "frechet_distance": 100.0 * (1 - d)} for name, d in (("noise", 0.125), ("generated", 0.4375),
                                                                          ("real", 0.9375))}
    (run / "eval.json").write_text(json.dumps(report))
    return run


@pytest.fixture(scope="module")
def saved(run_dir, tmp_path_factory) -> Path:
    return load_pipeline(run_dir).save_pretrained(tmp_path_factory.mktemp("saved") / "pipe", steps=2)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def test_saved_folder_is_self_contained_and_samples_identically(run_dir, saved):
    assert sorted(p.name for p in saved.iterdir()) == sorted(hub.FILES + ("eval.json",))
    original, copy = load_pipeline(run_dir), load_pipeline(saved)
    a = original(PROMPTS, num=2, steps=3, seed=5, progress=False)
    b = copy(PROMPTS, num=2, steps=3, seed=5, progress=False)
    assert np.array_equal(a, b) and a.std() > 0
    assert not np.array_equal(a, copy(PROMPTS, num=2, steps=3, seed=6, progress=False))
    # The caption whitening fitted on the training captions travels inside the weights.
    assert copy.config.text_whitening and copy.model.text_mean.abs().sum() > 0
    for name, tensor in original.model.state_dict().items():
        assert torch.equal(tensor, copy.model.state_dict()[name]), name
    info = json.loads((saved / "pipeline.json").read_text())
    assert info["text_encoder"] == copy.config.text_encoder and info["caption_whitening"] is True
    assert info["steps_trained"] == 15 and info["weights"] == "ema"
    # Saving the loaded copy again gives the same folder (its steps and eval.json carried over).
    again = copy.save_pretrained(saved.parent / "again", steps=2)
    assert folder_bytes(again) == folder_bytes(saved)


def test_model_card_is_yaml_front_matter_plus_text(saved):
    text = (saved / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front_text, body = text[4:].split("\n---\n", 1)
    front = yaml.safe_load(front_text)
    assert front["pipeline_tag"] == "text-to-video" and front["library_name"] == "vdiff"
    assert {"text-to-video", "diffusion"} <= set(front["tags"])
    assert "| steps trained | 15 |" in body
    assert "smoke with" in body and "text_whitening=True" in body  # the preset and what the run changed
    assert "| digit_accuracy | 0.125 | 0.438 | 0.938 |" in body  # the run's eval.json, noise/generated/real
    assert "![samples](sample.gif)" in body and "vdiff.load_pipeline(" in body


def test_folder_without_eval_report_has_no_evaluation_section(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "eval.json").unlink()
    out = load_pipeline(run).save_pretrained(tmp_path / "out", prompts=["square moving down"], steps=1)
    assert not (out / "eval.json").exists()
    assert "## Evaluation" not in (out / "README.md").read_text()
    assert "square moving down" in (out / "README.md").read_text()


def test_push_uploads_exactly_the_saved_folder(run_dir, saved, monkeypatch):
    from huggingface_hub import HfApi

    calls = {}

    def create_repo(self, repo_id, **kwargs):
        calls["create"] = (repo_id, kwargs)
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        calls["upload"] = (repo_id, kwargs, folder_path, folder_bytes(Path(folder_path)))

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    url = load_pipeline(run_dir).push_to_hub("me/vdiff-smoke", steps=2)
    assert url == "https://huggingface.co/me/vdiff-smoke"
    repo, kwargs = calls["create"]
    assert repo == "me/vdiff-smoke" and kwargs["private"] is True and kwargs["repo_type"] == "model"
    repo, kwargs, folder, files = calls["upload"]
    assert repo == "me/vdiff-smoke" and kwargs["repo_type"] == "model"
    expected = folder_bytes(saved)
    # The card names the repo in its loading snippet; every other file is byte for byte the saved folder.
    assert files.keys() == expected.keys()
    assert all(files[k] == expected[k] for k in expected if k != "README.md")
    assert 'load_pipeline("me/vdiff-smoke")' in files["README.md"].decode()
    assert not Path(folder).exists()  # the temporary folder is cleaned up

    assert hub.main(["push", "--run", str(run_dir), "--repo", "me/public", "--public", "--steps", "1"]) == 0
    assert calls["create"][1]["private"] is False


def test_push_failure_is_one_line_exit_1(run_dir, monkeypatch, capsys):
    from huggingface_hub import HfApi

    def refuse(self, *a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(HfApi, "create_repo", refuse)
    assert hub.main(["push", "--run", str(run_dir), "--repo", "me/x", "--steps", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert "upload to me/x failed" in err and "unreachable" in err and len(err.splitlines()) == 1


def test_repo_id_offline_not_cached_is_one_line(monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError) as info:
        load_pipeline("nobody/not-a-cached-model")
    message = str(info.value)
    assert "not in the local cache" in message and "nobody/not-a-cached-model" in message
    assert len(message.splitlines()) == 1


def test_repo_id_in_the_cache_loads_offline(saved, monkeypatch, tmp_path):
    """The layout huggingface_hub's snapshot_download writes: refs/main names a snapshot folder."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "cache"
    repo = cache / "models--me--vdiff-smoke"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(saved, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    pipe = load_pipeline("me/vdiff-smoke")
    assert pipe.source == repo / "snapshots" / commit
    expected = load_pipeline(saved)(PROMPTS, steps=2, seed=1, progress=False)
    assert np.array_equal(pipe(PROMPTS, steps=2, seed=1, progress=False), expected)
    with pytest.raises(ValueError, match="one set of weights"):
        load_pipeline("me/vdiff-smoke", use_ema=False)


def test_save_command_and_bad_input_exit_2(run_dir, tmp_path, capsys):
    out = tmp_path / "pipe"
    assert hub.main(["save", "--run", str(run_dir), "--out", str(out), "--steps", "1",
                     "--prompt", "square moving right"]) == 0
    assert capsys.readouterr().out.strip() == str(out) and hub.is_pretrained_folder(out)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    cases = [
        (["save", "--run", str(tmp_path / "missing"), "--out", str(tmp_path / "o")], "run folder not found"),
        (["save", "--run", str(run_dir), "--out", str(tmp_path / "busy")], "not an empty folder"),
        (["save", "--run", str(run_dir), "--out", str(tmp_path / "o"), "--steps", "0"], "--steps"),
        (["push", "--run", str(run_dir), "--repo", "no-owner"], "not a Hub repo id"),
        (["push", "--run", str(run_dir)], "--repo"),
        (["publish", "--run", str(run_dir)], "invalid choice"),
    ]
    for argv, message in cases:
        assert exit_code(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, (argv, err)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine" and not (tmp_path / "o").exists()


def exit_code(argv: list[str]) -> int:
    """hub.main's status, whether it returns it or argparse exits with it."""
    try:
        return hub.main(argv)
    except SystemExit as e:
        return int(e.code)
