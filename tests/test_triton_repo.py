"""``serve/triton_repo.py``: the Triton model repository that ``export --triton`` writes. The config is
read back with Triton's own ModelConfig schema; a config or model that fails leaves nothing behind.
Small ONNX graphs made here stand in for the exported VGG19 (no torch, no export). Also the serve
parts that need no running server (fast; test_serve.py has those that do): one model name and one
set of defaults for every command, the stub's LD_LIBRARY_PATH, the PyTriton version check."""

from __future__ import annotations

import os
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

from stylegram.errors import InputError, ModelFileError
from stylegram.modelinfo import GRAM_NORMALIZATION, INPUT_NAME, ModelInfo
from stylegram.serve import DEFAULT_NAME, triton_repo
from stylegram.serve.triton_repo import (
    TRITON_DEFAULTS,
    TritonOptions,
    config_message,
    config_text,
    graph_signature,
    model_config_schema,
    validate,
    write_repository,
)

from .conftest import snapshot

INFO = ModelInfo(version="test", weights_name="random", weights_sha256="0" * 64, pooling="avg", preprocessing="{}",
                 content_layers=("relu1_1",), style_layers=("relu1_1",), gram=True,
                 gram_normalization=GRAM_NORMALIZATION, opset=17, dtype="float32")


def tiny_model(path, *, input_name: str = INPUT_NAME, int_output: bool = False):
    """image [N, 3, H, W] -> relu1_1 [N, 3, H, W] and gram_relu1_1 [N, 3, 3] (or an int64 shape output)."""
    import onnx
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", 3, "H", "W"])
    outputs = [helper.make_tensor_value_info("relu1_1", TensorProto.FLOAT, ["N", 3, "H", "W"])]
    nodes = [helper.make_node("Relu", [input_name], ["relu1_1"])]
    if int_output:
        outputs.append(helper.make_tensor_value_info("shape", TensorProto.INT64, [4]))
        nodes.append(helper.make_node("Shape", [input_name], ["shape"]))
    else:
        outputs.append(helper.make_tensor_value_info("gram_relu1_1", TensorProto.FLOAT, ["N", 3, 3]))
        nodes.append(helper.make_node("Einsum", ["relu1_1", "relu1_1"], ["gram_relu1_1"], equation="nchw,ndhw->ncd"))
    graph = helper.make_graph(nodes, "tiny", [image], outputs)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.fixture
def model(tmp_path):
    return tiny_model(tmp_path / "tiny.onnx")


def read_config(path):
    from google.protobuf import text_format

    return text_format.Parse(path.read_text(), model_config_schema().ModelConfig())


def test_defaults_name_the_model_as_clients_ask_for_it():
    from stylegram.serve.client import ServerSession
    from stylegram.serve.server import SERVE_DEFAULTS
    from stylegram.settings import StylizeSettings

    assert TRITON_DEFAULTS.name == SERVE_DEFAULTS.name == StylizeSettings().server_model == DEFAULT_NAME
    assert ServerSession.__init__.__kwdefaults__["model_name"] == DEFAULT_NAME


def test_command_line_defaults_are_the_options_defaults():
    import typer.main

    from stylegram.cli import app
    from stylegram.serve.server import SERVE_DEFAULTS

    commands = typer.main.get_command(app).commands
    cli = {param.name: param.default for param in commands["serve"].params}
    shared = [f.name for f in fields(SERVE_DEFAULTS) if f.name in cli and f.name != "model"]
    assert len(shared) == 13, shared
    assert {name: cli[name] for name in shared} == {name: getattr(SERVE_DEFAULTS, name) for name in shared}
    for command, option in (("stylize", "server_model"), ("batch", "server_model"), ("export", "triton_name")):
        assert {p.name: p.default for p in commands[command].params}[option] == DEFAULT_NAME
    assert {p.name: p.default for p in commands["cache"].commands["add"].params}["server_model"] == DEFAULT_NAME


