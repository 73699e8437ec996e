"""Property-based fuzzing of every reader of untrusted files: images, weights, ONNX models, cache entries.

Each reader gets random bytes and mutations of a real file (seed corpus), and must either
succeed or raise the project's own error type with a message; never another exception.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stylegram.errors import ImageError, ModelFileError, WeightsError
from stylegram.images import load_image
from stylegram.runtime.cache import CacheKey, GramCache, read_entry
from stylegram.weights import load_weights

from ..conftest import CONTENT

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
COUNTS: dict[str, int] = {}


def mutations(seed: bytes):
    """Random bytes, truncations, bit flips and spliced garbage of ``seed``."""
    flips = st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(1, 255)), min_size=1, max_size=8)
    return st.one_of(
        st.binary(max_size=2048),
        st.integers(0, len(seed) - 1).map(lambda n: seed[:n]),
        flips.map(lambda fs: _flip(seed, fs)),
        st.tuples(st.integers(0, len(seed) - 1), st.binary(min_size=1, max_size=64)).map(
            lambda t: seed[: t[0]] + t[1] + seed[t[0] + len(t[1]):]),
    )


def _flip(data: bytes, flips) -> bytes:
    out = bytearray(data)
    for index, mask in flips:
        out[index] ^= mask
    return bytes(out)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / f"{hashlib.sha1(data).hexdigest()[:12]}-{name}"
    path.write_bytes(data)
    COUNTS[name] = COUNTS.get(name, 0) + 1
    return path


@pytest.fixture(scope="module")
def small_jpeg(tmp_path_factory) -> bytes:
    from PIL import Image

    path = tmp_path_factory.mktemp("seed") / "seed.jpg"
    Image.open(CONTENT).resize((48, 36)).save(path, quality=80)
    return path.read_bytes()


def test_image_reader(tmp_path, small_jpeg):
    png = Path(__file__).resolve().parents[2] / "stylegram" / "data" / "sample.jpg"

    @FUZZ
    @given(data=st.one_of(mutations(small_jpeg), mutations(png.read_bytes()[:4096])))
    def check(data):
        path = _write(tmp_path, "image.jpg", data)
        try:
            array = load_image(path, long_edge=32)
            assert array.shape[2] == 3
        except ImageError as exc:
            assert str(path) in str(exc)

    check()
    assert COUNTS["image.jpg"] >= 20, COUNTS


@pytest.fixture(scope="module")
def small_state_dict(tmp_path_factory) -> bytes:
    import torch

    from stylegram.layers import conv_layers

    state = {f"features.{c.position}.weight": torch.zeros(1) for c in conv_layers()[:2]}
    path = tmp_path_factory.mktemp("seed") / "vgg.pth"
    torch.save(state, path)
    return path.read_bytes()


def test_weights_reader(tmp_path, small_state_dict):
    @FUZZ
    @given(data=mutations(small_state_dict))
    def check(data):
        path = _write(tmp_path, "weights.pth", data)
        with pytest.raises(WeightsError, match=path.name):
            load_weights(path)

    check()
    assert COUNTS["weights.pth"] >= 20, COUNTS


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> bytes:
    from stylegram.export.onnx_export import ExportOptions, export_model

    path = tmp_path_factory.mktemp("seed") / "tiny.onnx"
    export_model(path, ExportOptions(content_layers=("conv1_1",), style_layers=("relu1_1",)))
    return path.read_bytes()


def test_onnx_model_reader(tmp_path, small_model):
    from stylegram.runtime.sessions import build_session

    @FUZZ
    @given(data=mutations(small_model))
    def check(data):
        path = _write(tmp_path, "model.onnx", data)
        try:
            session = build_session(path)
            assert session.info.style_layers == ("relu1_1",)
        except ModelFileError as exc:
            assert str(path) in str(exc)

    check()
    assert COUNTS["model.onnx"] >= 20, COUNTS


def test_cache_reader(tmp_path):
    import numpy as np

    cache = GramCache(tmp_path / "grams")
    key = CacheKey("a" * 64, 64, 1.0, "m")
    seed = cache.put(key, {"relu1_1": np.ones((8, 8), np.float32)}, image_name="s.jpg").read_bytes()

    @FUZZ
    @given(data=mutations(seed))
    def check(data):
        path = cache.path_for(key)
        path.write_bytes(data)
        COUNTS["cache entry"] = COUNTS.get("cache entry", 0) + 1
        grams, problem = read_entry(path, key=key, layers=("relu1_1",))
        if problem is None:  # the mutation left the data intact (e.g. padding in the header)
            assert np.array_equal(grams["relu1_1"], np.ones((8, 8), np.float32))
        got = cache.get(key, ("relu1_1",))
        assert got is None or np.array_equal(got["relu1_1"], np.ones((8, 8), np.float32))

    check()
    assert COUNTS["cache entry"] >= 20, COUNTS
    print("fuzzed inputs per reader:", COUNTS)
