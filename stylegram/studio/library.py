"""The images a studio job can use: the bundled examples and the uploads.

An upload is checked by the CLI's own readers (``images.image_size`` and ``images.load_image``:
Pillow's decompression-bomb limit, damaged and truncated files, the smallest usable side) after a
byte limit (the caller's) and a pixel limit (here), and stored under a generated name: ``u`` and its
sha256. The name the browser sent is only a label shown on the page; it never reaches the file system.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import ImageError
from ..fileio import atomic_write, sha256_file
from ..images import IMAGE_SUFFIXES, image_size, load_image, scaled_size

UPLOAD_NAME = re.compile(r"^u[0-9a-f]{24}\.(jpg|png|webp|bmp|tif|gif|img)$")
INDEX = "labels.json"
FORMAT_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif", "GIF": ".gif"}
CHECK_EDGE = 1024  # px: an upload is decoded whole, then converted to RGB at most this large to check it


class UploadRefused(Exception):
    """An upload the studio does not keep: ``status`` (HTTP) and a one-line ``message`` for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Picture:
    id: str
    label: str
    kind: str  # "example" or "upload"
    path: Path
    width: int
    height: int
    sha256: str

    def public(self) -> dict:
        return {"id": self.id, "label": self.label, "kind": self.kind, "width": self.width, "height": self.height}


def clean_label(text: str | None, fallback: str = "upload") -> str:
    """A file name from the browser, made safe to show: its last part, printable, at most 80 characters."""
    text = (text or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "CZ" or ch == " ").strip()
    return text[:80] or fallback


def bundled_examples(package_root: Path) -> list[Path]:
    """``examples/`` next to the package (a source checkout) and the package's own ``data/sample.jpg``."""
    found = []
    examples = package_root.parent / "examples"
    if examples.is_dir():
        found += sorted(p for p in examples.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    sample = package_root / "data" / "sample.jpg"
    if sample.is_file():
        found.append(sample)
    return found


class Library:
    def __init__(self, uploads: Path, examples: Sequence[Path], *, max_bytes: int, max_pixels: int, min_side: int):
        self.uploads, self.max_bytes, self.max_pixels, self.min_side = uploads, max_bytes, max_pixels, min_side
        self.uploads.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pictures: dict[str, Picture] = {}
        for number, path in enumerate(examples, start=1):
            try:
                width, height = image_size(path, "example")
            except ImageError:
                continue
            ident = f"example{number}"
            self._pictures[ident] = Picture(ident, path.name, "example", path, width, height, sha256_file(path))
        self._load_uploads()

    # --- reading -------------------------------------------------------------------------------------------
    def get(self, ident: str) -> Picture | None:
        with self._lock:
            return self._pictures.get(ident)

    def by_sha256(self, digest: str) -> Picture | None:
        with self._lock:
            return next((p for p in self._pictures.values() if p.sha256 == digest), None)

    def pictures(self) -> list[Picture]:
        with self._lock:
            return list(self._pictures.values())

    def labels(self) -> dict[Path, str]:
        """Each picture's path -> its label, to take paths out of error messages."""
        with self._lock:
            return {p.path: p.label for p in self._pictures.values()}

    # --- uploads -------------------------------------------------------------------------------------------
    def incoming(self) -> Path:
        """A fresh temporary file for an upload being received (the caller removes it)."""
        return incoming_file(self.uploads)

    def accept(self, received: Path, label: str) -> Picture:
        """Check a received file with the CLI's readers and keep it under a generated name (or find the
        identical upload kept before). Raises ``UploadRefused`` with a one-line message, never a path."""
        label = clean_label(label)
        width, height = check_image_file(received, label, max_bytes=self.max_bytes, max_pixels=self.max_pixels,
                                         min_side=self.min_side)
        digest = sha256_file(received)
        ident = f"u{digest[:24]}"
        with self._lock:
            known = self._pictures.get(ident)
            if known is not None:
                return known
            target = self.uploads / f"{ident}{suffix_of(received)}"
            received.replace(target)
            picture = Picture(ident, label, "upload", target, width, height, digest)
            self._pictures[ident] = picture
            self._write_index()
        return picture

    def _load_uploads(self) -> None:
        index = _read_json(self.uploads / INDEX)
        changed = False
        for path in sorted(self.uploads.iterdir()):
            if not UPLOAD_NAME.match(path.name) or not path.is_file():
                continue
            ident = path.name.split(".")[0]
            entry = index.get(ident) if isinstance(index.get(ident), dict) else None
            if entry is None or not isinstance(entry.get("width"), int):
                try:
                    width, height = image_size(path, "upload")
                except ImageError:
                    continue
                entry, changed = {"label": path.name, "width": width, "height": height,
                                  "sha256": sha256_file(path)}, True
            self._pictures[ident] = Picture(ident, clean_label(str(entry.get("label"))), "upload", path,
                                            entry["width"], entry["height"], str(entry.get("sha256")))
        if changed:
            self._write_index()

    def _write_index(self) -> None:
        entries = {p.id: {"label": p.label, "width": p.width, "height": p.height, "sha256": p.sha256}
                   for p in self._pictures.values() if p.kind == "upload"}
        with atomic_write(self.uploads / INDEX) as tmp:
            tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))


