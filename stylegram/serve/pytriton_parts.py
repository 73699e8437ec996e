"""What ``stylegram serve`` does with nvidia-pytriton beyond its public API, in one place. Each function
here uses a private part of the 0.7 series (read from its source) and checks that series first.

- **Ready only when the model answers.** PyTriton starts tritonserver on an empty model store and loads
  the model through the repository API once ``/v2/health/ready`` answers 200, so that endpoint is 200
  for seconds before the model exists (Triton's strict readiness counts only the models it has). With
  the public lifecycle policy ``local_model_store`` the model is in the store when tritonserver starts
  and is loaded before tritonserver opens its ports. That store is written when the model is bound,
  before stylegram can add to it, so ``write_model_store`` writes it again.
- **The served config's parameters**: the model's fingerprint, as ``export --triton`` writes it.
- **Errors without tracebacks.** PyTriton sends the traceback of any error of the inference function
  (``proxy/inference.py``) and wraps it in the stub's own (``proxy/model.py``, ``execute``); Triton sends
  that text to the client. ``stub_model.py`` becomes the stub's ``model.py`` around PyTriton's.
- **tritonserver's output.** PyTriton prints every line tritonserver and its stub write to this
  process's stdout and keeps them all in memory (``TritonServer._record_logs``); ``route_server_output``
  sends them elsewhere.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from ..errors import StylegramError

PYTRITON_SERIES = "0.7."
STUB_MODEL = Path(__file__).with_name("stub_model.py")
PYTRITON_STUB_MODEL = "pytriton_model.py"  # PyTriton's model.py, beside stylegram's in the served folder


def check_pytriton_version() -> None:
    """Refuse an nvidia-pytriton other than the series whose private parts this module uses."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("nvidia-pytriton")
    except PackageNotFoundError:
        found = "none"
    if not found.startswith(PYTRITON_SERIES):
        raise StylegramError(f"stylegram serve needs nvidia-pytriton {PYTRITON_SERIES}x (it uses private parts "
                             f"of it), found {found}: pip install 'nvidia-pytriton=={PYTRITON_SERIES}*'")


def lifecycle_policy():
    """tritonserver starts with the bound models in its store (loaded before it opens its ports)."""
    from pytriton.triton import TritonLifecyclePolicy

    return TritonLifecyclePolicy(launch_triton_on_startup=True, local_model_store=True)


def write_model_store(triton, parameters: dict[str, str]) -> None:
    """Rewrite each bound model's folder: ``parameters`` in its config, stylegram's stub model beside
    PyTriton's. The config is printed here: PyTriton's printer takes ASCII only, the fingerprint is not."""
    from google.protobuf import json_format

    from .triton_repo import config_text, model_config_schema

    check_pytriton_version()
    store = triton._workspace.model_store_path
    for model in triton._model_manager.models:
        model._get_triton_model_config().backend_parameters.update(parameters)
        config = json_format.ParseDict(model.get_model_config(), model_config_schema().ModelConfig())
        (store / model.model_name / "config.pbtxt").write_text(config_text(config), encoding="utf-8")
        folder = store / model.model_name / str(model.model_version)
        (folder / "model.py").replace(folder / PYTRITON_STUB_MODEL)
        shutil.copyfile(STUB_MODEL, folder / "model.py")


def route_server_output(triton, write: Callable[[str | bytes], None]) -> None:
    """tritonserver's stdout and stderr (unbuffered chunks, not lines) go to ``write`` only."""
    check_pytriton_version()
    if triton._triton_server is None:
        triton._initialize_server()  # what Triton.run does first; it keeps the server object made here
    triton._triton_server._record_logs = write
