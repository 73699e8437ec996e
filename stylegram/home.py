"""Where stylegram keeps its caches (weights copies, style Gram targets)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "STYLEGRAM_HOME"


def home() -> Path:
    """The cache directory: ``$STYLEGRAM_HOME``, else ``$XDG_CACHE_HOME/stylegram``, else ``~/.cache/stylegram``.

    Nothing is created here; writers create the subfolders they need.
    """
    explicit = os.environ.get(HOME_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "stylegram"
