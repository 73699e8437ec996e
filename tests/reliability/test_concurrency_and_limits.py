"""Many processes at once on one cache; memory limits refused up front; hostile model files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stylegram.cli import main
from stylegram.runtime.cache import GramCache

from ..conftest import CONTENT, STYLE

PROCESSES = 8


@pytest.mark.slow
def test_processes_stylizing_same_style_share_one_computation(tmp_path):
    env = dict(os.environ, STYLEGRAM_HOME=str(tmp_path / "home"))
    procs = [subprocess.Popen([sys.executable, "-m", "stylegram", "stylize", str(CONTENT), str(STYLE), "-o",
                               str(tmp_path / f"out{i}.png"), "--size", "32", "--iterations", "2",
                               "--targets", "torch"],
                              env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
             for i in range(PROCESSES)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    misses = sum("cache miss" in err for err in errors)
    hits = sum("cache hit" in err for err in errors)
    assert misses == 1 and hits == PROCESSES - 1, errors  # computed once, the others waited and reused it
    assert all((tmp_path / f"out{i}.png").stat().st_size > 0 for i in range(PROCESSES))
    os.environ["STYLEGRAM_HOME"] = env["STYLEGRAM_HOME"]
    try:
        cache = GramCache()
        assert len(cache.entries()) == 1 and cache.verify() == []
    finally:
        os.environ.pop("STYLEGRAM_HOME")


def test_oversized_request_refused_up_front(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["stylize", str(CONTENT), str(STYLE), "-o", str(tmp_path / "r.png"), "--size", "40000"])
    err = capsys.readouterr().err
    # the targets (computed on whole images) do not fit; the loop alone would, in tiles
    assert info.value.code == 2 and "computing the targets of a 40000x30000 stylization needs about" in err, err
    assert "the memory available now" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as info:
        main(["stylize", str(CONTENT), str(STYLE), "-o", str(tmp_path / "r.png"), "--size", "64",
              "--max-pixels", "1000"])
    assert info.value.code == 2 and "exceeds --max-pixels 1000" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_onnx_external_data_outside_folder_refused(tmp_path):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from stylegram.errors import ModelFileError
    from stylegram.runtime.sessions import build_session

    weight = numpy_helper.from_array(np.ones((4,), np.float32), "w")
    weight.data_location = TensorProto.EXTERNAL
    weight.ClearField("raw_data")
    for key, value in (("location", "../../../../../etc/hostname"), ("offset", "0"), ("length", "16")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("Add", ["image", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [weight])
    path = tmp_path / "sub" / "evil.onnx"
    path.parent.mkdir()
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString())
    with pytest.raises(ModelFileError, match="cannot load it.*[Ee]xternal data"):
        build_session(path)
