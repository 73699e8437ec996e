"""Which torch device and loop precision a run uses (the user's choice, resolved once per run)."""

from __future__ import annotations

import torch

from .errors import InputError


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``; refuses CUDA where torch has none."""
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
        try:
            return torch.device(name)
        except RuntimeError:
            raise InputError(f"--device {name}: not a device name; use cpu, cuda or cuda:N") from None
    raise InputError(f"--device {name}: unknown device; use cpu, cuda or cuda:N")


def resolve_precision(choice: str, device: torch.device) -> str:
    """``auto``: bf16 where bfloat16 matrix units make it faster: CPUs with AMX, GPUs with bf16.

    AVX512-BF16 alone is not enough: on such a CPU (2-core Xeon, no AMX) a 256 px iteration took
    1.55x as long in bf16 as in fp32, and a bf16 GEMM ran at 162 vs 286 GFLOP/s; with AMX, bf16
    iterations were 2.7-3.1x faster (README "Performance").
    """
    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_amx() else "fp32"


def cpu_has_amx() -> bool:
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
