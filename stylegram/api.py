"""The Python API: ``stylize`` with paths or PIL images, settings as keyword arguments.

    from stylegram import stylize
    result = stylize("photo.jpg", ["painting.jpg"], size=256, style_weight=10)
    result.save("out.png")  # with its recipe

It is the same run as the CLI's (``stylize.stylize``), with the same settings record and
validation; in-memory images are written once, losslessly, to a temporary folder so that the
recipe, the cache and ``--resume`` see files as they always do.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, Union

from .settings import StylizeSettings

if TYPE_CHECKING:
    from PIL import Image

    from .engine import Result
    from .loop import Progress

ImageInput = Union[str, Path, "Image.Image"]


def stylize(content: ImageInput, styles: ImageInput | Sequence[ImageInput], settings: StylizeSettings | None = None,
            *, callback: Callable[["Progress"], None] | None = None, should_stop: Callable[[], bool] | None = None,
            resume=None, **options: Any) -> "Result":
    """Render ``content`` in the style of ``styles`` (one image or several).

    ``options`` are ``StylizeSettings`` fields (``size=256, style_weight=10, ...``), applied on top of
    ``settings``; an invalid value raises ``InputError`` with the CLI's message. ``callback`` receives
    a ``Progress`` after every iteration; ``should_stop`` ends the run at an iteration boundary.
    """
    from .engine import stylize as run

    settings = replace(settings, **options) if settings is not None else StylizeSettings(**options)
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    with tempfile.TemporaryDirectory(prefix="stylegram-") as folder:
        content_path = _as_path(content, Path(folder) / "content.png")
        style_paths = [_as_path(s, Path(folder) / f"style{i}.png") for i, s in enumerate(style_list)]
        return run(content_path, style_paths, settings, callback=callback, should_stop=should_stop, resume=resume)


def _as_path(image: ImageInput, where: Path) -> Path:
    if isinstance(image, (str, Path)):
        return Path(image)
    from PIL import Image

    if not isinstance(image, Image.Image):
        from .errors import InputError

        raise InputError(f"expected an image path or a PIL image, got {type(image).__name__}")
    image.save(where, format="PNG")
    return where
