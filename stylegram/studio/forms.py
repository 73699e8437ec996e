"""The page's settings -> ``StylizeSettings``: the CLI's defaults, limits and messages, never retyped.

The form shows a few knobs (``FORM``); a job may carry any setting in ``ALLOWED`` (a recipe re-run
brings them all back). Settings that name files, servers or machines (``weights``, ``model``, ``init``
as a path, ``masks``, ``server``, ``device``, ...) never come from a client: the studio's own configuration
sets them, and a job's painted masks travel beside its settings (``mask_store.py``).
"""

from __future__ import annotations

import typing
from typing import Any, Mapping

from ..errors import InputError
from ..settings import PRECISIONS, StylizeSettings
from ..sizing import content_min_side

DEFAULTS = StylizeSettings()  # the CLI's defaults are the library's, and so are the studio's
FORM = ("size", "iterations", "style_weight", "style_scale", "original_colors", "precision")
_HINTS = typing.get_type_hints(StylizeSettings)
ALLOWED = frozenset({
    "size", "iterations", "scales", "iterations_per_scale", "tol", "time_limit", "optimizer", "lr", "init", "seed",
    "content_weight", "style_weight", "tv_weight", "content_layers", "style_layers", "style_layer_weights",
    "style_blend", "style_scale", "coarse_style", "pool", "original_colors", "colors", "guide", "precision",
} & set(_HINTS))
# settings naming files that the studio does not take (masks come painted, with the job: mask_store.py)
FILES = ("style_masks",)
LABELS = {"size": "Size (px, long edge)", "iterations": "Iterations (per scale)", "style_weight": "Style weight",
          "style_scale": "Style scale", "original_colors": "Keep the photo's colours", "precision": "Precision"}


def option(name: str) -> str:
    """The CLI's option for a settings field: ``style_weight`` -> ``--style-weight``."""
    return "--" + name.replace("_", "-")


def form_config() -> dict:
    """What the page builds its form from: defaults and limits read from the settings and layers."""
    kinds = {name: _kind(_HINTS[name]) for name in FORM}
    limits = {"size": {"min": content_min_side(DEFAULTS.content_layers, DEFAULTS.style_layers)},
              "iterations": {"min": 1}}
    return {
        "fields": [{"name": name, "option": option(name), "label": LABELS[name], "kind": kinds[name],
                    "default": getattr(DEFAULTS, name), **limits.get(name, {}),
                    **({"choices": list(PRECISIONS)} if name == "precision" else {})} for name in FORM],
        "defaults": {name: getattr(DEFAULTS, name) for name in FORM},
    }


def settings_from(values: Mapping[str, Any] | None, fixed: Mapping[str, Any] | None = None) -> dict:
    """Validate ``values`` (from JSON) as ``StylizeSettings`` would, with the CLI's messages; return the
    settings a job keeps (only ``ALLOWED`` fields, converted). ``fixed`` (the studio's own choices:
    device, weights, ...) is added for validation but not returned. Raises ``InputError``."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise InputError("settings: expected an object of settings")
    chosen: dict[str, Any] = {}
    for name, value in values.items():
        if name not in ALLOWED:
            known = name in _HINTS
            raise InputError(f"{option(name)}: not a setting the studio takes" if known else
                             f"unknown setting {str(name)[:40]!r}")
        chosen[name] = _convert(name, value)
    if chosen.get("init", "content") not in ("content", "noise"):
        raise InputError("--init: the studio starts from the content image or noise (content or noise)")
    StylizeSettings(**chosen, **dict(fixed or {}))  # the one validation: raises InputError with the CLI's message
    return chosen


def recipe_settings(recipe: Mapping[str, Any]) -> dict:
    """The ``ALLOWED`` settings of a saved recipe (what a gallery re-run starts from)."""
    saved = recipe.get("settings") if isinstance(recipe, Mapping) else None
    if not isinstance(saved, Mapping):
        raise InputError("this image has no stylegram recipe")
    for name in FILES:
        if saved.get(name):
            raise InputError(f"this recipe uses {option(name)}, which the studio does not take yet")
    return {name: value for name, value in saved.items() if name in ALLOWED}


def _kind(hint) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args and typing.get_origin(hint) is typing.Union else hint
    if base is bool:
        return "bool"
    if base is int:
        return "int"
    if base is float:
        return "float"
    if base is str:
        return "str"
    if typing.get_origin(base) is tuple:
        item = typing.get_args(base)[0]
        return {int: "ints", float: "floats", str: "strs"}[item]
    raise TypeError(hint)


def _optional(hint) -> bool:
    return type(None) in typing.get_args(hint)


def _convert(name: str, value: Any) -> Any:
    hint = _HINTS[name]
    if value is None or (isinstance(value, str) and not value.strip() and _optional(hint)):
        if _optional(hint):
            return None
        raise InputError(f"{option(name)}: a value is required")
    kind = _kind(hint)
    if kind in ("ints", "floats", "strs"):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise InputError(f"{option(name)}: expected a comma-separated list, got {value!r}")
        return tuple(_scalar(name, kind[:-1], item) for item in items)
    return _scalar(name, kind, value)


def _scalar(name: str, kind: str, value: Any) -> Any:
    what = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text"}[kind]
    if isinstance(value, str):
        value = value.strip()
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if value in ("true", "false", "on", "off"):
                return value in ("true", "on")
            raise ValueError
        if isinstance(value, bool):
            raise ValueError
        if kind == "int":
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, (int, str)):
                return int(value)
            raise ValueError
        if kind == "float":
            if isinstance(value, (int, float, str)):
                return float(value)  # nan and inf are the settings' to refuse, with the CLI's message
            raise ValueError
        if isinstance(value, str) and len(value) <= 200:
            return value
        raise ValueError
    except (ValueError, OverflowError):
        raise InputError(f"{option(name)}: expected {what}, got {str(value)[:40]!r}") from None
