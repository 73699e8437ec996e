"""What a batch does: items from a manifest (CSV or JSON Lines) or a contents x styles grid (no torch).

An item is one full stylization: a content image, one or more style images, and per-item
settings (the command's options, overridden by the row's own columns). A rerun recognises finished
items by what they are, not by file name: ``identity.item_key``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from ..errors import InputError
from ..images import image_files
from ..settings import StylizeSettings

# columns a row may set, with how to read them from CSV text
OVERRIDES = {"size": int, "iterations": int, "style_weight": float, "content_weight": float, "tv_weight": float,
             "style_scale": float, "seed": int, "colors": str, "guide": str}
PATH_LISTS = ("masks", "style_masks")  # columns of image paths, one per style (";"-separated in CSV, lists in JSON)


@dataclass(frozen=True)
class BatchItem:
    name: str  # output file stem, unique in the batch
    content: Path
    styles: tuple[Path, ...]
    settings: StylizeSettings
    error: str = ""  # a row that cannot run (e.g. an impossible size): reported as this item's failure

    def output(self, folder: Path) -> Path:
        return folder / f"{self.name}.png"


def grid(contents: Path, styles: Path, defaults: StylizeSettings) -> list[BatchItem]:
    """Every content image of one folder with every style image of another."""
    rows = [{"content": c, "styles": [s]} for c in image_files(contents, "--contents")
            for s in image_files(styles, "--styles")]
    return _items(rows, defaults, Path("."))


def read_manifest(path: Path, defaults: StylizeSettings) -> list[BatchItem]:
    """Rows of ``content``, ``styles`` (``;``-separated in CSV, a list in JSON Lines) and optional
    overrides (size, iterations, style_weight, ..., masks, style_masks); paths are relative to the manifest's folder."""
    if not path.is_file():
        raise InputError(f"manifest {path}: file not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise InputError(f"manifest {path}: line {number} is not JSON") from None
    else:
        rows = [dict(row) for row in csv.DictReader(text.splitlines())]
    if not rows:
        raise InputError(f"manifest {path}: no rows")
    return _items(rows, defaults, path.parent, source=str(path))


def _items(rows: Sequence[dict], defaults: StylizeSettings, base: Path, source: str = "") -> list[BatchItem]:
    items, names = [], set()
    for number, row in enumerate(rows, start=1):
        where = f"manifest {source}: row {number}" if source else f"item {number}"
        if not isinstance(row, dict) or not row.get("content") or not row.get("styles"):
            raise InputError(f"{where}: needs 'content' and 'styles'")
        styles = row["styles"].split(";") if isinstance(row["styles"], str) else list(row["styles"])
        content = base / str(row["content"]).strip()
        style_paths = tuple(base / str(s).strip() for s in styles if str(s).strip())
        try:
            settings, error = _settings(row, defaults, where, base), ""
        except InputError as exc:
            if "unknown column" in str(exc):
                raise
            settings, error = defaults, str(exc)
        name = f"{content.stem}--{'+'.join(p.stem for p in style_paths)}"
        if name in names:
            name = f"{name}-{number}"
        names.add(name)
        items.append(BatchItem(name, content, style_paths, settings, error))
    return items


def _settings(row: dict, defaults: StylizeSettings, where: str, base: Path = Path(".")) -> StylizeSettings:
    changes = {}
    for column in PATH_LISTS:
        value = row.get(column)
        if value not in (None, "", []):
            parts = value.split(";") if isinstance(value, str) else list(value)
            changes[column] = tuple(str(base / str(p).strip()) for p in parts if str(p).strip())
    for column, kind in OVERRIDES.items():
        value = row.get(column)
        if value in (None, ""):
            continue
        try:
            changes[column] = kind(value)
        except (TypeError, ValueError):
            raise InputError(f"{where}: {column} must be a number, got {value!r}") from None
    unknown = set(row) - set(OVERRIDES) - set(PATH_LISTS) - {"content", "styles"}
    if unknown:
        raise InputError(f"{where}: unknown column {', '.join(sorted(unknown))}; known: content, styles, "
                         f"{', '.join((*OVERRIDES, *PATH_LISTS))}")
    return replace(defaults, **changes) if changes else defaults  # replace() validates the row's values

