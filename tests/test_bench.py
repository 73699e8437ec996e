"""`stylegram bench` at a tiny size: JSON structure, parity of every present provider, GPU paths."""

import json

import pytest
import torch

from stylegram.cli import main


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    args = ["bench", "--sizes", "32", "--repeats", "1", "--warmup", "1", "--loop-repeats", "1",
            "--loop-precision", "fp32,bf16", "--json", str(out / "b.json"), "--plot", str(out / "b.png")]
    main(args)
    return json.loads((out / "b.json").read_text()), out / "b.png"


@pytest.mark.slow
def test_json_structure(bench_json):
    data, plot = bench_json
    assert {"machine", "options", "features", "loop", "matmul_gflops"} <= set(data)
    assert {"cpu", "cores", "torch", "onnxruntime"} <= set(data["machine"])
    engines = {(row["engine"], row["precision"]) for row in data["features"]}
    assert {("torch-cpu", "fp32"), ("ort-cpu", "fp32"), ("ort-cpu", "fp16"), ("ort-cuda", "fp32"),
            ("ort-tensorrt", "fp32")} <= engines
    for row in data["features"]:
        if row["available"]:
            assert {"median_s", "p10_s", "p90_s", "first_s"} <= set(row["timing"])
            assert row["timing"]["p10_s"] <= row["timing"]["median_s"] <= row["timing"]["p90_s"]
            assert row["images_per_s"] > 0 and row["build_s"] >= 0
        else:
            assert row["reason"]  # listed with the reason, not dropped
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_present_provider_passes_parity(bench_json):
    data, _ = bench_json
    present = [row for row in data["features"] if row["available"]]
    assert present and all(row["parity_ok"] for row in present), [(r["engine"], r["parity"]) for r in present]


def test_loop_rows_have_flops(bench_json):
    data, _ = bench_json
    cpu = [row for row in data["loop"] if row["device"] == "cpu" and row["available"]]
    assert {row["precision"] for row in cpu} == {"fp32", "bf16"}
    for row in cpu:
        assert row["gflops"] > 0 and row["gflop_per_iteration"] == pytest.approx(
            row["gflops"] * row["s_per_iteration"])
    assert data["matmul_gflops"]["cpu"] > 0


def test_bad_bench_options(capsys):
    for args, fragment in ((["--sizes", "8"], "--sizes must be at least 32"),
                           (["--providers", "rocm"], "--providers: choose from"),
                           (["--precision", "int8"], "--precision: choose from")):
        with pytest.raises(SystemExit) as info:
            main(["bench", *args])
        assert info.value.code == 2
        assert fragment in capsys.readouterr().err


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


@needs_cuda
def test_gpu_paths_present_and_correct(bench_json):
    data, _ = bench_json
    rows = {(r["engine"], r["precision"]): r for r in data["features"]}
    assert rows[("torch-cuda", "fp32")]["available"] and rows[("torch-cuda", "fp32")]["parity_ok"]
    assert any(r["device"] == "cuda" and r["available"] for r in data["loop"])


@needs_cuda
def test_stylize_on_cuda():
    from stylegram.engine import stylize
    from stylegram.settings import StylizeSettings

    from .conftest import CONTENT, STYLE

    result = stylize(CONTENT, [STYLE], StylizeSettings(size=64, iterations=20, device="cuda"))
    assert result.losses["style"] < 0.2
