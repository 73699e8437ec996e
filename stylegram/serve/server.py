"""``stylegram serve``: the exported feature model on a real Triton Inference Server, through PyTriton.

The model runs in ONNX Runtime inside the bound inference function; Triton speaks the KServe v2
protocol over HTTP and gRPC and batches requests dynamically. Requests are grouped by image
size: those that share H x W run as one batch, others as separate batches in the same call
(never padded: padding would change the Grams). Triton itself refuses a wrong dtype, rank,
missing input or byte count before a request is batched; this module refuses NaN/infinite
pixels, images too small for the model's layers and images over ``max_pixels``. PyTriton has
no per-request error: a request refused here fails the requests batched with it in the same
call (with batching off, only itself). The client gets the message of a ``RequestError`` or
``InferenceFailed`` and nothing more (stub_model.py); the server's log gets the traceback.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, StylegramError
from ..layers import min_image_side
from ..modelinfo import INPUT_NAME, gram_output
from ..runtime.sessions import FeatureSession, Provider, SessionConfig, build_session
from . import DEFAULT_NAME
from .pytriton_parts import check_pytriton_version, lifecycle_policy, route_server_output, write_model_store
from .server_log import SERVE_LOGGER, ServerLog, default_log_path
from .stub_env import child_environment, stub_library_path

DEFAULT_MAX_PIXELS = 2048 * 2048
log = logging.getLogger(SERVE_LOGGER)


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    model: Path
    name: str = DEFAULT_NAME
    host: str = "127.0.0.1"  # loopback: PyTriton protects only its management API, inference is open
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    max_batch: int = 8
    batching: bool = True  # Triton's dynamic batcher (off: one request per call)
    queue_delay_us: int = 2000
    instances: int = 1
    provider: Provider = Provider.AUTO
    threads: int = 0  # ONNX Runtime intra-op threads per instance (0: its default)
    max_pixels: int = DEFAULT_MAX_PIXELS
    exit_timeout_s: int = 5  # how long a stop waits for in-flight requests (Triton's default: 30)
    log_file: Path | None = None  # the server's log (server_log.py); None: a file in stylegram's home
    verbose: bool = False  # the server's log on the console too

    def __post_init__(self) -> None:
        for name in ("max_batch", "instances", "max_pixels"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("http_port", "grpc_port", "metrics_port"):
            if not 0 < getattr(self, name) < 65536:
                raise InputError(f"--{name.replace('_', '-')} must be a port number, got {getattr(self, name)}")

    @property
    def log_path(self) -> Path:
        return self.log_file or default_log_path(self.http_port)


SERVE_DEFAULTS = ServeOptions(model=Path())  # every default but the model; `stylegram serve` reads its own here


class RequestError(ValueError):
    """A request this server refuses: the client gets the message (HTTP 400)."""


class InferenceFailed(RuntimeError):
    """A request the model failed on: the client gets the message (HTTP 500), the log the traceback."""


@dataclass
class FeatureInference:
    """The inference callable: validates each request, runs same-size requests as one ORT batch."""

    session: FeatureSession
    max_pixels: int
    outputs: list[str] = field(init=False)
    min_side: int = field(init=False)

    def __post_init__(self) -> None:
        info = self.session.info
        self.outputs = [*dict.fromkeys((*info.content_layers, *info.style_layers)),
                        *(gram_output(n) for n in info.style_layers if info.gram)]
        self.min_side = min_image_side((*info.content_layers, *info.style_layers))

    def check(self, index: int, image: np.ndarray) -> None:
        if image.ndim != 4 or image.shape[1] != 3:
            raise RequestError(f"request {index}: expected image N x 3 x H x W, got shape {list(image.shape)}")
        height, width = image.shape[2:]
        if min(height, width) < self.min_side:
            raise RequestError(f"request {index}: image {width}x{height} px is too small; the model's layers "
                               f"need at least {self.min_side} px on each side")
        if height * width > self.max_pixels:
            raise RequestError(f"request {index}: image {width}x{height} px is over this server's limit of "
                               f"{self.max_pixels} px")
        if not np.isfinite(image).all():
            raise RequestError(f"request {index}: image has NaN or infinite pixel values")

    def __call__(self, requests) -> list[dict[str, np.ndarray]]:
        try:
            return self.infer(requests)
        except RequestError:
            raise  # PyTriton logs it with its traceback
        except Exception as exc:  # a fault here, not in the request: its message may hold server paths
            log.error("inference failed on %d request(s)", len(requests), exc_info=True)
            raise InferenceFailed(f"inference failed on the server ({type(exc).__name__}); "
                                  "its log has the details") from None

    def infer(self, requests) -> list[dict[str, np.ndarray]]:
        images = [np.asarray(request[INPUT_NAME]) for request in requests]
        for index, image in enumerate(images):
            self.check(index, image)
        groups: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            groups.setdefault(image.shape[2:], []).append(index)
        responses: list[dict[str, np.ndarray] | None] = [None] * len(images)
        for members in groups.values():
            batch = np.concatenate([images[i] for i in members]) if len(members) > 1 else images[members[0]]
            result = self.session.run(batch, self.outputs)
            start = 0
            for i in members:
                count = images[i].shape[0]
                responses[i] = {name: value[start:start + count] for name, value in result.items()}
                start += count
        return responses


def tensors(session: FeatureSession, outputs: list[str]):
    from pytriton.model_config import Tensor

    signature = {t.name: t.shape for t in session.session.get_outputs()}
    dims = lambda shape: tuple(d if isinstance(d, int) else -1 for d in shape[1:])  # noqa: E731
    return ([Tensor(name=INPUT_NAME, dtype=np.float32, shape=(3, -1, -1))],
            [Tensor(name=name, dtype=np.float32, shape=dims(signature[name])) for name in outputs])


def start_server(options: ServeOptions) -> RunningServer:
    """Build the sessions, bind the model, start Triton with its output in the server's log; returns
    once the model answers."""
    check_pytriton_version()  # before anything is built: the model store needs this series' private parts
    log = ServerLog(options.log_path, verbose=options.verbose)
    try:
        triton = _bound_triton(options)
    except BaseException:
        log.close()
        raise
    route_server_output(triton, log.write)
    try:
        with child_environment("LD_LIBRARY_PATH", stub_library_path(dict(os.environ))):
            triton.run()  # starts tritonserver (and through it the stub) with the variable; the parent keeps its own
    except Exception as exc:  # PyTriton raises its own types when the server does not come up
        RunningServer(triton, log).stop()
        raise StylegramError(f"Triton did not start on {options.host} ({str(exc).splitlines()[0][:200]}); "
                             f"its log: {log.path}") from None
    return RunningServer(triton, log)


def _bound_triton(options: ServeOptions):
    """A ``pytriton.triton.Triton``, not started, with the model bound and its store written."""
    try:
        from pytriton.model_config import DynamicBatcher, ModelConfig
        from pytriton.triton import Triton, TritonConfig
    except ImportError:
        raise StylegramError("stylegram serve needs PyTriton: pip install 'stylegram[serve]'") from None
    config = SessionConfig(provider=options.provider, threads=options.threads)
    callables = [FeatureInference(build_session(options.model, config), options.max_pixels)
                 for _ in range(options.instances)]
    inputs, outputs = tensors(callables[0].session, callables[0].outputs)
    triton = Triton(config=TritonConfig(
        http_address=options.host, http_port=options.http_port, grpc_address=options.host,
        grpc_port=options.grpc_port, metrics_address=options.host, metrics_port=options.metrics_port,
        exit_timeout_secs=options.exit_timeout_s, exit_on_error=True, log_verbose=0, strict_readiness=True),
        triton_lifecycle_policy=lifecycle_policy())
    batcher = DynamicBatcher(max_queue_delay_microseconds=options.queue_delay_us) if options.batching else None
    triton.bind(model_name=options.name, infer_func=callables, inputs=inputs, outputs=outputs,
                config=ModelConfig(max_batch_size=options.max_batch, batcher=batcher), strict=True)
    write_model_store(triton, callables[0].session.info.to_props())  # as export --triton writes it
    return triton


@dataclass
class RunningServer:
    triton: object  # pytriton.triton.Triton
    log: ServerLog

    def is_alive(self) -> bool:
        return self.triton.is_alive()

    def stop(self) -> None:
        """Finishes in-flight requests (at most ``ServeOptions.exit_timeout_s``), then closes the log."""
        try:
            self.triton.stop()
        finally:
            self.log.close()