def test_cpu_repository_round_trips_through_tritons_schema(tmp_path, model):
    schema = model_config_schema()
    options = TritonOptions(name="tiny", max_batch=4, instances=2, threads=3, queue_delay_us=500)
    folder = write_repository(tmp_path / "repo", model, INFO, options)
    assert folder == tmp_path / "repo" / "tiny"
    assert sorted(snapshot(tmp_path / "repo")) == ["tiny/1/model.onnx", "tiny/config.pbtxt"]  # no staging left
    assert (folder / "1" / "model.onnx").read_bytes() == model.read_bytes()
    config = read_config(folder / "config.pbtxt")
    assert (config.name, config.backend, config.max_batch_size) == ("tiny", "onnxruntime", 4)
    tensors = {t.name: (schema.DataType.Name(t.data_type), list(t.dims)) for t in (*config.input, *config.output)}
    assert [t.name for t in config.input] == [INPUT_NAME]
    assert tensors == {INPUT_NAME: ("TYPE_FP32", [3, -1, -1]), "relu1_1": ("TYPE_FP32", [3, -1, -1]),
                       "gram_relu1_1": ("TYPE_FP32", [3, 3])}
    assert [(g.count, g.kind) for g in config.instance_group] == [(2, schema.ModelInstanceGroup.KIND_CPU)]
    assert list(config.dynamic_batching.preferred_batch_size) == [2, 4]
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    parameters = {key: value.string_value for key, value in config.parameters.items()}
    assert parameters == {"intra_op_thread_count": "3", "inter_op_thread_count": "1", **INFO.to_props()}
    assert not config.HasField("optimization")


def test_gpu_repository_has_tensorrt_profiles(tmp_path, model):
    schema = model_config_schema()
    config = read_config(write_repository(tmp_path, model, INFO, TritonOptions(kind="gpu", trt_fp16=False))
                         / "config.pbtxt")
    assert config.name == DEFAULT_NAME and config.max_batch_size == 8
    assert [(g.count, g.kind) for g in config.instance_group] == [(1, schema.ModelInstanceGroup.KIND_GPU)]
    (accelerator,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt"
    assert accelerator.parameters["precision_mode"] == "FP32"
    assert {k: accelerator.parameters[f"trt_profile_{k}_shapes"] for k in ("min", "opt", "max")} == {
        "min": "image:1x3x64x64", "opt": "image:4x3x512x512", "max": "image:8x3x1024x1024"}
    assert "intra_op_thread_count" not in config.parameters


def test_validate_refuses_text_that_disagrees_with_the_graph(model):
    signature = graph_signature(model)
    config = config_message(INFO, signature, TRITON_DEFAULTS)
    assert validate(config_text(config), signature, TRITON_DEFAULTS) == config
    config.output[0].dims[0] = 64
    with pytest.raises(ModelFileError, match=r"relu1_1: config \('TYPE_FP32', \(64, -1, -1\)\) vs graph"):
        validate(config_text(config), signature, TRITON_DEFAULTS)
    with pytest.raises(ModelFileError, match="max_batch_size 8 vs --max-batch 2"):
        validate(config_text(config_message(INFO, signature, TRITON_DEFAULTS)), signature, TritonOptions(max_batch=2))
    with pytest.raises(ModelFileError, match="does not parse as Triton's ModelConfig"):
        validate('name: "x" max_batch_size: "eight"', signature, TRITON_DEFAULTS)
    with pytest.raises(ModelFileError, match="does not parse as Triton's ModelConfig"):
        validate("instance_group [ { kind: KIND_TPU } ]", signature, TRITON_DEFAULTS)


@pytest.mark.parametrize("broken", ["int64 output", "no image input", "config off the graph"])
def test_a_broken_config_writes_nothing(tmp_path, model, monkeypatch, broken):
    if broken == "int64 output":
        model, match = tiny_model(tmp_path / "int.onnx", int_output=True), "tensor shape is tensor\\(int64\\)"
    elif broken == "no image input":
        model, match = tiny_model(tmp_path / "photo.onnx", input_name="photo"), "has no input named image"
    else:  # the printed text loses an output: validation must catch it before writing
        real = triton_repo.config_text
        monkeypatch.setattr(triton_repo, "config_text", lambda c: real(c).replace('name: "gram_relu1_1"', 'name: "x"'))
        match = "gram_relu1_1: config None vs graph"
    with pytest.raises(ModelFileError, match=match) as raised:
        write_repository(tmp_path / "repo", model, INFO, TRITON_DEFAULTS)
    assert "nothing written" in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "repo").exists()


