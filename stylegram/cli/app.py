"""The ``stylegram`` command: every command group registered when the app is built, and ``main``,
the only place that turns errors into exit codes.

Exit codes: 0 success, 1 runtime failure (``StylegramError``), 2 bad input (``InputError``
or a usage error), 128 + N when stopped by signal N (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import logging
import sys
from typing import Optional

import typer

from ..errors import InputError, Interrupted, StylegramError
from . import (
    batch_command,
    bench_command,
    environment,
    mask_command,
    model_commands,
    serve_command,
    studio_command,
    stylize_command,
    video_command,
)
from .cache_commands import cache_app

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Neural style transfer (Gatys et al.) with an ONNX feature pipeline.")
app.command("stylize")(stylize_command.stylize)
app.command("mask")(mask_command.mask)
app.command("export")(model_commands.export)
app.command("layers")(model_commands.layers)
app.command("bench")(bench_command.bench)
app.command("batch")(batch_command.batch)
app.command("serve")(serve_command.serve)
app.command("doctor")(environment.doctor)
app.command("video")(video_command.video)
app.command("studio")(studio_command.studio)
app.add_typer(cache_app, name="cache")


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: run the app and map errors to exit codes with one line on stderr."""
    _log_warnings_as_lines()
    try:
        app(args=argv, standalone_mode=False, prog_name="stylegram")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors (unknown option, missing argument, ...)
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()
            sys.exit(2)
        _fail(exc.format_message(), getattr(exc, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except InputError as exc:
        _fail(str(exc), 2)
    except Interrupted as exc:
        _fail(str(exc), 128 + exc.signal_number)
    except StylegramError as exc:
        _fail(str(exc), 1)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (not the stream of when the handler was made)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        kind = "warning: " if record.levelno >= logging.WARNING else ""
        return f"stylegram: {kind}{record.getMessage()}"


def _log_warnings_as_lines() -> None:
    """The library's warnings as one line each on stderr; and the one notice a user should see:
    ``--precision auto`` measuring this machine (once)."""
    handler = _CurrentStderr()
    handler.setFormatter(_LineFormatter())
    logger = logging.getLogger("stylegram")
    if not logger.handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    logging.getLogger("stylegram.precision").setLevel(logging.INFO)


def _fail(message: str, code: int) -> None:
    print(f"stylegram: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)
