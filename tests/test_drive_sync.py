"""Local-first training: the data copied once and checked, checkpoints copied to "Drive" whole or not at all,
training that goes on while Drive is away, and a resume from the newest complete checkpoint, local or Drive's."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vdiff.apps import drive_sync, file_copy, local_first
from vdiff.apps.drive_sync import RunMirror
from vdiff.apps.file_copy import CopyError
from vdiff.apps.local_first import cache_dataset, prepare_local_run
from vdiff.core.config import get_preset
from vdiff.core.run_folder import RunFolder
from vdiff.train import main, train

pytestmark = pytest.mark.usefixtures("single_thread_torch")


def fake_run(folder: Path, steps: list[int]) -> RunFolder:
    """A run folder with real (small) checkpoints at ``steps``, weights, a config, a log and a sample."""
    run = RunFolder(folder)
    for step in steps:
        run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        torch.save({"step": step, "w": torch.full((256,), float(step))}, run.checkpoint_file(step))
    run.weights_dir.mkdir(parents=True, exist_ok=True)
    for kind in ("ema", "online"):
        run.weights_file(kind).write_bytes(f"{kind} at {steps[-1] if steps else 0}".encode())
    get_preset("smoke").to_json(run.config_file)
    run.log_file.write_text('{"step": 1}\n', encoding="utf-8")
    run.samples_dir.mkdir(exist_ok=True)
    run.sample_file(1, "ema").write_bytes(b"GIF89a...")
    return run


def visible(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_dataset_is_copied_once_checked_and_copied_again_when_it_changes(pairs_dir, tmp_path, capsys):
    (pairs_dir / "notes.md").write_text("not part of the dataset")
    local = cache_dataset(pairs_dir, tmp_path / "cache", progress=False)
    assert local.parent == tmp_path / "cache" and local.name.startswith("pairs-")
    assert sorted(p.name for p in local.iterdir() if not p.name.startswith(".")) == \
        sorted(p.name for p in pairs_dir.iterdir() if p.suffix in (".gif", ".txt"))
    assert all((local / p.name).read_bytes() == p.read_bytes() for p in pairs_dir.glob("*.gif"))
    first = (local / "clip000.gif").stat().st_ino
    assert cache_dataset(pairs_dir, tmp_path / "cache", progress=False) == local
    assert "is up to date" in capsys.readouterr().out and (local / "clip000.gif").stat().st_ino == first
    (pairs_dir / "clip000.txt").write_text("square moving up, changed\n")
    cache_dataset(pairs_dir, tmp_path / "cache", progress=False)
    assert (local / "clip000.txt").read_text() == "square moving up, changed\n"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [local.name]  # no partial copy left behind


def test_a_copy_that_fails_or_comes_out_short_stops_in_one_line_and_leaves_no_dataset(pairs_dir, tmp_path,
                                                                                       monkeypatch):
    real = file_copy.shutil.copyfile

    def flaky(src, dst, *a, **k):
        if Path(src).name == "clip003.gif":
            raise OSError(107, "Transport endpoint is not connected")  # Drive's mount dropped
        return real(src, dst, *a, **k)

    monkeypatch.setattr(file_copy.shutil, "copyfile", flaky)
    with pytest.raises(CopyError) as stop:
        cache_dataset(pairs_dir, tmp_path / "cache", progress=False)
    message = str(stop.value)
    assert "1 of 16 files incomplete" in message and "clip003.gif" in message and "\n" not in message
    assert stop.value._render_traceback_() == [f"Stopped: {message}"]
    assert not any(p.name.startswith("pairs-") for p in (tmp_path / "cache").iterdir())

    def short(src, dst, *a, **k):  # a read that ends early without an error
        Path(dst).write_bytes(Path(src).read_bytes()[:10])

    monkeypatch.setattr(file_copy.shutil, "copyfile", short)
    with pytest.raises(OSError, match="copied 10 of"):
        file_copy.copy_file(pairs_dir / "clip000.gif", tmp_path / "one" / "clip000.gif")
    assert list((tmp_path / "one").iterdir()) == []  # neither the file nor its temp copy

    def growing(src, dst, *a, **k):  # the trainer appends to log.jsonl while the mirror copies it
        with open(src, "a") as f:
            f.write('{"step": 2}\n')
        return real(src, dst, *a, **k)

    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1}\n')
    monkeypatch.setattr(file_copy.shutil, "copyfile", growing)
    assert file_copy.copy_file(log, tmp_path / "two" / "log.jsonl").read_text().count("step") == 2


def test_the_mirror_copies_the_newest_checkpoint_then_weights_and_files_and_prunes(tmp_path, monkeypatch):
    local, remote = fake_run(tmp_path / "local", [10, 20]), RunFolder(tmp_path / "drive")
    emptied = []
    real_discard = drive_sync.prune_checkpoints.__globals__["discard"]
    monkeypatch.setitem(drive_sync.prune_checkpoints.__globals__, "discard",
                        lambda p: (emptied.append(Path(p).name) if Path(p).suffix == ".pt" else None, real_discard(p)))
    mirror = RunMirror(local.path, remote.path, keep_last=2, background=False)
    assert mirror.sync() == 20
    assert [p.name for p in remote.checkpoints()] == ["step_0000020.pt"]  # the newest only
    assert remote.checkpoint_file(20).read_bytes() == local.checkpoint_file(20).read_bytes()
    assert visible(remote.path) == [v for v in visible(local.path) if "step_0000010.pt" not in v]
    for step in (30, 40):
        torch.save({"step": step}, local.checkpoint_file(step))
        local.weights_file("ema").write_bytes(f"ema at {step}".encode())
        mirror.sync()
    assert [p.name for p in remote.checkpoints()] == ["step_0000030.pt", "step_0000040.pt"]
    assert remote.weights_file("ema").read_bytes() == b"ema at 40"
    assert emptied == ["step_0000020.pt"]  # pruned on Drive as locally: emptied, then deleted
    assert not [p for p in remote.path.rglob(".*")]  # no temp file left


def test_training_goes_on_while_drive_is_away_and_the_newest_checkpoint_follows(tmp_path, monkeypatch, capsys):
    local, remote = fake_run(tmp_path / "local", [10]), RunFolder(tmp_path / "drive")
    mirror = RunMirror(local.path, remote.path, keep_last=3, retry_every_s=0, background=False)
    trainer = type("T", (), {"config": get_preset("smoke")})()
    mirror.on_start(trainer)
    assert remote.checkpoints()[-1].name == "step_0000010.pt"
    real = drive_sync.copy_file
    away = {"on": True}

    def copy(src, dst, **kw):
        if away["on"]:
            raise OSError(107, "Transport endpoint is not connected")
        return real(src, dst, **kw)

    monkeypatch.setattr(drive_sync, "copy_file", copy)
    for step in (20, 30):
        torch.save({"step": step}, local.checkpoint_file(step))
        mirror.on_save(trainer, step, local.checkpoint_file(step))  # must not raise: the run goes on
        mirror.on_log(trainer, {"step": step})
    err = capsys.readouterr().err
    assert err.count("copying the run to") == 1 and "training goes on" in err  # said once
    assert mirror.failing and remote.checkpoints()[-1].name == "step_0000010.pt"
    away["on"] = False
    mirror.on_log(trainer, {"step": 31})  # the retry: Drive answers again
    assert not mirror.failing and remote.checkpoints()[-1].name == "step_0000030.pt"
    assert "Drive answers again" in capsys.readouterr().err


def test_a_background_mirror_waits_at_the_end_and_a_hung_drive_does_not_hold_training(tmp_path, monkeypatch):
    import threading

    local, remote = fake_run(tmp_path / "local", [10]), RunFolder(tmp_path / "drive")
    mirror = RunMirror(local.path, remote.path, keep_last=3)
    release = threading.Event()
    real = drive_sync.copy_file
    monkeypatch.setattr(drive_sync, "copy_file", lambda *a, **k: (release.wait(10), real(*a, **k))[1])
    mirror.request()  # returns at once although the copy is hung
    assert not mirror.wait(timeout=0.2) and not remote.checkpoints()
    release.set()
    assert mirror.wait(timeout=10) and mirror.finish()
    assert remote.checkpoints()[-1].name == "step_0000010.pt"


def test_the_run_resumes_from_the_newest_complete_checkpoint_local_or_on_drive(tmp_path, capsys):
    remote = fake_run(tmp_path / "drive", [10, 20, 30])
    # A copy to Drive cut off by a disconnect leaves only a hidden temp file, never taken for a checkpoint,
    # and a named file that Drive broke is passed over for the one before.
    (remote.checkpoint_dir / ".step_0000040.pt.abc123.tmp").write_bytes(b"PK\x03\x04 half")
    remote.checkpoint_file(30).write_bytes(remote.checkpoint_file(30).read_bytes()[:100])
    local = RunFolder(prepare_local_run(remote.path, tmp_path / "local"))
    assert [p.name for p in local.checkpoints()] == ["step_0000020.pt"]
    assert local.config_file.read_bytes() == remote.config_file.read_bytes() and local.weights_file("ema").is_file()
    assert "checkpoint at step 20" in capsys.readouterr().out
    # The same runtime trained on while Drive was away: its newer local checkpoint wins.
    torch.save({"step": 50}, local.checkpoint_file(50))
    assert prepare_local_run(remote.path, tmp_path / "local") == local.path
    assert local.checkpoints()[-1].name == "step_0000050.pt" and "local disk's checkpoint at step 50" in \
        capsys.readouterr().out


def test_the_command_trains_locally_copies_to_out_and_resumes_after_the_local_disk_is_wiped(pairs_dir, tmp_path,
                                                                                           capsys):
    import shutil

    config = tmp_path / "smoke.json"
    get_preset("smoke", save_every=5, sample_every=5, sampling={"steps": 2}).to_json(config)
    drive, cache = tmp_path / "drive" / "run", tmp_path / "local"
    args = ["--config", str(config), "--data", str(pairs_dir), "--out", str(drive), "--data-cache", str(cache / "data"),
            "--run-cache", str(cache / "runs")]
    assert main(args + ["--max-steps", "6"]) == 0
    remote = RunFolder(drive)
    assert [p.name for p in remote.checkpoints()] == ["step_0000005.pt", "step_0000006.pt"]
    local = RunFolder(next((cache / "runs").iterdir()))
    assert visible(remote.path) == visible(local.path)
    assert remote.checkpoint_file(6).read_bytes() == local.checkpoint_file(6).read_bytes()
    assert remote.progress_file.is_file() and '"event": "stop"' in remote.log_file.read_text()
    shutil.rmtree(cache)  # a new runtime: the local disk is empty, Drive kept the run
    assert main(args + ["--max-steps", "8"]) == 0
    events = [(r["event"], r["step"]) for r in remote.log_records() if r.get("event") in ("start", "resume")]
    assert events == [("start", 0), ("resume", 6)] and remote.checkpoints()[-1].name == "step_0000008.pt"
    assert "checkpoint at step 6" in capsys.readouterr().out
    assert not [p for p in drive.rglob("*") if p.name.startswith(".")]
