"""uvicorn on a socket bound here (so port 0 gives a real port to print), and a Ctrl-C that keeps work.

The first SIGINT/SIGTERM closes the studio: the event streams end, the running job stops at its next
iteration and saves its best image and state, and the server exits once it has. A second SIGINT
while uvicorn is still shutting down forces it out (uvicorn's rule); the job still gets to save.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import InputError
from .security import resolve_token

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class StudioOptions:
    host: str = "127.0.0.1"
    port: int = 0
    folder: Path = Path("studio")
    token: str | None = None
    open_browser: bool = False
    fixed: Mapping[str, Any] | None = None  # settings only the studio chooses (device, ...)


def bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise InputError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def run_studio(options: StudioOptions, echo: Callable[[str], None]) -> None:
    """Serve until SIGINT/SIGTERM; ``echo`` prints the URL (with a generated token, the only time it is shown)."""
    import uvicorn

    from .app import create_app
    from .jobs import Studio

    token, generated = resolve_token(options.host, options.token)
    try:
        options.folder.mkdir(parents=True, exist_ok=True)
        studio = Studio(options.folder, fixed=options.fixed)
    except OSError as exc:
        raise InputError(f"--folder {options.folder}: cannot use it ({exc.strerror or exc})") from None
    sock = bind(options.host, options.port)
    port = sock.getsockname()[1]
    url = url_for(options.host, port, token)

    class Server(uvicorn.Server):
        def capture_signals(self):  # ours instead of uvicorn's, which re-raises the signal after exiting
            return _signals(self, studio)

    config = uvicorn.Config(create_app(studio, token=token), log_level="warning", access_log=False,
                            timeout_graceful_shutdown=3, lifespan="off", server_header=False)
    studio.start()
    echo(f"stylegram studio: {url}")
    if generated:
        echo("  (a token was generated for this non-loopback address: it is in the address above, shown only now)")
    if studio.resumable:
        echo(f"  {len(studio.resumable)} stopped job(s) can be resumed on the page")
    echo(f"  results in {options.folder.resolve()}; Ctrl-C to stop (a running job keeps its state)")
    if options.open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        Server(config).run(sockets=[sock])
    finally:
        studio.begin_close()
        running = studio.current
        if running is not None:
            echo("stopping: the running job saves its state…")
        studio.close()
        sock.close()
    resumable = len(studio.resumable)
    echo(f"stopped{f'; {resumable} job(s) can be resumed at the next start' if resumable else ''}")


@contextlib.contextmanager
def _signals(server, studio):
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        studio.begin_close()
        if server.should_exit and signum == signal.SIGINT:
            server.force_exit = True
        else:
            server.should_exit = True

    previous = {sig: signal.signal(sig, handle) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
