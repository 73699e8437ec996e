"""``stylegram studio``: the local web page that shows the picture forming (``stylegram.studio``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .options import DEFAULTS, DeviceOpt


def studio(
    host: Annotated[str, typer.Option(help="Address to bind. Anything but loopback needs a token (--token, or "
                                           "one generated and printed once).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one; the address is printed).")] = 0,
    folder: Annotated[Path, typer.Option(help="Folder of the results (the gallery); uploads, jobs and stopped "
                                              "jobs' states go in its .studio/ subfolder.")] = Path("studio"),
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    token: Annotated[Optional[str], typer.Option(help="Require this token on every request (header or ?token=).")]
    = None,
    device: DeviceOpt = DEFAULTS.device,
) -> None:
    """Serve a local web page to stylize images and watch the picture form (needs the studio extra)."""
    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(f"stylegram studio needs {' and '.join(missing)}: pip install 'stylegram[studio]'")
    if not 0 <= port <= 65535:
        raise InputError(f"--port must be between 0 and 65535, got {port}")
    if token is not None and not token.strip():
        raise InputError("--token must not be empty")
    from ..studio.server import StudioOptions, run_studio

    options = StudioOptions(host=host, port=port, folder=folder, token=token, open_browser=open_browser,
                            fixed={"device": device})
    run_studio(options, lambda line: typer.echo(line))
