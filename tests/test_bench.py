"""vdiff.bench: one JSON object with honest, positive numbers (at the smoke preset, tiny)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from vdiff.config import get_preset
from vdiff.unet import UNet3D

KEYS = ("clips_per_s", "denoise_call_s", "params_m", "gflop_per_call", "achieved_tflops",
        "flop_utilisation", "peak_mem_mb", "train_step_s", "saved_activations_mb")
FAST = ["--preset", "smoke", "--batch", "2", "--iters", "1", "--warmup", "0",
        "--sample-clips", "2", "--sample-steps", "2", "--baseline-sample-steps", "1", "--device", "cpu"]


def run_bench(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vdiff.bench", *FAST, *extra],
                          capture_output=True, text=True, timeout=300)


def check_numbers(result: dict) -> None:
    for key in KEYS:
        assert isinstance(result[key], (int, float)) and result[key] > 0, key
    assert result["sampling"]["seconds"] > 0


HAVE_BASELINE = importlib.util.find_spec("video_diffusion_pytorch") is not None


@pytest.mark.slow
def test_bench_prints_one_json_object_with_the_real_parameter_count():
    # One run serves both checks (the baseline is bench-only: pip install --no-deps -r requirements-bench.txt)
    proc = run_bench(*(["--baseline"] if HAVE_BASELINE else []))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    check_numbers(result)
    real = sum(p.numel() for p in UNet3D(get_preset("smoke"), 384).parameters())
    assert result["params"] == real
    assert result["params_m"] == pytest.approx(real / 1e6)
    # a training step is forward + backward: more FLOPs than the forward alone
    assert result["train_gflop_per_step"] > 2 * result["gflop_per_call"]
    assert result["sampling"]["extrapolated"] is False and result["sampling"]["steps"] == 2
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
])
def test_bad_arguments_exit_2_with_one_line(args, message):
    proc = subprocess.run([sys.executable, "-m", "vdiff.bench", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_memory_only_reports_activation_memory_without_timing():
    proc = subprocess.run([sys.executable, "-m", "vdiff.bench", "--preset", "smoke", "--batch", "2",
                           "--memory-only", "--device", "cpu"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["saved_activations_mb"] > 0 and "clips_per_s" not in result
    assert result["weights_grads_adam_mb"] == pytest.approx(16 * result["params"] / 2 ** 20)
    # activations grow with the batch: twice the clips, (almost exactly) twice the memory
    proc4 = subprocess.run([sys.executable, "-m", "vdiff.bench", "--preset", "smoke", "--batch", "4",
                            "--memory-only", "--device", "cpu"], capture_output=True, text=True, timeout=120)
    ratio = json.loads(proc4.stdout)["saved_activations_mb"] / result["saved_activations_mb"]
    assert 1.8 < ratio < 2.1
