"""The masks painted on the page: received with a job, checked like uploads, kept under generated names.

The page sends one PNG per style image (a data URL in the job's JSON). Each goes through the uploads'
checks (``library.check_image_file``: the byte and pixel limits, then the CLI's readers with Pillow's
decompression-bomb limit) and is kept, byte for byte, as ``m`` + its sha256 (so the sha256 a recipe
records finds it again for a re-run). Whether a mask fits its content is the engine's rule
(``masks.load_masks``: any size, resized; the aspect ratio within 1%), asked before the job is queued.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from ..fileio import sha256_file
from ..images import scaled_size
from .library import UploadRefused, check_image_file, incoming_file, suffix_of, without_paths

MASK_ID = re.compile(r"^m[0-9a-f]{24}$")
MASK_NAME = re.compile(r"^m[0-9a-f]{24}\.(jpg|png|webp|bmp|tif|gif|img)$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]{1,20};base64,", re.IGNORECASE)
CHECK_EDGE = 64  # px: the engine's fit check resizes each mask this small (its rule needs only the shapes)


class MaskStore:
    def __init__(self, folder: Path, *, max_bytes: int, max_pixels: int):
        self.folder, self.max_bytes, self.max_pixels = folder, max_bytes, max_pixels
        self.folder.mkdir(parents=True, exist_ok=True)

    def receive(self, painted: Any, count: int) -> list[str]:
        """Check and keep ``painted`` (one image as a base64 data URL per style image, ``count`` of them);
        their ids, in order. Raises ``InputError`` with one line naming the mask by its number."""
        if not isinstance(painted, list) or not all(isinstance(value, str) for value in painted):
            raise InputError("masks: expected a list of images (data URLs), one per style image")
        if len(painted) != count:  # the engine's words (masks.load_masks), before anything is decoded
            raise InputError(f"masks: expected {count} masks (one per style image), got {len(painted)}")
        return [self._keep(_decoded(value, number, self.max_bytes), number) for number, value in
                enumerate(painted, start=1)]

    def path(self, ident: Any) -> Path | None:
        """A kept mask's file by its id (looked up among the files here, never joined from a request)."""
        if not isinstance(ident, str) or not MASK_ID.match(ident):
            return None
        return next((p for p in self._files() if p.name.split(".")[0] == ident), None)

    def by_sha256(self, digest: Any) -> str | None:
        """The id of the kept mask with this sha256 (what a recipe records), or None."""
        if not isinstance(digest, str) or not SHA256.match(digest):
            return None
        path = self.path(f"m{digest[:24]}")
        return path.name.split(".")[0] if path and sha256_file(path) == digest else None

    def check_fit(self, idents: Sequence[str], content: Path, content_label: str) -> None:
        """The engine's rule for masks over ``content`` (count, then aspect ratio within 1%), with its message
        (paths replaced by the masks' numbers and the content's label). Raises ``InputError``."""
        from ..images import image_size
        from ..masks import load_masks

        paths = [self.path(ident) for ident in idents]
        if any(path is None for path in paths):
            raise InputError("a mask of this job is not in the studio")
        known = [(path, str(number)) for number, path in enumerate(paths, start=1)]
        known += [(content, content_label), (Path(content.name), content_label)]
        try:
            load_masks(paths, scaled_size(*image_size(content), CHECK_EDGE), over=[content] * len(paths),
                       option="mask")
        except InputError as exc:
            raise InputError(without_paths(str(exc), known)) from None

    def _keep(self, data: bytes, number: int) -> str:
        received = incoming_file(self.folder)
        try:
            received.write_bytes(data)
            try:
                check_image_file(received, f"mask {number}", max_bytes=self.max_bytes, max_pixels=self.max_pixels,
                                 min_side=1)
            except UploadRefused as exc:
                raise InputError(exc.message) from None
            ident = f"m{sha256_file(received)[:24]}"
            if self.path(ident) is None:
                received.replace(self.folder / f"{ident}{suffix_of(received)}")
            return ident
        finally:
            received.unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        try:
            return [p for p in self.folder.iterdir() if MASK_NAME.match(p.name) and p.is_file()]
        except OSError:
            return []


def _decoded(value: str, number: int, max_bytes: int) -> bytes:
    """The bytes of a data URL (or of bare base64), refused above ``max_bytes`` before decoding."""
    text = value[DATA_URL.match(value).end():] if DATA_URL.match(value) else value
    if len(text) * 3 // 4 > max_bytes + 3:
        raise InputError(f"mask {number}: about {len(text) * 3 // 4} bytes is over the studio's limit of "
                         f"{max_bytes} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"mask {number}: not an image as a base64 data URL") from None
