"""``stylegram serve``: the feature model on a Triton Inference Server (PyTriton), until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import StylegramError
from ..runtime.sessions import Provider
from .options import ModelOpt, ProviderOpt, QuietOpt, managed_model_path


def serve(
    model: ModelOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind (inference is not authenticated: keep loopback "
                                           "unless a proxy in front of it is).")] = "127.0.0.1",
    http_port: Annotated[int, typer.Option(help="KServe v2 HTTP port.")] = 8000,
    grpc_port: Annotated[int, typer.Option(help="KServe v2 gRPC port.")] = 8001,
    metrics_port: Annotated[int, typer.Option(help="Prometheus metrics port.")] = 8002,
    name: Annotated[str, typer.Option(help="Model name clients ask for.")] = "stylegram_vgg19",
    max_batch: Annotated[int, typer.Option(help="Largest batch Triton forms.")] = 8,
    batching: Annotated[bool, typer.Option("--batching/--no-batching", help="Triton's dynamic batcher.")] = True,
    instances: Annotated[int, typer.Option(help="Model instances (each runs requests in parallel).")] = 1,
    provider: ProviderOpt = Provider.AUTO,
    threads: Annotated[int, typer.Option(help="ONNX Runtime intra-op threads per instance (0: all cores).")] = 0,
    max_pixels: Annotated[int, typer.Option(help="Refuse images with more pixels than this.")] = 2048 * 2048,
    log_file: Annotated[Optional[Path], typer.Option(help="Where Triton writes its log.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Serve the exported feature model (content features and style Grams) over HTTP and gRPC."""
    from ..serve.server import ServeOptions, start_server

    options = ServeOptions(model=model or managed_model_path(), name=name, host=host, http_port=http_port,
                           grpc_port=grpc_port, metrics_port=metrics_port, max_batch=max_batch, batching=batching,
                           instances=instances, provider=provider, threads=threads, max_pixels=max_pixels,
                           log_file=log_file)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        triton = start_server(options)
        if not quiet:
            typer.echo(f"serving {options.name} ({options.model}) on http://{host}:{http_port} and "
                       f"grpc://{host}:{grpc_port}; metrics on {metrics_port}; SIGINT/SIGTERM to stop", err=True)
        while not stop.wait(0.5):
            if not triton.is_alive():
                raise StylegramError("the Triton server process exited; see --log-file")
        started = time.perf_counter()
        triton.stop()  # finishes in-flight requests, at most ServeOptions.exit_timeout_s
        if not quiet:
            typer.echo(f"stopped in {time.perf_counter() - started:.1f} s", err=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
