"""Trainer: exact resume, refused shape changes, EMA cadence, non-finite stop, checkpoint contents, callbacks,
out-of-memory halving, CLI, 2 processes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vdiff.training.checkpoint import list_checkpoints, load_checkpoint, load_weights
from vdiff.core.config import get_preset
from vdiff.train import Callback, Trainer, TrainingStopped, main, run_config, train

pytestmark = pytest.mark.usefixtures("single_thread_torch")
ROOT = Path(__file__).resolve().parents[1]


def fast(**kw):
    """The smoke preset without sampling, logging every step."""
    base = dict(log_every=1, sample_every=0, save_every=1000, ema_update_every=2, ema_start_step=2)
    base.update(kw)
    return get_preset("smoke", **base)


def step_losses(run: Path) -> dict[int, float]:
    out = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "event" not in rec:
            out[rec["step"]] = rec["loss"]
    return out


def test_resume_reproduces_the_uninterrupted_run_exactly(pairs_dir, tmp_path):
    full = train(fast(), pairs_dir, tmp_path / "full", max_steps=8)
    part = train(fast(), pairs_dir, tmp_path / "part", max_steps=4)
    assert [p.name for p in list_checkpoints(part / "checkpoints")] == ["step_0000004.pt"]
    train(fast(), pairs_dir, part, max_steps=8)  # resumes by default
    a, b = step_losses(full), step_losses(part)
    assert sorted(a) == list(range(1, 9))
    assert [b[s] for s in range(5, 9)] == [a[s] for s in range(5, 9)]  # bit-identical, not approx
    assert len(set(a.values())) == 8  # the losses do change from step to step
    wa = load_weights(full / "weights" / "online.safetensors")
    wb = load_weights(part / "weights" / "online.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    ea = load_weights(full / "weights" / "ema.safetensors")
    eb = load_weights(part / "weights" / "ema.safetensors")
    assert all(torch.equal(ea[k], eb[k]) for k in ea)

    state = load_checkpoint(part / "checkpoints" / "step_0000008.pt")  # weights_only=True
    assert state["step"] == 8
    # EMA updated every 2 steps after step 2: steps 4, 6, 8.
    assert int(state["ema"]["n_averaged"]) == 3
    assert {"model", "ema", "optimizer", "rng", "config"} <= set(state)
    assert set(state["rng"]) >= {"python", "numpy", "torch"}
    # A config that changes the model's shape is refused, naming the field.
    with pytest.raises(ValueError, match=r"dim=16 -> 32"):
        train(fast(dim=32), pairs_dir, part, max_steps=10)
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train(fast(), pairs_dir, part, max_steps=10, resume=False)


def test_caption_whitening_is_fitted_on_the_data_once_and_kept_on_resume(pairs_dir, tmp_path):
    run = train(fast(text_whitening=True), pairs_dir, tmp_path / "w", max_steps=2)
    online = load_weights(run / "weights" / "online.safetensors")
    ema = load_weights(run / "weights" / "ema.safetensors")
    assert not torch.equal(online["text_whitening"], torch.eye(online["text_whitening"].shape[0]))
    torch.testing.assert_close(ema["text_whitening"], online["text_whitening"])
    train(fast(text_whitening=True), pairs_dir, run, max_steps=4)
    resumed = load_weights(run / "weights" / "online.safetensors")
    assert torch.equal(resumed["text_whitening"], online["text_whitening"])
    assert torch.equal(resumed["text_mean"], online["text_mean"])
    with pytest.raises(ValueError, match="text_whitening"):
        train(fast(), pairs_dir, run, max_steps=6)


def test_nonfinite_losses_stop_the_run_with_a_loadable_checkpoint(pairs_dir, tmp_path, monkeypatch):
    from vdiff.diffusion import Diffusion

    real = Diffusion.training_losses
    calls = {"n": 0}

    def sometimes_nan(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] > 2:  # two good steps, then only NaN
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(Diffusion, "training_losses", sometimes_nan)
    with pytest.raises(TrainingStopped, match="3 non-finite losses in a row"):
        train(fast(max_nonfinite=3), pairs_dir, tmp_path / "run", max_steps=20)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "step_0000005.pt")
    assert state["nonfinite_total"] == 3
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_cli_user_errors_are_one_line_exit_2(tmp_path, capsys):
    assert main(["--preset", "nope", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown preset" in err and len(err.splitlines()) == 1
    assert main(["--preset", "smoke", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert "data folder not found" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "no usable" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--preset", "smoke", "--out", str(tmp_path / "r")])  # no --data
    assert e.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.slow
def test_two_process_accelerate_run_on_cpu_resumes(pairs_dir, tmp_path):
    # On a machine without GPUs, `--multi_gpu` starts the processes (torchrun) and the trainer puts
    # them on the CPU with gloo; `--cpu` alone would start a single process.
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    run = tmp_path / "run"
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")

    def launch(steps: int) -> None:
        cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "vdiff.train", "--preset", "smoke",
               "--data", str(pairs_dir), "--out", str(run), "--max-steps", str(steps)]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, proc.stderr[-3000:]

    launch(3)
    launch(5)
    events = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    starts = [e for e in events if e.get("event") in ("start", "resume")]
    assert [(e["event"], e["step"], e["processes"]) for e in starts] == [("start", 0, 2), ("resume", 3, 2)]
    assert len(starts) == 2  # only the main process writes the log
    state = load_checkpoint(run / "checkpoints" / "step_0000005.pt")
    assert state["step"] == 5


@pytest.mark.slow
def test_two_processes_share_the_budget_estimates_and_stop_together(pairs_dir, tmp_path):
    # linear_budget with a time budget: every process must take the main process's estimate at the same
    # steps (log steps), or a broadcast waits forever (the subprocess timeout fails the test).
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    config = tmp_path / "budget.json"
    fast(lr_schedule="linear_budget", log_every=3, max_steps=100_000, save_every=0).to_json(config)
    run = tmp_path / "run"
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "vdiff.train", "--config", str(config),
           "--data", str(pairs_dir), "--out", str(run), "--max-minutes", "0.3"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    budgets = [e for e in events if e.get("event") == "deadline"]
    assert budgets and all(e["step"] % 3 == 0 for e in budgets)
    stop = next(e for e in events if e.get("event") == "stop")
    assert stop["reason"] in ("max_minutes", "deadline_step") and stop["step"] < 100_000


def test_precision_follows_compute_capability_not_bf16_emulation():
    from vdiff.core.env import choose_precision, cpu_has_native_bf16, env_report

    assert choose_precision("cuda", (8, 0)) == "bf16"   # A100
    assert choose_precision("cuda", (8, 9)) == "bf16"   # L4
    assert choose_precision("cuda", (7, 5)) == "fp16"   # T4: emulated bf16 does not count
    assert choose_precision("cuda", (7, 5), "no") == "no"
    report = env_report()
    if report.device == "cpu":
        expected = "bf16" if cpu_has_native_bf16() else "no"
        assert report.precision == expected and report.gpu_name is None and f"precision={expected}" in str(report)


def test_cpu_trains_in_bf16_only_with_native_bf16_instructions():
    from vdiff.core.env import choose_precision, cpu_has_native_bf16

    xeon = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile\n"
    older = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
    assert cpu_has_native_bf16(xeon) and cpu_has_native_bf16("flags : amx_bf16 avx2")
    assert not cpu_has_native_bf16(older) and not cpu_has_native_bf16("")
    assert choose_precision("cpu", None, "auto", native_cpu_bf16=True) == "bf16"
    assert choose_precision("cpu", None, "auto", native_cpu_bf16=False) == "no"
    assert choose_precision("cpu", None, "no", native_cpu_bf16=True) == "no"      # the user's fp32 wins
    assert choose_precision("cpu", None, "fp16", native_cpu_bf16=True) == "no"    # no fp16 autocast on a CPU
    assert choose_precision("cpu", None, "bf16", native_cpu_bf16=False) == "bf16"  # asked for: emulated
    assert choose_precision("mps", None, "bf16") == "no"


def test_sampling_and_bench_autocast_bf16_only_on_native_bf16_gpus(monkeypatch):
    from vdiff.bench import resolve_precision
    from vdiff.core.env import autocast_precision

    cuda = torch.device("cuda")
    for capability, expected in (((8, 0), "bf16"), ((9, 0), "bf16"), ((7, 5), "fp32")):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        assert autocast_precision(cuda) == expected
        assert resolve_precision("auto", cuda) == expected
    assert autocast_precision(torch.device("cpu")) == "fp32"
    assert resolve_precision("fp32", cuda) == "fp32"


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_start(self, trainer):
        self.calls.append(("start", trainer.step, trainer.end_step))

    def on_log(self, trainer, record):
        self.calls.append(("log", record["step"], record["loss"]))

    def on_samples(self, trainer, step, paths):
        self.calls.append(("samples", step, [p.name for p in paths if p.is_file()]))

    def on_save(self, trainer, step, path):
        self.calls.append(("save", step, path.is_file()))

    def on_end(self, trainer, summary):
        self.calls.append(("end", summary["step"], summary["reason"]))


def test_one_fit_calls_back_logs_samples_saves_and_a_resumed_run_keeps_its_config(pairs_dir, tmp_path):
    rec = Recorder()
    run = Trainer(fast(log_every=2, sample_every=3, save_every=3, sampling={"steps": 2}), pairs_dir, tmp_path / "run",
                  max_steps=6, callbacks=[rec]).fit()
    kinds = [c[0] for c in rec.calls]
    assert rec.calls[0] == ("start", 0, 6) and rec.calls[-1] == ("end", 6, "max_steps")
    logged = [c for c in rec.calls if c[0] == "log"]
    assert [c[1] for c in logged] == [2, 4, 6]
    assert [c[2] for c in logged] == [step_losses(run)[s] for s in (2, 4, 6)]  # what on_log got is the log
    assert ("samples", 3, ["step_0000003_ema.gif", "step_0000003_online.gif"]) in rec.calls
    assert ("save", 3, True) in rec.calls and ("save", 6, True) in rec.calls
    assert kinds.index("samples") < kinds.index("save")
    # A resumed run keeps its own preset: run_config gives the folder's config, not today's choice.
    assert run_config(run).dim == 16 and run_config(tmp_path / "new") is None
    again = Recorder()
    Trainer(run_config(run), pairs_dir, run, max_steps=8, callbacks=[again]).fit()
    assert again.calls[0] == ("start", 6, 8)


def test_on_log_fires_on_time_between_log_every_steps(pairs_dir, tmp_path, monkeypatch):
    import vdiff.training.trainer as vt

    ticks = iter(range(10**6))
    monkeypatch.setattr(vt, "clock", lambda: float(next(ticks)))  # every clock read is one second later
    rec = Recorder()
    Trainer(fast(log_every=1000), pairs_dir, tmp_path / "run", max_steps=5, callbacks=[rec],
            progress_every_s=3.0).fit()
    steps = [c[1] for c in rec.calls if c[0] == "log"]
    assert len(steps) >= 2 and steps[-1] == 5 and steps[0] < 5  # not only at the end


def test_cli_resume_flag_requires_a_checkpoint_and_the_run_folder_supplies_the_config(pairs_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--preset", "smoke", "--data", str(pairs_dir), "--out", str(out), "--max-steps", "2",
                 "--resume"]) == 2
    assert "holds no checkpoint to resume" in capsys.readouterr().err
    assert main(["--data", str(pairs_dir), "--out", str(out), "--max-steps", "2"]) == 2
    assert "give --preset or --config" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--data", str(pairs_dir), "--out", str(out), "--max-steps", "2"]) == 0
    assert main(["--data", str(pairs_dir), "--out", str(out), "--max-steps", "3", "--resume",
                 "--log-with", "tensorboard"]) == 0
    assert load_checkpoint(out / "checkpoints" / "step_0000003.pt")["step"] == 3
    assert run_config(out).log_with == "tensorboard" and list((out / "tensorboard").glob("events.out.tfevents.*"))


def oom_above(monkeypatch, limit: int, seen: list[int]):
    """Make training_losses raise CUDA's out-of-memory error for micro-batches above ``limit`` clips."""
    from vdiff.diffusion import Diffusion

    real = Diffusion.training_losses

    def limited(self, model, x0, *args, **kwargs):
        if x0.shape[0] > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        seen.append(x0.shape[0])
        return real(self, model, x0, *args, **kwargs)

    monkeypatch.setattr(Diffusion, "training_losses", limited)


