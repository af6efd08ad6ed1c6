"""Environment report: device, GPU name, compute capability and the precision training will use."""
from __future__ import annotations

import contextlib
import platform
from dataclasses import asdict, dataclass

import torch


@dataclass
class EnvReport:
    device: str                      # "cuda", "mps" or "cpu"
    gpu_name: str | None
    compute_capability: tuple[int, int] | None
    precision: str                   # "bf16", "fp16" or "no" (fp32): Accelerate's mixed_precision
    torch_version: str
    python_version: str
    gpu_memory_gb: float | None

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        gpu = f"{self.gpu_name} (compute capability {self.compute_capability[0]}.{self.compute_capability[1]}, " \
              f"{self.gpu_memory_gb:.0f} GB)" if self.gpu_name else "none"
        return (f"device={self.device}  gpu={gpu}  precision={self.precision}  "
                f"torch={self.torch_version}  python={self.python_version}")


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True where the CPU computes bf16 natively (x86 AVX512-BF16 or AMX-BF16, from Linux's /proc/cpuinfo flags).

    Without those instructions oneDNN emulates bf16 and autocast makes a CPU slower, not faster.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:  # not Linux
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def choose_precision(device: str, compute_capability: tuple[int, int] | None, requested: str = "auto",
                     native_cpu_bf16: bool | None = None) -> str:
    """Accelerate's mixed_precision for training on this device.

    CUDA: bf16 at compute capability >= 8.0, fp16 below (``torch.cuda.is_bf16_supported()`` says True on
    a T4 through emulation, so the compute capability decides). CPU: bf16 where the CPU has native bf16
    (``cpu_has_native_bf16``; on one such Xeon a ``tiny`` training step takes 0.63 s against 0.92 s in
    fp32), else "no"; fp16 autocast is never used on a CPU. MPS: "no". An explicit ``requested`` value
    ("no", "bf16", "fp16") wins where the device can run it.
    """
    if device == "cpu":
        if requested in ("no", "fp16"):
            return "no"
        native = cpu_has_native_bf16() if native_cpu_bf16 is None else native_cpu_bf16
        return "bf16" if requested == "bf16" or native else "no"
    if device != "cuda":
        return "no"
    if requested != "auto":
        return requested
    if compute_capability is not None and compute_capability >= (8, 0):
        return "bf16"
    return "fp16"


def autocast_precision(device: torch.device) -> str:
    """Sampling precision: "bf16" where ``device`` is a CUDA GPU with native bf16 (``choose_precision``'s rule),
    else "fp32". Sampling on a CPU stays fp32 even where training uses bf16: the time budget bf16 buys
    is training's, and the evaluator's numbers then compare weights, not precisions."""
    if device.type != "cuda":
        return "fp32"
    return "bf16" if choose_precision("cuda", torch.cuda.get_device_capability(device)) == "bf16" else "fp32"


def autocast_for(device: torch.device, precision: str):
    """bf16 autocast on ``device`` when ``precision`` is "bf16", else a context that does nothing."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def env_report(requested_precision: str = "auto") -> EnvReport:
    """What this machine offers and the precision a run here will use."""
    if torch.cuda.is_available():
        device = "cuda"
        props = torch.cuda.get_device_properties(0)
        name, cc, mem = props.name, (props.major, props.minor), props.total_memory / 2**30
    else:
        device = "mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu"
        name, cc, mem = None, None, None
    return EnvReport(device=device, gpu_name=name, compute_capability=cc,
                     precision=choose_precision(device, cc, requested_precision),
                     torch_version=torch.__version__, python_version=platform.python_version(),
                     gpu_memory_gb=mem)
