"""Reading and writing images with Pillow, as float32 numpy arrays (no torch).

Arrays are H x W x 3, RGB, float32 in [0, 1].
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .errors import ImageError, InputError
from .fileio import atomic_write

OUTPUT_FORMATS: dict[str, str] = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
IMAGE_SUFFIXES = frozenset(OUTPUT_FORMATS) | {".tif", ".tiff", ".bmp"}  # what folder scans pick up
RECIPE_KEY = "stylegram.recipe"
EXIF_IMAGE_DESCRIPTION = 0x010E
ORIENTATION_TAG = 0x0112  # where WebP files keep the recipe


def image_files(folder: Path, what: str) -> list[Path]:
    """The image files of ``folder`` (by suffix), sorted; a missing or image-less folder is an InputError."""
    if not folder.is_dir():
        raise InputError(f"{what} {folder}: not a folder")
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not found:
        raise InputError(f"{what} {folder}: contains no images")
    return found


def _open_and_load(path: Path) -> Image.Image:
    image = None
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
    except BaseException:
        if image is not None:
            image.close()  # a failed load leaves the file open
        raise
    return image


def _open_checked(path: Path, what: str) -> Image.Image:
    if not path.exists():
        raise ImageError(f"{what} {path}: file not found")
    if path.is_dir():
        raise ImageError(f"{what} {path}: is a directory, not an image file")
    try:
        return _open_and_load(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{what} {path}: too many pixels (over Pillow's limit of {Image.MAX_IMAGE_PIXELS} px); "
            "refusing a possible decompression bomb"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{what} {path}: not an image file Pillow can read") from None
    except Exception as exc:  # Pillow's decoders raise many types (OSError, SyntaxError, struct.error, ...)
        raise ImageError(f"{what} {path}: image data is damaged or truncated ({_short(exc)})") from None


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


def to_rgb(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation and convert palette/grey/alpha/16-bit images to 8-bit RGB."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def image_size(path: str | Path, what: str = "image") -> tuple[int, int]:
    """(width, height) of ``path`` as loaded (EXIF orientation applied), checked as ``load_image`` checks it."""
    with _open_checked(Path(path), what) as image:
        width, height = image.size
        if image.getexif().get(ORIENTATION_TAG) in (5, 6, 7, 8):  # rotated by 90 degrees
            width, height = height, width
    return width, height


def scaled_size(width: int, height: int, long_edge: int) -> tuple[int, int]:
    """(width, height) with the longer side equal to ``long_edge``, aspect kept."""
    scale = long_edge / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_image(
    path: str | Path,
    *,
    long_edge: int | None = None,
    size: tuple[int, int] | None = None,
    min_side: int = 1,
    what: str = "image",
) -> np.ndarray:
    """Load ``path`` as RGB float32 in [0, 1], resized so its long edge is ``long_edge``
    or to exactly ``size`` = (width, height) when given.

    ``min_side`` is the smallest side the caller can use (both before and after resizing);
    ``what`` names the image in error messages ("content image", "style image", ...).
    """
    path = Path(path)
    try:
        image = to_rgb(_open_checked(path, what))
    except ImageError:
        raise
    except Exception as exc:  # damaged EXIF or palette data surfaces only on conversion
        raise ImageError(f"{what} {path}: image data is damaged ({_short(exc)})") from None
    _check_side(path, what, image.size, min_side, "")
    if size is None and long_edge is not None:
        size = scaled_size(*image.size, long_edge)
    if size is not None and tuple(size) != image.size:
        _check_side(path, what, size, min_side, f" after resizing to {size[0]}x{size[1]}")
        image = image.resize(tuple(size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


def _check_side(path: Path, what: str, size: tuple[int, int], min_side: int, note: str) -> None:
    if min(size) < min_side:
        raise ImageError(
            f"{what} {path}: {size[0]}x{size[1]} px{note} is too small; "
            f"the selected layers need at least {min_side} px on each side"
        )


def to_pil(array: np.ndarray) -> Image.Image:
    """RGB float array in [0, 1] (values outside are clipped) to an 8-bit Pillow image."""
    data = np.clip(np.nan_to_num(array) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(data, "RGB")


def output_format(path: Path, *, option: str = "--output") -> str:
    """Pillow format name for an output path, from its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(
            f"{option}: {path}: unknown image extension {suffix or '(none)'}; use one of "
            + ", ".join(sorted(OUTPUT_FORMATS))
        )
    return OUTPUT_FORMATS[suffix]


def save_image(array: np.ndarray, path: str | Path, *, recipe: Mapping | None = None) -> None:
    """Write an image atomically with ``recipe`` as JSON: a PNG text chunk, a JPEG comment,
    WebP EXIF ImageDescription."""
    path = Path(path)
    fmt = output_format(path)
    image = to_pil(array)
    params: dict = {}
    text = json.dumps(recipe, sort_keys=True) if recipe is not None else None
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        if text is not None:
            info.add_itxt(RECIPE_KEY, text)
        params["pnginfo"] = info
    elif fmt == "JPEG":
        params.update(quality=95, subsampling=0)
        if text is not None:
            params["comment"] = text.encode()
    elif fmt == "WEBP":
        params.update(quality=95)
        if text is not None:
            exif = Image.Exif()
            exif[EXIF_IMAGE_DESCRIPTION] = text
            params["exif"] = exif.tobytes()
    with atomic_write(path) as tmp:
        image.save(tmp, format=fmt, **params)


def read_recipe(path: str | Path) -> dict | None:
    """The recipe stored by :func:`save_image` in a PNG, JPEG or WebP, or None."""
    with Image.open(path) as image:
        text = image.info.get(RECIPE_KEY) or image.info.get("comment") or image.getexif().get(EXIF_IMAGE_DESCRIPTION)
    if isinstance(text, bytes):
        text = text.decode()
    return json.loads(text) if text else None