def test_out_of_memory_halves_the_micro_batch_and_keeps_the_effective_batch(pairs_dir, tmp_path, monkeypatch):
    reference = step_losses(train(fast(grad_accum=2), pairs_dir, tmp_path / "ref", max_steps=4))
    seen: list[int] = []
    oom_above(monkeypatch, 1, seen)
    run = train(fast(grad_accum=2), pairs_dir, tmp_path / "run", max_steps=4)  # batch 4 x 2 -> 1 x 8
    assert seen == [1] * 32  # every step still averages 4 x 2 clips
    losses = step_losses(run)
    assert sorted(losses) == [1, 2, 3, 4]
    for s in losses:  # same clips and noise, summed in another order
        assert losses[s] == pytest.approx(reference[s], rel=1e-5)
    events = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    halvings = [(e["micro_batch"], e["accumulation"]) for e in events if e.get("event") == "micro_batch"]
    assert halvings == [(2, 4), (1, 8)]
    assert load_checkpoint(run / "checkpoints" / "step_0000004.pt")["micro_batch"] == 1
    seen.clear()
    train(fast(grad_accum=2), pairs_dir, run, max_steps=5)  # the resumed run starts at the halved size
    resumed = [e for e in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if e.get("event") == "resume"]
    assert resumed[0]["micro_batch"] == 1 and seen == [1] * 8


