"""The server's log: one file with everything tritonserver, its python backend stub and PyTriton say
(Triton's own log lines, the CUDA/NVML/DCGM notices of a machine without a GPU, tracebacks of failed
requests). The console shows stylegram's own lines; ``verbose`` shows the log there too."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from ..home import home

PYTRITON_LOGGER = "pytriton"
SERVE_LOGGER = "stylegram.serve"  # its warnings also reach the console through the "stylegram" logger


def default_log_path(http_port: int) -> Path:
    """Where the log goes unless told: stylegram's home, one file per HTTP port (one server each)."""
    return home() / "serve" / f"triton-{http_port}.log"


class ServerLog(logging.Handler):
    """The log file (rewritten at each start); also a logging handler for PyTriton's and serve's loggers."""

    def __init__(self, path: Path, *, verbose: bool = False):
        super().__init__(logging.INFO)
        self.path, self.verbose = Path(path), verbose
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self._write_lock = threading.Lock()
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        self._loggers = [logging.getLogger(PYTRITON_LOGGER), logging.getLogger(SERVE_LOGGER)]
        for logger in self._loggers:
            logger.addHandler(self)
        self._loggers[0].setLevel(logging.INFO)
        self._loggers[0].propagate = False  # PyTriton's warnings reach the console only with verbose

    def write(self, text: str | bytes, *, echo: bool = True) -> None:
        """Append ``text`` (tritonserver's output comes in chunks, not lines); echoed with verbose."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        with self._write_lock:
            if self._file.closed:
                return
            self._file.write(text)
            self._file.flush()
            if echo and self.verbose:
                sys.stderr.write(text)
                sys.stderr.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record) + "\n", echo=not record.name.startswith(SERVE_LOGGER))
        except Exception:  # noqa: BLE001 (logging's contract: a handler never raises)
            self.handleError(record)

    def close(self) -> None:
        for logger in self._loggers:
            logger.removeHandler(self)
        with self._write_lock:
            self._file.close()
        super().close()
