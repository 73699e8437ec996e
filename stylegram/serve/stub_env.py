"""The environment of the tritonserver process that PyTriton starts (and of the python backend stub
that tritonserver starts in turn): only what it needs, and only for that child."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sysconfig
from pathlib import Path


def stub_library_path(environ: dict[str, str]) -> str | None:
    """LD_LIBRARY_PATH for tritonserver and the python backend stub it starts, or None to leave it alone.

    The stub links ``libpython3.X.so.1.0`` and finds it where the dynamic loader looks: LD_LIBRARY_PATH,
    then the system's libraries. A Python built elsewhere (pyenv, conda) keeps its own libpython in its
    LIBDIR; the stub then loads the system's build of the same version, which fails on the first
    thread lock ("'_thread.RLock' object has no attribute '_recursion_count'"). Only then is LIBDIR
    put first. Where the loader already finds this interpreter's libpython (a system Python, whose
    LIBDIR is /usr/lib/<arch>) nothing is added: LIBDIR first would put the system's libraries
    before those PyTriton bundles. A Python without a shared libpython gets nothing either.
    """
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if not (libdir and soname and sysconfig.get_config_var("Py_ENABLE_SHARED")):
        return None
    ours = Path(libdir) / soname
    if not ours.is_file():
        return None
    found = _loader_finds(soname, environ)
    if found is not None and found.resolve() == ours.resolve():
        return None
    return ":".join(p for p in (libdir, environ.get("LD_LIBRARY_PATH", "")) if p)


def _loader_finds(soname: str, environ: dict[str, str]) -> Path | None:
    """Where the dynamic loader resolves ``soname`` for PyTriton's stub (``ldd``); None: not found or unknown."""
    from pytriton.utils.distribution import get_stub_path

    version = soname.removeprefix("libpython").split(".so")[0]
    try:
        listing = subprocess.run(["ldd", str(get_stub_path(version))], env=environ, capture_output=True,
                                 text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in listing.splitlines():
        name, _, rest = line.strip().partition(" => ")
        if name == soname and rest.startswith("/"):
            return Path(rest.split(" (")[0])
    return None


@contextlib.contextmanager
def child_environment(name: str, value: str | None):
    """``name=value`` in os.environ for the processes started inside the block, then the parent's own
    value again. PyTriton has no option for tritonserver's environment: its ``TritonServer.start``
    copies ``os.environ`` when it starts the process (pytriton/server/triton_server.py, ``_get_env``)."""
    if value is None:
        yield
        return
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
