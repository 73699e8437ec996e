"""What a client of ``stylegram serve`` gets for a failed request, without a server (fast): the inference
function turns its own faults into one message and logs the traceback; the stub's model.py
(``serve/stub_model.py``, run in Triton's python backend) answers with that message only. The
answers of a real server are tested in test_serve.py."""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
import types
from types import SimpleNamespace

import numpy as np
import pytest

from stylegram.modelinfo import INPUT_NAME
from stylegram.serve.pytriton_parts import STUB_MODEL
from stylegram.serve.server import FeatureInference, InferenceFailed, RequestError

from .test_triton_repo import INFO

MESSAGE = "request 0: image 2x2 px is too small; the model's layers need at least 16 px on each side"


class FailingSession:
    info = INFO

    def run(self, image, outputs):
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : /onnxruntime_src/core/conv.cc:42 failed")


def test_a_fault_of_the_model_is_one_message_and_a_logged_traceback(caplog):
    inference = FeatureInference(FailingSession(), max_pixels=32 * 32)
    with caplog.at_level(logging.ERROR, logger="stylegram.serve"), pytest.raises(InferenceFailed) as raised:
        inference([{INPUT_NAME: np.zeros((1, 3, 32, 32), np.float32)}])
    assert str(raised.value) == "inference failed on the server (RuntimeError); its log has the details"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    (record,) = caplog.records
    assert "conv.cc:42" in "".join(traceback.format_exception(*record.exc_info))  # the details: in the log only
    with pytest.raises(RequestError, match="image 33x32 px is over this server's limit"):  # a refusal stays one
        inference([{INPUT_NAME: np.zeros((1, 3, 32, 33), np.float32)}])


@pytest.fixture
def stub_model(tmp_path, monkeypatch):
    """stub_model.py loaded as the stub loads it (the model folder as a package), with stand-ins for the
    stub's pb_utils and for PyTriton's model, which raises what PyTriton 0.7 raises: its execute's
    traceback around the text of the inference function's traceback (proxy/model.py, proxy/inference.py)."""
    package = tmp_path / "stub_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text(STUB_MODEL.read_text())
    (package / "pytriton_model.py").write_text(
        "import traceback\nimport triton_python_backend_utils as pb_utils\n\n"
        "class TritonPythonModel:\n"
        "    def execute(self, requests):\n"
        "        try:\n"
        "            raise pb_utils.TritonModelException(requests[0])\n"
        "        except Exception:\n"
        "            raise pb_utils.TritonModelException('Model execute error: ' + traceback.format_exc()) from None\n")
    utils = types.ModuleType("triton_python_backend_utils")
    utils.TritonModelException = type("TritonModelException", (Exception,), {})
    utils.TritonError = type("TritonError", (), {"INVALID_ARG": "INVALID_ARG", "INTERNAL": "INTERNAL",
                                                 "__init__": lambda self, message, code: vars(self).update(
                                                     message=message, code=code)})
    utils.InferenceResponse = lambda output_tensors, error: SimpleNamespace(outputs=output_tensors, error=error)
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", utils)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("stub_package.model").TritonPythonModel()
    for name in [name for name in sys.modules if name.startswith("stub_package")]:
        del sys.modules[name]


def _traceback_text(error: Exception) -> str:
    """What PyTriton sends from the inference function: the formatted traceback of its error."""
    try:
        raise error
    except Exception as exc:
        return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize("error,message,code", [
    (RequestError(MESSAGE), MESSAGE, "INVALID_ARG"),
    (InferenceFailed("inference failed on the server (RuntimeError); its log has the details"),
     "inference failed on the server (RuntimeError); its log has the details", "INTERNAL"),
    (ValueError("Output relu4_2 at /work/x.py has wrong shape"),  # PyTriton's own, e.g. its output validator
     "inference failed on the server; its log has the details", "INTERNAL"),
])
def test_stub_model_answers_each_request_with_the_message_only(stub_model, error, message, code):
    text = _traceback_text(error)
    responses = stub_model.execute([text, text])  # two requests batched together: an error response each
    assert [(r.outputs, r.error.message, r.error.code) for r in responses] == [([], message, code)] * 2