def test_self_conditioned_steps_draw_their_rows_with_the_step_and_keep_them_when_split(pairs_dir, tmp_path,
                                                                                       monkeypatch):
    # Which clips get the model's own estimate is drawn with the step's clips and noise, so a step
    # split into micro-batches (after out-of-memory) trains on the same estimates.
    config = fast(self_condition=True, grad_accum=2)
    reference = step_losses(train(config, pairs_dir, tmp_path / "ref", max_steps=3))
    oom_above(monkeypatch, 1, [])
    split = step_losses(train(config, pairs_dir, tmp_path / "split", max_steps=3))
    assert sorted(split) == [1, 2, 3]
    for s in split:
        assert split[s] == pytest.approx(reference[s], rel=1e-5)
    with pytest.raises(ValueError, match="self_condition"):  # the estimate channels are part of the weights
        train(fast(grad_accum=2), pairs_dir, tmp_path / "ref", max_steps=4)


def test_out_of_memory_with_a_fixed_micro_batch_stops_with_what_to_change(pairs_dir, tmp_path, monkeypatch):
    oom_above(monkeypatch, 2, [])
    with pytest.raises(TrainingStopped, match=r"micro-batches of 4 clips: set micro_batch to \"auto\" or a smaller"):
        train(fast(micro_batch=4), pairs_dir, tmp_path / "run", max_steps=3)
    assert train(fast(micro_batch=2), pairs_dir, tmp_path / "ok", max_steps=2).is_dir()


