"""ONNX Runtime sessions and targets (torch-free side), against the torch loss."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from stylegram.errors import ModelFileError, ProviderError
from stylegram.export.onnx_export import ExportOptions, export_model
from stylegram.images import load_image
from stylegram.losses import gram_matrix
from stylegram.model import VGG19Features
from stylegram.runtime.cache import GramCache
from stylegram.runtime.sessions import Provider, SessionConfig, build_session, shared_session
from stylegram.runtime.targets import check_model_matches, image_grams, numpy_gram, style_targets

from .conftest import STYLE

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    options = ExportOptions(content_layers=("relu2_2",), style_layers=STYLE_LAYERS)
    return export_model(tmp_path_factory.mktemp("model") / "small.onnx", options).path


def test_session_reports_providers_and_is_reused(small_model):
    fs = shared_session(small_model, SessionConfig(provider=Provider.CPU))
    assert fs.providers[0] == "CPUExecutionProvider"
    assert shared_session(small_model, SessionConfig(provider=Provider.CPU)) is fs
    assert fs.info.style_layers == STYLE_LAYERS and fs.info.gram


@pytest.mark.parametrize("provider", [Provider.CUDA, Provider.TENSORRT])
def test_unavailable_provider_is_a_clear_error(small_model, provider):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a CUDA-capable onnxruntime is installed here; covered by the GPU tests")
    with pytest.raises(ProviderError,
                       match=f"--provider {provider.value}: .* is not available .*available: .*CPUExecutionProvider"):
        build_session(small_model, SessionConfig(provider=provider))


def test_bad_model_files(tmp_path):
    with pytest.raises(ModelFileError, match="file not found"):
        build_session(tmp_path / "none.onnx")
    text = tmp_path / "text.onnx"
    text.write_text("not a model")
    with pytest.raises(ModelFileError, match="text.onnx: ONNX Runtime cannot load it"):
        build_session(text)
    with pytest.raises(ModelFileError, match="is a directory"):
        build_session(tmp_path)


def test_model_for_other_settings_is_refused(small_model):
    fs = shared_session(small_model)
    with pytest.raises(ModelFileError, match="built for other settings: style layers relu1_1,relu5_1 differ"):
        check_model_matches(fs.info, small_model, content_layers=("relu2_2",), style_layers=("relu1_1", "relu5_1"),
                            pool="avg")
    with pytest.raises(ModelFileError, match="pooling max differs"):
        check_model_matches(fs.info, small_model, content_layers=("relu2_2",), style_layers=STYLE_LAYERS, pool="max")
    with pytest.raises(ModelFileError, match="weights"):
        check_model_matches(fs.info, small_model, content_layers=("relu2_2",), style_layers=STYLE_LAYERS,
                            pool="avg", weights_sha256="0" * 64)


def test_cached_grams_match_torch_loss(small_model, original_weights, tmp_path):
    fs = shared_session(small_model)
    cache = GramCache(tmp_path / "grams")
    first = style_targets(fs, STYLE, size=64, cache=cache)
    second = style_targets(fs, STYLE, size=64, cache=cache)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    model = VGG19Features(original_weights, STYLE_LAYERS)
    image = torch.from_numpy(load_image(STYLE, long_edge=64).transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        features = model(image)
    for name in STYLE_LAYERS:
        expected = gram_matrix(features[name])[0].numpy()
        error = np.abs(second.grams[name] - expected).max() / np.abs(expected).max()
        assert error <= 1e-4, (name, error)


def test_numpy_gram_matches_graph_gram(small_model):
    fs = shared_session(small_model)
    rgb = load_image(STYLE, long_edge=48)
    in_graph = image_grams(fs, rgb)
    features = fs.run(rgb.transpose(2, 0, 1)[None].copy(), list(STYLE_LAYERS))
    for name in STYLE_LAYERS:
        np.testing.assert_allclose(numpy_gram(features[name])[0], in_graph[name], rtol=1e-4,
                                   atol=1e-5 * np.abs(in_graph[name]).max())


def test_runtime_imports_no_torch(small_model, tmp_path):
    """A server with only onnxruntime: the runtime modules and `cache add --model` never import torch."""
    script = textwrap.dedent(f"""
        import os, sys
        os.environ["STYLEGRAM_HOME"] = {str(tmp_path)!r}
        import stylegram.runtime.sessions, stylegram.runtime.targets, stylegram.runtime.cache
        from stylegram.cli import main
        try:
            main(["cache", "add", {str(STYLE)!r}, "--size", "48", "--model", {str(small_model)!r}, "--quiet"])
        except SystemExit as exc:
            assert not exc.code, exc.code
        assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))
        print("entries", len(list((__import__("pathlib").Path({str(tmp_path)!r}) / "grams").glob("*.safetensors"))))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "entries 1"
