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


def choose_precision(device: str, compute_capability: tuple[int, int] | None, requested: str = "auto") -> str:
    """Accelerate's mixed_precision for this device: bf16 at compute capability >= 8.0, fp16 below, "no" on CPU.

    ``torch.cuda.is_bf16_supported()`` says True on a T4 (through emulation), so the compute capability decides.
    An explicit ``requested`` value ("no", "bf16", "fp16") wins, except that a CPU always trains in fp32.
    """
    if device != "cuda":
        return "no"
    if requested != "auto":
        return requested
    if compute_capability is not None and compute_capability >= (8, 0):
        return "bf16"
    return "fp16"


def autocast_precision(device: torch.device) -> str:
    """"bf16" where ``device`` is a CUDA GPU with native bf16 (``choose_precision``'s rule), else "fp32"."""
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