def test_tensorboard_scalars_match_the_log_and_samples_are_animated_gifs(pairs_dir, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train(fast(log_with="tensorboard", log_every=2, sample_every=4, sampling={"steps": 2}), pairs_dir,
                tmp_path / "run", max_steps=4)
    train(fast(log_with="tensorboard", log_every=2, sample_every=4, sampling={"steps": 2}), pairs_dir, run, max_steps=6)
    # Resuming writes a second event file into the same folder; read both.
    acc = [EventAccumulator(str(f)).Reload() for f in sorted((run / "tensorboard").glob("events.out.tfevents.*"))]
    assert len(acc) == 2
    records = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if '"event"' not in l]
    for key in ("loss", "lr", "ema_decay", "grad_norm", "steps_per_s"):
        board = {e.step: e.value for a in acc for e in a.Scalars(key)}
        assert board == pytest.approx({r["step"]: r[key] for r in records}, rel=1e-6), key
    images = acc[0].Images("samples/ema")
    assert [i.step for i in images] == [4] and images[0].encoded_image_string[:6] == b"GIF89a"
    assert images[0].encoded_image_string == (run / "samples" / "step_0000004_ema.gif").read_bytes()


def test_log_with_names_a_missing_tracker_package(pairs_dir, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ValueError, match="needs the wandb package: pip install wandb"):
        Trainer(fast(log_with="wandb"), pairs_dir, tmp_path / "run")