def check_image_file(received: Path, label: str, *, max_bytes: int, max_pixels: int, min_side: int) -> tuple[int, int]:
    """(width, height) of a received file once the studio's limits and the CLI's readers accept it (the byte
    limit, the pixel limit read from the header before decoding, then a whole decode with Pillow's
    decompression-bomb limit on). Raises ``UploadRefused`` with a one-line message naming ``label``."""
    size = received.stat().st_size
    if size == 0:
        raise UploadRefused(400, f"{label}: empty file")
    if size > max_bytes:
        raise UploadRefused(413, f"{label}: {size} bytes is over the studio's limit of {max_bytes} bytes")
    declared = _declared_pixels(received)
    if declared is not None and declared > max_pixels:
        raise UploadRefused(413, f"{label}: {declared} px is over the studio's limit of {max_pixels} px")
    try:
        width, height = image_size(received, "upload")
        if width * height > max_pixels:
            raise UploadRefused(413, f"{label}: {width * height} px is over the studio's limit of {max_pixels} px")
        load_image(received, size=scaled_size(width, height, min(CHECK_EDGE, max(width, height))),
                   min_side=min_side, what="upload")
    except ImageError as exc:
        raise UploadRefused(400, one_line(str(exc).replace(f"upload {received}", label))) from None
    return width, height


def _declared_pixels(path: Path) -> int | None:
    """Width x height from the file's header, without decoding (None if Pillow cannot say: the reader will)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size[0] * image.size[1]
    except Exception:
        return None


def suffix_of(path: Path) -> str:
    """The file name suffix of the image format Pillow finds in ``path`` (``.img`` when it finds none)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return FORMAT_SUFFIX.get(image.format or "", ".img")
    except Exception:
        return ".img"


def incoming_file(folder: Path) -> Path:
    """A fresh temporary file in ``folder/.incoming`` for a file being received (the caller removes it)."""
    import tempfile

    incoming = folder / ".incoming"
    incoming.mkdir(exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=incoming, prefix="up-", suffix=".part", delete=False)
    handle.close()
    return Path(handle.name)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def without_paths(text: str, known: Iterable[tuple[Path, str]] = ()) -> str:
    """``text`` with the known files' paths replaced by their labels and any other absolute path elided."""
    for path, label in sorted(known, key=lambda item: -len(str(item[0]))):
        text = text.replace(str(path), label)
    return one_line(re.sub(r"(?<![\w.:/])/(?:[^\s/:,;'\"()]+/)+[^\s/:,;'\"()]*", "…", text))
