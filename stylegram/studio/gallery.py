"""The gallery: every image in the studio's folder with a stylegram recipe, and what re-running one takes.

A recipe names its inputs by sha256 (``recipe.make_recipe``): the content and style images are found
among the studio's images (``Library``), the masks among the painted ones (``MaskStore``). Results are
looked up by exact name among the files listed here, never joined from a request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..images import OUTPUT_FORMATS, read_recipe
from .forms import recipe_settings
from .library import Library
from .mask_store import MaskStore

RESULT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
MISSING_INPUT = "an input of this recipe is not among the studio's images; upload it to re-run"
MISSING_MASK = "a mask of this recipe is not among the studio's painted masks"


@dataclass(frozen=True)
class Rerun:
    """What a new job from a gallery result starts with: ids of the studio's images and masks, settings."""

    source: str  # the result's file name
    content: str
    styles: list[str]
    settings: dict
    masks: list[str] | None


class Gallery:
    def __init__(self, folder: Path, library: Library, masks: MaskStore):
        self.folder, self.library, self.masks = folder, library, masks
        self._recipes: dict[str, tuple[tuple, dict | None]] = {}

    def entries(self) -> list[dict]:
        """Every image in the folder with a stylegram recipe, newest first."""
        entries = []
        for path in self._result_files():
            recipe = self.recipe(path)
            if not recipe or not isinstance(recipe.get("settings"), dict):
                continue
            styles = recipe.get("styles") or []
            labels = [self._label_of(recipe.get("content"))] + [self._label_of(s) for s in styles]
            try:
                settings, note = recipe_settings(recipe), self._missing(recipe)
            except InputError as exc:
                settings, note = {}, str(exc)
            entries.append({"name": path.name, "modified": path.stat().st_mtime, "content": labels[0],
                            "styles": labels[1:], "settings": settings, "recipe": _shown(recipe),
                            "masks": bool(recipe.get("masks")), "rerun": not note, "note": note})
        return sorted(entries, key=lambda e: e["modified"], reverse=True)

    def rerun(self, name: Any) -> Rerun:
        """The inputs, masks and settings of the result ``name``; ``InputError`` when one is not here."""
        path = self.result_path(name)
        recipe = self.recipe(path) if path else None
        if recipe is None:
            raise InputError("no such result with a stylegram recipe in the studio's folder")
        settings = recipe_settings(recipe)
        content = self._picture_for(recipe.get("content"), "content image")
        styles = [self._picture_for(style, "style image") for style in recipe.get("styles") or []]
        masks = None
        if recipe.get("masks"):
            masks = [self._mask_for(entry) for entry in recipe["masks"]]
            if None in masks:
                raise InputError(MISSING_MASK)
        return Rerun(path.name, content, styles, settings, masks)

    def result_path(self, name: Any) -> Path | None:
        """A result in the folder by its exact name."""
        if not isinstance(name, str) or not RESULT_NAME.match(name):
            return None
        return next((path for path in self._result_files() if path.name == name), None)

    def recipe(self, path: Path) -> dict | None:
        """``path``'s recipe (cached while the file is unchanged); None for any other file."""
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._recipes.get(path.name)
        if cached and cached[0] == key:
            return cached[1]
        try:
            recipe = read_recipe(path)
        except Exception:  # not an image, damaged, or a foreign comment: not in the gallery
            recipe = None
        recipe = recipe if isinstance(recipe, dict) else None
        self._recipes[path.name] = (key, recipe)
        return recipe

    def _missing(self, recipe: dict) -> str:
        """Why this recipe cannot be re-run here ("" when it can)."""
        inputs = [recipe.get("content"), *(recipe.get("styles") or [])]
        if not all(self._known(entry) for entry in inputs):
            return MISSING_INPUT
        masks = recipe.get("masks") or []
        if not isinstance(masks, list) or any(self._mask_for(entry) is None for entry in masks):
            return MISSING_MASK
        return ""

    def _result_files(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.iterdir()
                          if p.suffix.lower() in OUTPUT_FORMATS and RESULT_NAME.match(p.name) and p.is_file())
        except OSError:
            return []

    def _picture_for(self, entry: Any, what: str) -> str:
        picture = self._picture(entry)
        if picture is None:
            name = entry.get("file") if isinstance(entry, dict) else "?"
            raise InputError(f"the recipe's {what} ({str(name)[:80]}) is not among the studio's images; "
                             "upload it again")
        return picture.id

    def _mask_for(self, entry: Any) -> str | None:
        return self.masks.by_sha256(entry.get("sha256")) if isinstance(entry, dict) else None

    def _picture(self, entry: Any):
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        return self.library.by_sha256(digest) if isinstance(digest, str) else None

    def _label_of(self, entry: Any) -> str:
        picture = self._picture(entry)
        if picture:
            return picture.label
        return str(entry.get("file", "?"))[:80] if isinstance(entry, dict) else "?"

    def _known(self, entry: Any) -> bool:
        return self._picture(entry) is not None


def _shown(recipe: dict) -> dict:
    """The recipe as the page shows it: mask settings by file name (a recipe's settings hold the paths the
    engine was given, which for painted masks are inside the studio's private folder)."""
    settings = dict(recipe["settings"])
    for name in ("masks", "style_masks"):
        if isinstance(settings.get(name), list):
            settings[name] = [Path(str(value)).name for value in settings[name]]
    return {**recipe, "settings": settings}
