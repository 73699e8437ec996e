"""The one way `batch` and `cache add --ray` get a Ray cluster, and how their actors find the cache folder.

Local (no ``--address``): always a new cluster on this machine (``address="local"``). A plain
``ray.init(num_cpus=...)`` would instead attach to whatever ``/tmp/ray/ray_current_cluster`` (under
``$RAY_TMPDIR``) names, and a head that died leaves that file behind.

Joining (``--address``): ``ray start --head`` (Ray 2.60) turns on token authentication when a token
exists, and ``ray.init`` sends one to an explicit address only with ``RAY_AUTH_MODE=token``. So when a
token is here (``RAY_AUTH_TOKEN``, the file ``RAY_AUTH_TOKEN_PATH`` names, or ``~/.ray/auth_token``)
and ``RAY_AUTH_MODE`` is unset, token mode is turned on first, with Ray's own function for an
automatically found cluster. A head without authentication accepts such a driver too (tried by hand).

Actors get the driver's cache folder (``home()``) as an argument and set it with ``use_home``: the
batch workers' ``stylize`` finds weights copies, exported models and Grams there, and the cache
actors their Grams, wherever the cluster was started.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import StylegramError
from ..home import HOME_ENV

AUTH_MODE_ENV, TOKEN_ENV, TOKEN_PATH_ENV = "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"
DEFAULT_TOKEN = Path(".ray") / "auth_token"  # under the home folder, where `ray start --head` keeps it
OBJECT_STORE_BYTES = 256 * 2**20  # items and outcomes are small; the default would take 30% of the memory


def use_home(stylegram_home: str) -> None:
    """In an actor: use the driver's cache folder (``home()``), passed as an argument."""
    os.environ[HOME_ENV] = stylegram_home


def start_ray(address: str | None, *, cpus: int | None = None) -> bool:
    """Join ``address`` or start a local cluster limited to this machine's cores; True if started here
    (the caller then shuts it down). A cluster this process already has is used as it is."""
    import ray

    if ray.is_initialized():
        return False
    source = _token_for_joining() if address else None
    try:
        if address:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=cpus or os.cpu_count(), include_dashboard=False,
                     logging_level="ERROR", log_to_driver=False, object_store_memory=OBJECT_STORE_BYTES)
    except Exception as exc:  # ConnectionError, AuthenticationError and Ray's other types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0][:200]
        if address:
            raise StylegramError(f"Ray: cannot join {address} ({first}); {_token_hint(source)}") from None
        raise StylegramError(f"Ray: cannot start a local cluster ({first})") from None
    return True


def token_source() -> str | None:
    """Where a Ray cluster token is on this machine, in Ray's order, or None."""
    if os.environ.get(TOKEN_ENV):
        return f"${TOKEN_ENV}"
    named = os.environ.get(TOKEN_PATH_ENV)  # when set, Ray reads only this file
    path = Path(named).expanduser() if named else Path.home() / DEFAULT_TOKEN
    return str(path) if path.is_file() and path.stat().st_size else None


def _token_for_joining() -> str | None:
    source = token_source()
    if source and AUTH_MODE_ENV not in os.environ:
        try:  # Ray's own switch re-reads its cached config; the environment variable alone comes too late
            from ray._private.authentication import authentication_token_setup as setup
        except ImportError:  # another Ray: its own rules apply
            return source
        quiet = logging.getLogger(setup.__name__)  # its "token authentication is enabled" warning is for heads
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            setup.maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
        finally:
            quiet.setLevel(level)
    return source


def _token_hint(source: str | None) -> str:
    how = (f"copy the head's ~/{DEFAULT_TOKEN} to {Path.home() / DEFAULT_TOKEN} here, or set ${TOKEN_ENV} "
           f"(the token) or ${TOKEN_PATH_ENV} (its file)")
    if source is None and os.environ.get(TOKEN_PATH_ENV):
        return f"${TOKEN_PATH_ENV} names {os.environ[TOKEN_PATH_ENV]}, which is missing or empty: {how}"
    if source is None:
        return f"no Ray auth token here, and `ray start --head` clusters require theirs: {how}"
    if os.environ.get(AUTH_MODE_ENV, "token").lower() != "token":
        return f"{AUTH_MODE_ENV}={os.environ[AUTH_MODE_ENV]} sends no token; unset it to send the one in {source}"
    return f"is the head running, and is the token in {source} the head's? If not: {how}"
