"""vdiff.bench: one JSON object whose numbers agree with each other and with an independent count (smoke preset)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from vdiff.core.config import get_preset
from vdiff.models.unet import UNet3D

KEYS = ("clips_per_s", "denoise_call_s", "params_m", "gflop_per_call", "achieved_tflops",
        "flop_utilisation", "peak_mem_mb", "train_step_s", "saved_activations_mb")
FAST = ["--preset", "smoke", "--batch", "2", "--iters", "1", "--warmup", "0",
        "--sample-clips", "2", "--sample-steps", "2", "--baseline-sample-steps", "1", "--device", "cpu"]


def run_bench(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vdiff.bench", *FAST, *extra],
                          capture_output=True, text=True, timeout=300)


def check_numbers(result: dict, batch: int = 2) -> None:
    """The derived numbers follow from the measured ones, and the timings are ordered as the work is."""
    for key in KEYS:
        assert isinstance(result[key], (int, float)) and result[key] > 0, key
    assert result["clips_per_s"] == pytest.approx(batch / result["train_step_s"])
    assert result["achieved_tflops"] == pytest.approx(result["gflop_per_call"] / result["denoise_call_s"] / 1e3)
    # a training step (forward, backward, optimizer) costs more than one forward call of the same batch
    assert result["train_step_s"] > result["denoise_call_s"]
    assert result["train_gflop_per_step"] > 2 * result["gflop_per_call"]
    # sampling 2 clips with guidance runs at least one call on 2 x 2 rows per step
    assert result["sampling"]["seconds"] > result["denoise_call_s"]


HAVE_BASELINE = importlib.util.find_spec("video_diffusion_pytorch") is not None


@pytest.mark.slow
def test_bench_prints_one_json_object_with_the_real_parameter_count():
    # One run serves both checks (the baseline is bench-only: pip install --no-deps -r requirements-bench.txt)
    proc = run_bench(*(["--baseline"] if HAVE_BASELINE else []))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    check_numbers(result)
    config = get_preset("smoke")
    model = UNet3D(config, 384).eval()
    real = sum(p.numel() for p in model.parameters())
    assert result["params"] == real
    assert result["params_m"] == pytest.approx(real / 1e6)
    # FLOPs counted here, independently, for one call on the benchmark's batch of 2
    x = torch.randn(2, config.channels, config.num_frames, config.image_size, config.image_size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, torch.tensor([3, 50]), torch.randn(2, 384))
    assert result["gflop_per_call"] == pytest.approx(counter.get_total_flops() / 1e9, rel=1e-6)
    # sampled as the preset says (its x0 clipping, sampler, guidance), with --sample-steps 2 on top
    assert {k: result["sampling"][k] for k in ("sampler", "steps", "guidance", "x0_clip", "x0_clip_quantile")} == {
        **config.sampling.to_dict(), "steps": 2}
    assert result["sampling"]["extrapolated"] is False
    if not HAVE_BASELINE:
        assert "baseline" not in result
        return
    base = result["baseline"]
    check_numbers(base)
    assert base["sampling"]["extrapolated"] is True and base["sampling"]["steps"] == 1000
    ratios = result["ratios"]
    assert ratios["denoise_call_speedup"] == pytest.approx(base["denoise_call_s"] / result["denoise_call_s"])
    assert ratios["params"] == pytest.approx(result["params"] / base["params"])


@pytest.mark.parametrize("args, message", [
    (["--preset", "nope"], "unknown preset"),
    (["--batch", "0"], "--batch"),
    (["--device", "cuda:99"], "device"),
    (["--device", "nonsense"], "device"),
    (["--config", "/no/such/config.json"], "config file not found"),
])
def test_bad_arguments_exit_2_with_one_line(args, message, capsys):
    from vdiff.bench import main

    try:  # in-process: the same main() as python -m vdiff.bench (the slow test above runs that)
        code = main(args)
    except SystemExit as stop:  # argparse's own checks exit from parse_args
        code = stop.code
    out, err = capsys.readouterr()
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


def test_memory_only_reports_activation_memory_without_timing(capsys):
    from vdiff.bench import main

    def memory(batch: int) -> dict:
        assert main(["--preset", "smoke", "--batch", str(batch), "--memory-only", "--device", "cpu"]) == 0
        return json.loads(capsys.readouterr().out)

    result = memory(2)
    assert result["saved_activations_mb"] > 0 and "clips_per_s" not in result
    assert result["weights_grads_adam_mb"] == pytest.approx(16 * result["params"] / 2 ** 20)
    # activations grow with the batch: twice the clips, (almost exactly) twice the memory
    assert 1.8 < memory(4)["saved_activations_mb"] / result["saved_activations_mb"] < 2.1


def test_config_file_measures_that_model(tmp_path, capsys):
    # a model option's cost: the config file's model is the one measured, not the preset's
    from vdiff.bench import main

    path = tmp_path / "selfcond.json"
    get_preset("smoke", self_condition=True).to_json(path)
    results = []
    for args in (["--preset", "smoke"], ["--config", str(path)]):
        assert main([*args, "--batch", "2", "--memory-only", "--device", "cpu"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    plain, selfcond = results
    assert selfcond["preset"] == str(path)
    expected = sum(p.numel() for p in UNet3D(get_preset("smoke", self_condition=True), 384).parameters())
    assert selfcond["params"] == expected > plain["params"]  # the estimate's input channels


def test_bench_samples_with_the_presets_own_options(monkeypatch):
    """vdiff.bench once sampled every preset with dynamic thresholding at 0.995, whatever the preset said."""
    from vdiff.bench import Ours, parse_args

    args = parse_args(FAST + ["--sample-steps", "1"])
    import vdiff.evaluation.bench as bench

    config = get_preset("smoke", sampling={"x0_clip": "static", "x0_clip_quantile": 0.9, "sampler": "dpm++",
                                           "guidance": 3.0})
    seen = []
    subject = Ours(config, 2, 384, torch.device("cpu"), args)
    real_sample = bench.sample
    monkeypatch.setattr(bench, "sample", lambda *a, **k: seen.append(a[3]) or real_sample(*a, **k))
    report = subject.sample_seconds()
    expected = {"sampler": "dpm++", "steps": 1, "guidance": 3.0, "x0_clip": "static", "x0_clip_quantile": 0.9}
    assert seen[0].to_dict() == expected  # the options the sampler was handed
    assert (report["sampler"], report["x0_clip"], report["guidance"]) == ("dpm++", "static", 3.0)