def logged(run: Path, key: str) -> dict[int, float]:
    return {r["step"]: r[key] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "event" not in r}


def test_linear_budget_schedule_decays_to_zero_at_max_steps_and_constant_stays(pairs_dir, tmp_path):
    lin = logged(train(fast(lr_schedule="linear_budget"), pairs_dir, tmp_path / "lin", max_steps=20), "lr")
    const = logged(train(fast(), pairs_dir, tmp_path / "const", max_steps=20), "lr")
    lr, warmup = 1e-3, 5  # the smoke preset's
    assert [lin[s] for s in range(1, warmup + 1)] == [const[s] for s in range(1, warmup + 1)]  # same warm-up
    assert const[1] == 0.0 and const[warmup + 1] == lr and const[20] == lr
    decay = [lin[s] for s in range(warmup + 1, 21)]
    assert decay[0] == pytest.approx(lr) and all(b < a for a, b in zip(decay, decay[1:]))
    assert lin[20] == pytest.approx(lr / (20 - warmup)) and lin[20] < 0.07 * lr  # one step before 0


def test_budget_estimate_follows_a_machine_that_speeds_up():
    from types import SimpleNamespace

    from vdiff.training.budget import Budget
    from vdiff.training.lr_schedule import LRSchedule

    schedule = LRSchedule(SimpleNamespace(lr_schedule="linear_budget", lr=1e-3, warmup_steps=0, lr_floor=0.0))
    budget = Budget(10_000, 1.0, estimate_deadline=schedule.needs_end_step)
    clock_s, step, estimates = 0.0, 0, []
    while clock_s < 60:  # one minute: 0.5 s a step for 6 s (start-up, caches), then 0.25 s
        clock_s += 0.5 if clock_s < 6 else 0.25
        step += 1
        if budget.needs_estimate() and (proposal := budget.propose(step, clock_s, 0.0)) is not None:
            budget.accept(proposal)
            estimates.append(proposal)
    assert step == 228 and len(estimates) == 4
    assert estimates[0] < 0.6 * step                                 # the first guess saw only the slow start
    assert abs(budget.deadline_step - step) < 0.1 * step              # the last one is within 10%
    assert budget.end_step == budget.deadline_step < budget.max_steps
    assert schedule.lr_at(step, budget.end_step) < 0.1 * schedule.lr  # so the lr has nearly reached 0


def test_a_checkpoint_from_before_the_budget_keeps_its_deadline_step():
    from vdiff.training.budget import Budget, saved_budget

    old = {"step": 8, "lr_schedule": {"kind": "linear_budget", "budget_steps": 15}}
    budget = Budget(1000, 0.5, estimate_deadline=True)
    budget.load_state_dict(saved_budget(old))
    assert (budget.deadline_step, budget.end_step, budget.needs_estimate()) == (15, 15, False)
    assert saved_budget({"budget": budget.state_dict()}) == {"deadline_step": 15}


