"""``stylegram serve``: the feature model on a Triton Inference Server (PyTriton), until SIGINT/SIGTERM."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import StylegramError
from ..serve.server import SERVE_DEFAULTS as D
from .options import ModelOpt, ProviderOpt, QuietOpt, managed_model_path
from .stop_signals import StopRequests


def serve(
    model: ModelOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind (inference is not authenticated: keep loopback "
                                           "unless a proxy in front of it is).")] = D.host,
    http_port: Annotated[int, typer.Option(help="KServe v2 HTTP port.")] = D.http_port,
    grpc_port: Annotated[int, typer.Option(help="KServe v2 gRPC port.")] = D.grpc_port,
    metrics_port: Annotated[int, typer.Option(help="Prometheus metrics port.")] = D.metrics_port,
    name: Annotated[str, typer.Option(help="Model name clients ask for (their --server-model).")] = D.name,
    max_batch: Annotated[int, typer.Option(help="Largest batch Triton forms.")] = D.max_batch,
    batching: Annotated[bool, typer.Option("--batching/--no-batching", help="Triton's dynamic batcher.")] = D.batching,
    instances: Annotated[int, typer.Option(help="Model instances (each runs requests in parallel).")] = D.instances,
    provider: ProviderOpt = D.provider,
    threads: Annotated[int, typer.Option(
        help="ONNX Runtime intra-op threads per instance (0: all cores).")] = D.threads,
    max_pixels: Annotated[int, typer.Option(help="Refuse images with more pixels than this.")] = D.max_pixels,
    log_file: Annotated[Optional[Path], typer.Option(
        help="The server's log: Triton's, its stub's and PyTriton's lines (default: a file in stylegram's home, "
             "printed at start).")] = D.log_file,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show the server's log on the console too.")] = D.verbose,
    quiet: QuietOpt = False,
) -> None:
    """Serve the exported feature model (content features and style Grams) over HTTP and gRPC."""
    from ..serve.server import start_server

    options = replace(D, model=model or managed_model_path(), name=name, host=host, http_port=http_port,
                      grpc_port=grpc_port, metrics_port=metrics_port, max_batch=max_batch, batching=batching,
                      instances=instances, provider=provider, threads=threads, max_pixels=max_pixels,
                      log_file=log_file, verbose=verbose)
    if not quiet:
        typer.echo(f"the server's log: {options.log_path}{' (and here)' if verbose else ''}", err=True)
    with StopRequests() as stops:
        server = start_server(options)
        if not quiet:
            typer.echo(f"serving {options.name} ({options.model}) on http://{host}:{http_port} and "
                       f"grpc://{host}:{grpc_port}; metrics on {metrics_port}; SIGINT/SIGTERM to stop", err=True)
        while not stops.event.wait(0.5):
            if not server.is_alive():
                server.stop()
                raise StylegramError(f"the Triton server process exited; its log: {options.log_path}")
        started = time.perf_counter()
        server.stop()  # finishes in-flight requests, at most ServeOptions.exit_timeout_s
        if not quiet:
            typer.echo(f"stopped in {time.perf_counter() - started:.1f} s", err=True)
