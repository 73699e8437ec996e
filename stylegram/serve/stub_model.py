"""The served model's ``model.py`` in Triton's python backend stub: copied there by ``pytriton_parts.py``
and run by the stub, never imported by stylegram (it imports the stub's modules).

It is PyTriton 0.7's proxy model (beside it as ``pytriton_model.py``) with one change: an error becomes
an error response per request that carries only its message. PyTriton raises it from ``execute``
with its own traceback around the inference function's, and Triton sends all of that, file paths
included, to the client. The message is the last line of the inference function's traceback when
that is one of stylegram's errors for the client; anything else gets a fixed message (the server's
log has the traceback).
"""

import re

import triton_python_backend_utils as pb_utils  # the stub's module

from .pytriton_model import TritonPythonModel as PyTritonModel

# the line ``traceback`` ends with for stylegram.serve.server's RequestError and InferenceFailed
FOR_CLIENT = re.compile(r"^stylegram\.serve\.server\.(RequestError|InferenceFailed): (.+)$", re.MULTILINE)
OTHER_ERROR = "inference failed on the server; its log has the details"


def client_error(text: str):
    """The error response's error for PyTriton's error text: the message only, 400 for a refused request."""
    found = FOR_CLIENT.findall(text)
    kind, message = found[-1] if found else ("", OTHER_ERROR)
    code = pb_utils.TritonError.INVALID_ARG if kind == "RequestError" else pb_utils.TritonError.INTERNAL
    return pb_utils.TritonError(message.strip(), code)


class TritonPythonModel(PyTritonModel):
    def execute(self, requests):
        try:
            return super().execute(requests)
        except pb_utils.TritonModelException as exc:  # PyTriton's execute raises only this
            error = client_error(str(exc))
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