def test_budget_estimate_is_refined_saved_and_reused_by_a_resumed_run(pairs_dir, tmp_path, monkeypatch):
    import vdiff.training.trainer as vt
    from vdiff.diffusion import Diffusion
    from vdiff.training.budget import ESTIMATE_AT

    now, real = [0.0], Diffusion.training_losses
    speed = {"s_per_step": 0.5}

    def timed(self, *args, **kwargs):  # time passes where a real machine spends it: in the model
        now[0] += speed["s_per_step"]
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Diffusion, "training_losses", timed)
    monkeypatch.setattr(vt, "clock", lambda: now[0])
    config = fast(lr_schedule="linear_budget", save_every=8, keep_last=10)
    full = train(config, pairs_dir, tmp_path / "full", max_steps=1000, max_minutes=0.125)
    events = [json.loads(l) for l in (full / "log.jsonl").read_text().splitlines()]
    budget = [e for e in events if e.get("event") == "deadline"]
    stop = [e for e in events if e.get("event") == "stop"][0]
    assert len(budget) == len(ESTIMATE_AT) and stop["reason"] in ("max_minutes", "deadline_step")
    end = budget[-1]["end_step"]
    assert stop["step"] == end == 15  # 7.5 s at 0.5 s a step: the estimate finds the deadline
    lrs = logged(full, "lr")
    assert lrs[stop["step"]] < 0.15 * config.lr and lrs[budget[0]["step"]] > 0.5 * config.lr
    assert load_checkpoint(full / "checkpoints" / "step_0000008.pt")["budget"]["deadline_step"] == end

    # Killed after the step-8 checkpoint, resumed on a machine 4x faster: the saved estimate holds,
    # and the resumed run ends where the schedule ends, though its new time budget would allow more.
    part = tmp_path / "part"
    (part / "checkpoints").mkdir(parents=True)
    shutil.copy(full / "checkpoints" / "step_0000008.pt", part / "checkpoints")
    now[0], speed["s_per_step"] = 0.0, 0.125
    train(config, pairs_dir, part, max_steps=1000, max_minutes=0.125)
    again = [json.loads(l) for l in (part / "log.jsonl").read_text().splitlines()]
    assert not [e for e in again if e.get("event") == "deadline"]
    assert [(e["step"], e["reason"]) for e in again if e.get("event") == "stop"] == [(15, "deadline_step")]
    assert logged(part, "lr") == {s: lrs[s] for s in range(9, stop["step"] + 1)}
    assert step_losses(part) == {s: step_losses(full)[s] for s in range(9, stop["step"] + 1)}


def test_cpu_run_autocasts_in_bf16_when_asked_and_the_command_line_can_say_fp32(pairs_dir, tmp_path):
    bf16 = main(["--preset", "smoke", "--data", str(pairs_dir), "--out", str(tmp_path / "bf16"),
                 "--max-steps", "5", "--mixed-precision", "bf16"])
    fp32 = main(["--preset", "smoke", "--data", str(pairs_dir), "--out", str(tmp_path / "fp32"),
                 "--max-steps", "5", "--mixed-precision", "no"])
    assert bf16 == fp32 == 0
    starts = {name: [json.loads(l) for l in (tmp_path / name / "log.jsonl").read_text().splitlines()][0]
              for name in ("bf16", "fp32")}
    assert starts["bf16"]["precision"] == "bf16" and starts["fp32"]["precision"] == "no"
    losses = {name: step_losses(tmp_path / name) for name in ("bf16", "fp32")}
    first = min(losses["fp32"])
    assert losses["bf16"][first] != losses["fp32"][first]                            # the model ran in bf16
    assert losses["bf16"][first] == pytest.approx(losses["fp32"][first], rel=0.05)   # on the same batches
    saved = load_checkpoint(tmp_path / "bf16" / "checkpoints" / "step_0000005.pt")
    assert all(t.dtype == torch.float32 for t in saved["model"].values() if t.is_floating_point())
