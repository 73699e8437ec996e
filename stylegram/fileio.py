"""Atomic file writes and hashing, shared by images, weights, exports and caches (no torch)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import InputError


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file for keys that must not fail: an unreadable file hashes as ``unreadable:PATH``
    (whatever uses the key then fails on the file itself, with its own message)."""
    try:
        return sha256_file(path)
    except OSError:
        return f"unreadable:{path}"


def check_writable_target(path: Path, *, option: str) -> None:
    """Fail early if ``path`` cannot be written (missing or read-only folder, or a directory)."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{option}: {path} is a directory, not a file")
    if not parent.is_dir():
        raise InputError(f"{option}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option}: folder {parent} is not writable")


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    Readers never see a half-written file; on any error the temporary file is removed.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held while the block runs (POSIX ``flock``; no-op elsewhere).

    Used so that concurrent processes compute a shared artifact once: take the lock, look
    again, compute only if still missing.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: atomic renames still keep readers safe
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
