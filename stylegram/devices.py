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
            raise InputError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); "
                             "use --device cpu")
        try:
            return torch.device(name)
        except RuntimeError:
            raise InputError(f"--device {name}: not a device name; use cpu, cuda or cuda:N") from None
    raise InputError(f"--device {name}: unknown device; use cpu, cuda or cuda:N")


def resolve_precision(choice: str, device: torch.device) -> str:
    """``auto``: on a GPU, bf16 where it supports bfloat16; on a CPU, whichever this machine ran faster
    when measured (``precision.py``: CPU flags do not tell, docs/performance.md)."""
    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    from .precision import cpu_precision

    return cpu_precision()

