"""Targets from a running server (``stylegram serve`` or a Triton server with ``export --triton``'s
repository), over HTTP or gRPC. No torch.

``ServerSession`` has the interface of ``runtime.sessions.FeatureSession`` (``info``, ``run``,
``providers``), so the runtime's target functions work against a server unchanged. Before any
number is used, the server's model fingerprint (from its config's ``parameters``) is read and
compared with what the caller needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from ..errors import InputError, ModelFileError, StylegramError
from ..modelinfo import INPUT_NAME, ModelInfo
from . import DEFAULT_NAME

_ERROR_LINE = re.compile(r"(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)")
GRPC_MAX_MESSAGE = 2**31 - 1  # relu4_2 of a 1024 px image is ~32 MB, over gRPC's 4 MB default


class ServerError(StylegramError):
    """The server could not be reached or refused a request."""


@dataclass(frozen=True)
class Endpoint:
    protocol: str  # "http" or "grpc"
    address: str  # host:port
    url: str  # as the user gave it

    @classmethod
    def parse(cls, url: str, option: str = "--server") -> "Endpoint":
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "grpc") or not parts.hostname or not parts.port:
            raise InputError(f"{option} {url}: expected http://HOST:PORT or grpc://HOST:PORT")
        return cls(parts.scheme, f"{parts.hostname}:{parts.port}", url)


class ServerSession:
    """A feature model served by Triton: ``run`` sends one image batch, returns the named outputs."""

    def __init__(self, url: str, *, model_name: str = DEFAULT_NAME, timeout_s: float = 120.0):
        self.endpoint = Endpoint.parse(url)
        self.model_name, self.timeout_s = model_name, timeout_s
        self.providers = [f"triton {self.endpoint.protocol}://{self.endpoint.address}/{model_name}"]
        self._client, self._module = self._connect()
        self.info = self._model_info()

    def _connect(self):
        try:
            if self.endpoint.protocol == "grpc":
                import tritonclient.grpc as module

                channel = [("grpc.max_send_message_length", GRPC_MAX_MESSAGE),
                           ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE)]
                return module.InferenceServerClient(self.endpoint.address, channel_args=channel), module
            import tritonclient.http as module

            return module.InferenceServerClient(self.endpoint.address, connection_timeout=self.timeout_s,
                                                network_timeout=self.timeout_s), module
        except ImportError:
            raise InputError("--server needs tritonclient: pip install 'stylegram[serve]'") from None

    def _call(self, what: str, function, *args, **kwargs):
        """Run a client call; any failure becomes one line naming the server."""
        try:
            return function(*args, **kwargs)
        except Exception as exc:  # tritonclient, gevent, grpc and socket errors of many types
            raise ServerError(f"server {self.endpoint.url}: {what} failed: {server_message(exc)[:300]}") from None

    def _model_info(self) -> ModelInfo:
        try:
            config = self._call("reading the model config", self._client.get_model_config, self.model_name,
                                **({"as_json": True} if self.endpoint.protocol == "grpc" else {}))
        except ServerError as exc:
            if "unknown model" not in str(exc).lower():
                raise
            raise ServerError(f"{exc}; give the name it serves with --server-model NAME") from None
        config = config.get("config", config)
        props = {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}
        return ModelInfo.from_props(props, source=f"{self.endpoint.url}/{self.model_name}")

    def run(self, image: np.ndarray, outputs: list[str]) -> dict[str, np.ndarray]:
        """Named outputs for an N x 3 x H x W float32 RGB image in [0, 1]."""
        data = np.ascontiguousarray(image, dtype=np.float32)
        request = self._module.InferInput(INPUT_NAME, list(data.shape), "FP32")
        request.set_data_from_numpy(data)
        wanted = [self._module.InferRequestedOutput(name) for name in outputs]
        timeout = {"client_timeout": self.timeout_s} if self.endpoint.protocol == "grpc" else {}
        result = self._call("inference", self._client.infer, self.model_name, [request], outputs=wanted, **timeout)
        return {name: result.as_numpy(name) for name in outputs}

    def close(self) -> None:
        self._client.close()


def server_message(exc: Exception) -> str:
    """One line for a client error: a server-side traceback (PyTriton sends one) gives its last error line."""
    text = str(exc)
    if "Traceback" in text:
        found = [m for m in map(_ERROR_LINE.search, text.splitlines()) if m and "Model execute error" not in m.group(0)]
        if found:
            return f"{found[-1].group(1)}: {found[-1].group(2).strip()}"
    return " ".join(text.split()) or type(exc).__name__


def check_server_model(info: ModelInfo, url: str, *, content_layers, style_layers, pool: str,
                       weights_sha256: str | None, preprocessing: str | None = None) -> None:
    """Refuse a server whose model has other weights, layers, pooling or normalization."""
    from ..modelinfo import GRAM_NORMALIZATION
    from ..runtime.targets import check_model_matches

    try:
        check_model_matches(info, url, content_layers=content_layers, style_layers=style_layers, pool=pool,
                            weights_sha256=weights_sha256)
    except ModelFileError as exc:
        raise ModelFileError(f"--server: {exc}") from None
    if info.gram_normalization != GRAM_NORMALIZATION or (preprocessing and info.preprocessing != preprocessing):
        raise ModelFileError(f"--server: model {url} normalizes its input or Grams differently from this stylegram")
