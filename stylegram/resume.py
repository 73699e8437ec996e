"""Saving and restoring a stopped stylization, so ``--resume`` continues it exactly.

The state file (safetensors: tensors plus a JSON header, never pickle) holds the current
image, the optimizer's state (L-BFGS history or Adam moments), the scale and iteration
counters, the loss history used by ``--tol``, and the recipe it belongs to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError
from .fileio import atomic_write

if TYPE_CHECKING:
    import torch

FORMAT = "stylegram-resume-1"


@dataclass
class Snapshot:
    """Where a run stopped: at the end of iteration ``scale_done`` of scale ``scale_index`` (1-based)."""

    scale_index: int
    scale_done: int
    total_done: int
    image: "torch.Tensor"
    optimizer_state: dict
    history: list[float] = field(default_factory=list)
    losses: dict[str, float] = field(default_factory=dict)  # of the last iteration, reported if nothing is left
    last_in_range: "torch.Tensor | None" = None  # the last iterate in range, when the last one is wild (loop.py)
    precision: str | None = None  # the loop precision the run used (in a file: its recipe's precision_used)


def state_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.resume.safetensors")


def save_snapshot(path: Path, snapshot: Snapshot, recipe: dict) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {"image": snapshot.image.detach().cpu().contiguous()}
    if snapshot.last_in_range is not None:
        tensors["last_in_range"] = snapshot.last_in_range.detach().cpu().contiguous()
    scalars: dict = {}
    for key, value in snapshot.optimizer_state.items():
        if isinstance(value, torch.Tensor):
            tensors[f"opt.{key}"] = value.detach().cpu().contiguous()
        elif isinstance(value, list):
            present = [i for i, v in enumerate(value) if isinstance(v, torch.Tensor)]
            tensors.update({f"opt.{key}.{i}": value[i].detach().cpu().contiguous() for i in present})
            scalars[key] = {"list": len(value), "present": present}
        else:
            scalars[key] = {"value": value}
    meta = {"format": FORMAT, "recipe": json.dumps(recipe, sort_keys=True), "scalars": json.dumps(scalars),
            "counters": json.dumps([snapshot.scale_index, snapshot.scale_done, snapshot.total_done]),
            "history": json.dumps(snapshot.history), "losses": json.dumps(snapshot.losses)}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_snapshot(path: Path, recipe: dict, device: "torch.device") -> Snapshot:
    """Read a state file and check that it belongs to ``recipe`` (same settings and inputs)."""
    from safetensors import safe_open

    if not path.is_file():
        raise InputError(f"--resume: no saved state {path} (it is written when a run is interrupted)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key).clone() for key in handle.keys()}  # own, aligned memory
        scalars, counters = json.loads(meta["scalars"]), json.loads(meta["counters"])
        history, saved_recipe = json.loads(meta["history"]), json.loads(meta["recipe"])
        losses = json.loads(meta.get("losses", "{}"))
    except Exception as exc:  # damaged or foreign files
        raise InputError(f"--resume: saved state {path} is damaged ({str(exc)[:120]})") from None
    if meta.get("format") != FORMAT or _comparable(saved_recipe) != _comparable(recipe):
        raise InputError(f"--resume: saved state {path} belongs to other settings or inputs")
    state: dict = {}
    for key, info in scalars.items():
        if "list" in info:
            state[key] = [tensors.get(f"opt.{key}.{i}") for i in range(info["list"])]
            state[key] = [t.to(device) if t is not None else None for t in state[key]]
        else:
            state[key] = info["value"]
    state |= {key[4:]: t.to(device) for key, t in tensors.items() if key.startswith("opt.") and key.count(".") == 1}
    in_range = tensors.get("last_in_range")
    return Snapshot(counters[0], counters[1], counters[2], tensors["image"].to(device), state, history, losses,
                    in_range.to(device) if in_range is not None else None)


def saved_precision(path: Path) -> str | None:
    """The loop precision a saved run used (``auto`` resolved), so that its resumption uses the same
    one even if this machine's measured choice changed since; None if the file cannot say."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return json.loads((handle.metadata() or {})["recipe"]).get("precision_used")
    except Exception:  # missing or damaged: load_snapshot reports it
        return None


def _comparable(recipe: dict) -> dict:
    """The recipe without what may differ between an interrupted run and its resumption."""
    return {k: v for k, v in recipe.items() if k not in ("stylegram", "torch")}
