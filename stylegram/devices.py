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
    """``auto``: bf16 where bfloat16 matrix units make it about twice as fast (AMX/AVX512-BF16 CPUs, bf16 GPUs)."""
    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    fast = [getattr(torch.cpu, name, lambda: False)() for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return "bf16" if any(fast) else "fp32"
