"""A content-addressed, size-bounded cache of style Gram matrices in safetensors files. No torch.

One file per entry, ``<key digest>.safetensors``, under ``home()/grams``. The header holds
the full key, the layer list and a sha256 of the tensor data, so a truncated, bit-flipped or
foreign entry is detected and never used. Writes go to a temporary file that is renamed into
place, so concurrent readers and writers only ever see whole entries. Least recently used
entries (by modification time, refreshed on every hit) are evicted past ``max_bytes``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..fileio import atomic_write, file_lock
from ..home import home

log = logging.getLogger("stylegram.cache")
FORMAT = "stylegram-grams-1"
DEFAULT_MAX_BYTES = 1 << 30
SUFFIX = ".safetensors"


@dataclass(frozen=True)
class CacheKey:
    """Everything a style target depends on."""

    image_sha256: str
    size: int  # the stylization's --size
    style_scale: float
    fingerprint: str  # ModelInfo.fingerprint(): weights, layers, pooling, normalization, dtype
    style_mask: str = ""  # --style-masks: the mask's sha256 and the guide ("" without one: keys as before)

    def fields(self) -> dict:
        """The key as stored and hashed; without a style mask exactly the key of earlier versions."""
        return {k: v for k, v in asdict(self).items() if k != "style_mask" or v}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.fields(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    digest: str
    path: Path
    image: str
    size: int
    style_scale: float
    layers: tuple[str, ...]
    bytes: int
    last_used: float


def data_checksum(grams: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(grams):
        array = np.ascontiguousarray(grams[name], dtype=np.float32)
        digest.update(f"{name}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class GramCache:
    def __init__(self, root: str | Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = Path(root) if root is not None else home() / "grams"
        self.max_bytes = max_bytes
        self._write_disabled = False

    def path_for(self, key: CacheKey) -> Path:
        return self.root / f"{key.digest()}{SUFFIX}"

    def get_or_compute(self, key: CacheKey, layers: tuple[str, ...],
                       compute: Callable[[], dict[str, np.ndarray]], *, image_name: str) -> tuple[dict, bool]:
        """(Grams, hit): the cached entry, or ``compute()`` stored once even with concurrent processes."""
        found = self.get(key, layers)
        if found is not None:
            return found, True
        with self.computing(key):
            found = self.get(key, layers)  # another process may have finished it meanwhile
            if found is not None:
                return found, True
            grams = compute()
            self.put(key, grams, image_name=image_name)
        return grams, False

    @contextlib.contextmanager
    def computing(self, key: CacheKey):
        """Hold the key's lock while it is computed, so concurrent processes compute it once."""
        try:
            with file_lock(self.root / ".locks" / f"{key.digest()}.lock"):
                yield
        except OSError:  # an unwritable cache cannot hold locks either; compute without
            yield

    def get(self, key: CacheKey, layers: tuple[str, ...]) -> dict[str, np.ndarray] | None:
        """The cached Grams for ``key`` if a whole, matching entry exists; else None."""
        path = self.path_for(key)
        if not path.is_file():
            return None
        grams, problem = read_entry(path, key=key, layers=layers)
        if problem:
            log.warning("ignoring damaged cache entry %s (%s); recomputing", path.name, problem)
            path.unlink(missing_ok=True)
            return None
        try:
            os.utime(path)  # last used
        except OSError:
            pass
        return grams

    def put(self, key: CacheKey, grams: dict[str, np.ndarray], *, image_name: str) -> Path | None:
        """Store an entry atomically; on an unwritable cache, warn once and carry on without it."""
        if self._write_disabled:
            return None
        from safetensors.numpy import save_file

        path = self.path_for(key)
        tensors = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in grams.items()}
        metadata = {"format": FORMAT, "key": json.dumps(key.fields(), sort_keys=True), "image": image_name,
                    "layers": ",".join(tensors), "checksum": data_checksum(tensors)}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as tmp:
                save_file(tensors, str(tmp), metadata=metadata)
        except OSError as exc:
            self._write_disabled = True
            log.warning("style cache %s is not writable (%s); continuing without the cache",
                        self.root, exc.strerror or exc)
            return None
        self.evict()
        return path

    def entries(self) -> list[CacheEntry]:
        found = []
        for path in self.entry_paths():
            try:
                meta = _header(path)
                key = json.loads(meta["key"])
                stat = path.stat()
            except (OSError, ValueError, KeyError):
                continue
            found.append(CacheEntry(path.stem, path, meta.get("image", "?"), key["size"], key["style_scale"],
                                    tuple(meta.get("layers", "").split(",")), stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda e: e.last_used, reverse=True)

    def remove(self, prefixes: list[str]) -> int:
        removed = 0
        for path in self.entry_paths():
            if any(path.stem.startswith(p) for p in prefixes):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def clear(self) -> int:
        return self.remove([""])

    def verify(self) -> list[tuple[Path, str]]:
        """Every entry's problem, if any (whole-file checksum and key consistency)."""
        problems = []
        for path in self.entry_paths():
            _, problem = read_entry(path)
            if problem:
                problems.append((path, problem))
        return problems

    def evict(self) -> None:
        """Drop least recently used entries past ``max_bytes``, and temp files of writers that died."""
        self._sweep_temp_files()
        files = []
        for path in self.entry_paths():
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def _sweep_temp_files(self, older_than: float = 3600.0) -> None:
        if not self.root.is_dir():
            return
        cutoff = time.time() - older_than
        for path in self.root.glob(".*.tmp"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass

    def entry_paths(self) -> list[Path]:
        """Paths of all entry files (temporary and lock files excluded)."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.suffix == SUFFIX and not p.name.startswith("."))


def _header(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        return handle.metadata() or {}


def read_entry(path: Path, *, key: CacheKey | None = None,
               layers: tuple[str, ...] | None = None) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """(grams, None) for a sound entry, else (None, what is wrong). Never raises for bad files."""
    from safetensors.numpy import load_file

    try:
        meta = _header(path)
        grams = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        return None, f"unreadable: {str(exc)[:120]}"
    if meta.get("format") != FORMAT:
        return None, "not a stylegram Gram cache entry"
    try:
        stored_key = json.loads(meta["key"])
    except (KeyError, ValueError):
        return None, "missing or invalid key"
    if key is not None and stored_key != key.fields():
        return None, "entry belongs to another key"
    digest = hashlib.sha256(json.dumps(stored_key, sort_keys=True).encode()).hexdigest()
    if path.stem != digest:
        return None, "file name does not match its key"
    if set(meta.get("layers", "").split(",")) != set(grams) or (layers is not None and set(grams) != set(layers)):
        return None, "layers do not match"
    if data_checksum(grams) != meta.get("checksum"):
        return None, "checksum mismatch (damaged data)"
    if not all(np.isfinite(g).all() for g in grams.values()):
        return None, "non-finite values"
    return grams, None
