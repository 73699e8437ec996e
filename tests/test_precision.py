"""``--precision auto`` on a CPU measures once per machine and keeps the faster precision."""

from __future__ import annotations

import json

import torch

from stylegram import precision
from stylegram.devices import resolve_precision
from stylegram.settings import StylizeSettings

from .conftest import CONTENT, STYLE


def stub_timer(fp32: float, bf16: float):
    calls = []

    def timer(kind: str) -> float:
        calls.append(kind)
        return {"fp32": fp32, "bf16": bf16}[kind]

    return timer, calls


def test_the_faster_precision_is_chosen_and_kept(private_home, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGRAM_HOME", str(tmp_path))
    amd_like, calls = stub_timer(fp32=0.448, bf16=0.258)  # the AMD EPYC figures: bf16 1.74x faster
    assert precision.cpu_precision(timer=amd_like) == "bf16"
    assert calls.count("fp32") == calls.count("bf16") == 1 + precision.PROBE_REPEATS  # warm-up + timed
    kept = json.loads((tmp_path / "precision.json").read_text())[precision.machine_key()]
    assert kept["precision"] == "bf16" and kept["fp32_s"] == 0.448
    again, calls = stub_timer(fp32=0.1, bf16=9.9)
    assert precision.cpu_precision(timer=again) == "bf16" and calls == []  # cached: not measured again
    assert resolve_precision("auto", torch.device("cpu")) == "bf16"
    intel_like, calls = stub_timer(fp32=0.286, bf16=0.443)  # the Xeon without AMX: bf16 1.55x slower
    assert precision.cpu_precision(timer=intel_like, remeasure=True) == "fp32" and calls
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"  # a forced choice is not measured


def test_the_recipe_records_the_measured_choice(tmp_path, monkeypatch):
    from stylegram.engine import stylize

    monkeypatch.setenv("STYLEGRAM_HOME", str(tmp_path))
    timer, _ = stub_timer(fp32=2.0, bf16=1.0)
    precision.cpu_precision(timer=timer)
    result = stylize(CONTENT, [STYLE], StylizeSettings(size=32, iterations=1, weights="random", targets="torch"))
    assert result.recipe["precision_used"] == "bf16" and result.recipe["settings"]["precision"] == "auto"


def test_a_real_measurement_is_quick_and_said_once(tmp_path, monkeypatch, capsys):
    from stylegram.cli import main

    monkeypatch.setenv("STYLEGRAM_HOME", str(tmp_path))
    main(["doctor"])
    assert "not measured yet" in capsys.readouterr().out
    main(["doctor", "--measure-precision"])
    captured = capsys.readouterr()
    notices = [line for line in captured.err.splitlines() if "precision auto: measured" in line]
    assert len(notices) == 1 and notices[0].startswith("stylegram: precision auto: measured a 128 px pass")
    decision = precision.cached_decision()
    assert decision["precision"] in ("fp32", "bf16") and 0 < decision["fp32_s"] < 5 and 0 < decision["bf16_s"] < 5
    assert f"precision auto         {decision['precision']} (fp32" in captured.out
    assert "stylegram doctor --measure-precision" in captured.out


def test_a_resumed_run_keeps_its_precision_when_the_decision_changes(tmp_path, monkeypatch):
    import numpy as np

    from stylegram.engine import stylize
    from stylegram.loop import Stop
    from stylegram.resume import save_snapshot

    monkeypatch.setenv("STYLEGRAM_HOME", str(tmp_path))
    precision.cpu_precision(timer=stub_timer(fp32=2.0, bf16=1.0)[0])  # bf16 on this "machine"
    settings = StylizeSettings(size=40, scales=1, iterations=6, tol=0, weights="random", targets="torch")
    full = stylize(CONTENT, [STYLE], settings)
    seen = []
    stopped = stylize(CONTENT, [STYLE], settings, callback=seen.append, should_stop=lambda: len(seen) == 3)
    assert stopped.stopped is Stop.INTERRUPTED and stopped.recipe["precision_used"] == "bf16"
    state = tmp_path / "run.resume.safetensors"
    save_snapshot(state, stopped.snapshot, stopped.recipe)
    precision.cpu_precision(timer=stub_timer(fp32=1.0, bf16=2.0)[0], remeasure=True)  # now fp32 is "faster"
    resumed = stylize(CONTENT, [STYLE], settings, resume=state)
    assert resumed.recipe["precision_used"] == "bf16"
    np.testing.assert_array_equal(resumed.image, full.image)