def test_a_failed_write_leaves_the_previous_repository(tmp_path, model, monkeypatch):
    root = tmp_path / "repo"
    write_repository(root, model, INFO, TritonOptions(max_batch=4))
    before = snapshot(root)
    with pytest.raises(ModelFileError):  # refused before writing
        write_repository(root, tiny_model(tmp_path / "int.onnx", int_output=True), INFO, TRITON_DEFAULTS)
    assert snapshot(root) == before

    def copy_then_fail(source, target):  # a disk that fills up halfway through the model
        target.write_bytes(source.read_bytes()[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(triton_repo.shutil, "copyfile", copy_then_fail)
    with pytest.raises(OSError, match="No space left"):
        write_repository(root, model, INFO, TRITON_DEFAULTS)
    assert snapshot(root) == before and sorted(p.name for p in root.iterdir()) == [DEFAULT_NAME]


def test_rewriting_replaces_the_whole_model_folder(tmp_path, model):
    root = tmp_path / "repo"
    write_repository(root, model, INFO, TritonOptions(max_batch=4))
    write_repository(root, model, INFO, TritonOptions(max_batch=16))
    assert read_config(root / DEFAULT_NAME / "config.pbtxt").max_batch_size == 16
    assert sorted(snapshot(root)) == [f"{DEFAULT_NAME}/1/model.onnx", f"{DEFAULT_NAME}/config.pbtxt"]
    (root / DEFAULT_NAME / "2").mkdir()  # a version someone else put there is not deleted silently
    before = snapshot(root)
    with pytest.raises(InputError, match=r"holds what stylegram did not write \(2\)"):
        write_repository(root, model, INFO, TRITON_DEFAULTS)
    assert snapshot(root) == before and (root / DEFAULT_NAME / "2").is_dir()


def test_options_are_checked():
    for kwargs, message in (({"name": "a b"}, "--triton-name a b"), ({"kind": "tpu"}, "--triton-kind must be"),
                            ({"max_batch": 0}, "--max-batch must be >= 1")):
        with pytest.raises(InputError, match=message):
            TritonOptions(**kwargs)


def test_library_path_is_added_only_where_the_loader_misses_our_libpython(tmp_path, monkeypatch):
    import sysconfig

    from stylegram.serve import stub_env

    ours = tmp_path / "libpython3.11.so.1.0"
    ours.write_bytes(b"")
    config = {"LIBDIR": str(tmp_path), "INSTSONAME": ours.name, "Py_ENABLE_SHARED": 1}
    monkeypatch.setattr(sysconfig, "get_config_var", config.get)
    env = {"LD_LIBRARY_PATH": "/opt/mine"}
    for found, wanted in ((ours, None), (Path("/usr/lib/libpython3.11.so.1.0"), f"{tmp_path}:/opt/mine"),
                          (None, f"{tmp_path}:/opt/mine")):
        monkeypatch.setattr(stub_env, "_loader_finds", lambda soname, environ, found=found: found)
        assert stub_env.stub_library_path(env) == wanted, found
    assert stub_env.stub_library_path({}) == str(tmp_path)
    config["Py_ENABLE_SHARED"] = 0  # a static libpython: nothing in LIBDIR for the stub
    assert stub_env.stub_library_path(env) is None


def test_child_environment_restores_the_parent(monkeypatch):
    from stylegram.serve.stub_env import child_environment

    monkeypatch.setenv("STYLEGRAM_TEST_VAR", "parent")
    with child_environment("STYLEGRAM_TEST_VAR", "child"):
        assert subprocess.run(["sh", "-c", "echo $STYLEGRAM_TEST_VAR"], capture_output=True, text=True,
                              timeout=30, check=False).stdout == "child\n"
    assert os.environ["STYLEGRAM_TEST_VAR"] == "parent"
    monkeypatch.delenv("STYLEGRAM_TEST_VAR")
    with pytest.raises(RuntimeError), child_environment("STYLEGRAM_TEST_VAR", "child"):
        raise RuntimeError
    assert "STYLEGRAM_TEST_VAR" not in os.environ


def test_another_pytriton_version_is_one_clear_error(monkeypatch):
    import importlib.metadata

    from stylegram.errors import StylegramError
    from stylegram.serve.pytriton_parts import check_pytriton_version

    check_pytriton_version()  # the installed one (pinned in pyproject) passes
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.8.1")
    with pytest.raises(StylegramError) as raised:
        check_pytriton_version()
    message = str(raised.value)
    assert "\n" not in message and "nvidia-pytriton 0.7.x" in message and "found 0.8.1" in message, message
