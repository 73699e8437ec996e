"""Which output is which item: a stylization's key, derived from its recipe (``recipe.make_recipe``).

``recipe_key`` hashes the part of a recipe that decides the result: the settings, the inputs' sha256
and the weights. An item's key is the key of the recipe it will get (``make_recipe`` on its settings,
with the weights named by hash, not decoded); an output's key is the key of the recipe stored in it.
One function on both sides, so whatever ``make_recipe`` records joins the key by itself.

Left out, as they say how a result was computed rather than what it is: file names, versions, the
precision resolved on the worker, ``threads`` (a worker's share of the CPUs) and ``memory``. The plan
that memory led to is in the recipe when it tiles, but not in the key: it depends on the memory free
at the time, and a rerun must still recognise the items it finished.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import NamedTuple

from ..errors import StylegramError
from .manifest import BatchItem

NOT_IN_KEY = ("threads", "memory")  # settings that do not change a result's identity


class WeightsId(NamedTuple):
    """What ``make_recipe`` reads of ``weights.Weights``, known without decoding the file."""

    name: str
    sha256: str


def weights_id(source: str | None) -> WeightsId:
    """The name and sha256 that ``weights.load_weights(source)`` reports."""
    from ..fileio import file_digest
    from ..weights import ORIGINAL_SHA256

    if source in (None, "original"):
        return WeightsId("original", ORIGINAL_SHA256)
    if source == "random":
        return WeightsId("random-seed0", "")
    return WeightsId(Path(source).name, file_digest(Path(source)))


def recipe_key(recipe: dict) -> str:
    """sha256 of what decides a result, from a recipe as ``make_recipe`` writes it (KeyError if not one)."""
    weights = recipe["weights"]
    data = {"settings": {k: v for k, v in recipe["settings"].items() if k not in NOT_IN_KEY},
            "content": recipe["content"]["sha256"], "styles": [style["sha256"] for style in recipe["styles"]],
            "weights": weights["sha256"] or weights["name"]}  # random weights have no file, only a name
    for name in ("masks", "style_masks"):  # only when used: keys of items without masks are as before
        if recipe.get(name):
            data[name] = [mask["sha256"] for mask in recipe[name]]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def item_key(item: BatchItem) -> str:
    """The key of the recipe ``item`` will get; an unreadable input gives a key no output has."""
    from ..recipe import make_recipe
    from ..settings import normalized_weights

    try:
        blend = normalized_weights(item.settings.style_blend, len(item.styles), "--style-blend") if item.styles else []
        recipe = make_recipe(item.settings, item.content, item.styles, weights_id(item.settings.weights), "", blend)
    except (OSError, StylegramError) as exc:  # the item fails on it when it runs, with its own message
        return f"unreadable: {exc}"
    return recipe_key(recipe)


def finished(item: BatchItem, folder: Path, key: str) -> bool:
    """The output exists and was made from exactly this item (its recipe has the same key)."""
    from ..images import read_recipe

    try:
        return recipe_key(read_recipe(item.output(folder)) or {}) == key
    except Exception:  # missing, unreadable, or without a recipe: not finished
        return False
