"""`stylegram batch` and `cache add --ray` on a local Ray cluster limited to this machine's cores; how a batch
plans workers and memory, and how it recognises finished items (no Ray). Joining clusters: test_batch_cluster.py."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from stylegram.batch.manifest import BatchItem
from stylegram.cli import main
from stylegram.images import read_recipe
from stylegram.settings import StylizeSettings

from .conftest import CONTENT, STYLE


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """One local cluster for the module (the commands use it instead of starting their own)."""
    import ray

    from stylegram.batch.ray_cluster import start_ray

    assert start_ray(None, cpus=os.cpu_count())
    yield ray
    ray.shutdown()


def _batch(args, capsys) -> tuple[int, str]:
    try:
        main(["batch", *map(str, args)])
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def _summary(folder) -> dict[str, dict]:
    return {item["name"]: item for item in json.loads((folder / "batch-summary.json").read_text())["items"]}


@pytest.mark.slow
def test_batch_reports_the_bad_item_keeps_the_good_ones_and_reruns_only_what_changed(ray_cluster, tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(CONTENT.read_bytes()[:20000])
    manifest = tmp_path / "items.csv"
    rows = [f"{CONTENT},{STYLE},", f"{STYLE},{CONTENT},", f"{broken},{STYLE},"]
    manifest.write_text("content,styles,size\n" + "\n".join(rows) + "\n")
    out, common = tmp_path / "out", ["--size", "40", "--iterations", "4", "--quiet"]
    code, err = _batch([manifest, "-o", out, *common], capsys)
    assert code == 1 and "1 of 3 items failed (broken--starry_night)" in err, err
    summary = _summary(out)
    assert [s["status"] for s in summary.values()] == ["done", "done", "failed"]
    assert "broken.jpg" in summary["broken--starry_night"]["error"]
    outputs = sorted(p.name for p in out.glob("*.png"))
    assert outputs == ["starry_night--tubingen.png", "tubingen--starry_night.png"]
    assert all(read_recipe(out / name)["settings"]["size"] == 40 for name in outputs)  # each with its recipe
    before = {name: (out / name).stat().st_mtime_ns for name in outputs}

    # a rerun recomputes nothing, whatever memory and threads it has
    code, _ = _batch([manifest, "-o", out, *common, "--memory", "3", "--cpus-per-worker", "1"], capsys)
    assert code == 1 and [s["status"] for s in _summary(out).values()] == ["skipped", "skipped", "failed"]
    assert {name: (out / name).stat().st_mtime_ns for name in outputs} == before

    rows[1] = f"{STYLE},{CONTENT},32"  # one item's option changes: exactly that item reruns
    manifest.write_text("content,styles,size\n" + "\n".join(rows) + "\n")
    code, _ = _batch([manifest, "-o", out, *common], capsys)
    assert [s["status"] for s in _summary(out).values()] == ["skipped", "done", "failed"], _summary(out)
    assert read_recipe(out / "starry_night--tubingen.png")["settings"]["size"] == 32
    assert (out / "tubingen--starry_night.png").stat().st_mtime_ns == before["tubingen--starry_night.png"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.mark.slow
def test_batch_grid_and_bad_arguments(ray_cluster, tmp_path, capsys):
    contents, styles = tmp_path / "c", tmp_path / "s"
    contents.mkdir(), styles.mkdir()
    (contents / "a.jpg").write_bytes(CONTENT.read_bytes())
    (styles / "b.jpg").write_bytes(STYLE.read_bytes())
    grid = ["--contents", contents, "--styles", styles, "--iterations", "2", "--scales", "1"]
    code, err = _batch([*grid, "-o", tmp_path / "g", "--size", "160", "--tile", "64", "--memory", "4"], capsys)
    assert code == 0 and (tmp_path / "g" / "a--b.png").exists(), err
    printed = [line for line in err.splitlines() if line.startswith("plan: ")]  # the plan that ran, as printed
    assert len(printed) == 1 and printed[0].startswith("plan: a--b: 160x120: tiles of 64 px (+80 px halo), L-BFGS "
                                                       "history 100, about "), err
    assert read_recipe(tmp_path / "g" / "a--b.png")["plan"] == [{"tile": 64, "lbfgs_history": 100}]
    code, err = _batch([*grid, "-o", tmp_path / "small", "--size", "32", "--memory", "0.5", "--quiet"], capsys)
    assert code == 1 and "--memory: computing the targets" in _summary(tmp_path / "small")["a--b"]["error"], err
    code, err = _batch(["-o", tmp_path / "x"], capsys)
    assert code == 2 and "give a MANIFEST, or --contents DIR and --styles DIR" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("content,styles,colour\na.jpg,b.jpg,red\n")
    code, err = _batch([bad, "-o", tmp_path / "x"], capsys)
    assert code == 2 and "unknown column colour" in err


@pytest.mark.slow
def test_cache_add_on_ray_writes_the_same_entries_as_sequential(ray_cluster, tmp_path, monkeypatch, capsys):
    from stylegram.runtime.cache import GramCache, read_entry

    styles = tmp_path / "styles"
    styles.mkdir()
    for image in (CONTENT, STYLE):
        (styles / image.name).write_bytes(image.read_bytes())
    entries = {}
    for mode, extra in (("sequential", []), ("ray", ["--ray", "--workers", "2"])):
        monkeypatch.setenv("STYLEGRAM_HOME", str(tmp_path / mode))
        main(["cache", "add", str(styles), "--size", "64", "--quiet", *extra])
        entries[mode] = {p.name: p for p in GramCache().entry_paths()}
    assert sorted(entries["ray"]) == sorted(entries["sequential"]) and len(entries["ray"]) == 2

    for name, path in entries["sequential"].items():
        data, _ = read_entry(path)
        ray_data, _ = read_entry(entries["ray"][name])
        for layer in data:
            assert data[layer].tobytes() == ray_data[layer].tobytes(), (name, layer)


def test_each_item_is_planned_by_the_one_planner_within_its_workers_share():
    from stylegram.batch.planning import plan_batch
    from stylegram.engine import plan_scales
    from stylegram.memory_estimate import memory_budget

    settings = StylizeSettings(size=1024, iterations=1)
    items = [BatchItem("a", CONTENT, (STYLE,), settings), BatchItem("b", STYLE, (CONTENT,), settings)]
    plan = plan_batch(items, cores=2, workers=2, memory=4)  # `batch --memory 4 --workers 2`
    assert (plan.workers, plan.threads, plan.budget.bytes, plan.errors) == (2, 1, 2 * 2**30, {})
    scales = [p for plans in plan.plans.values() for p in plans]
    assert len(scales) == 6 and all(p.bytes <= 2 * 2**30 for p in scales)
    assert [p.tile is None for p in plan.plans["a"]] == [True, True, False]  # the share tiles the 1024 px scale
    assert plan.plans["a"] == tuple(plan_scales(CONTENT, settings, memory_budget(4, share=2)))
    # automatic: fewer workers than cores when their shares would not hold the targets (1.4 GiB at 1024 px)
    many = [replace(items[0], name=f"i{n}") for n in range(8)]
    huge = replace(items[0], name="huge", settings=replace(settings, size=4096))
    plan = plan_batch([*many, huge], cores=8, memory=4)
    assert (plan.workers, plan.budget.bytes) == (2, 2 * 2**30)  # 3 shares of 1.3 GiB would not
    assert list(plan.errors) == ["huge"] and "4096x3072" in plan.errors["huge"]  # fails alone, shrinks nothing
    assert plan_batch(many[:1], cores=8, memory=4).workers == 1  # no more workers than items


def test_item_key_is_the_key_of_the_recipe_it_gets_without_threads_or_memory(original_weights, tmp_path):
    from stylegram.batch.identity import item_key, recipe_key
    from stylegram.recipe import make_recipe
    from stylegram.weights import load_weights

    item = BatchItem("a", CONTENT, (STYLE,), StylizeSettings(size=64))
    key = item_key(item)
    worker = replace(item.settings, threads=3, memory=2.0)  # how a worker runs it
    assert recipe_key(make_recipe(worker, CONTENT, [STYLE], original_weights, "fp32", [1.0])) == key
    assert item_key(replace(item, settings=worker)) == key
    assert item_key(replace(item, settings=replace(item.settings, size=65))) != key
    assert item_key(replace(item, styles=(CONTENT,))) != key
    assert item_key(replace(item, content=tmp_path / "gone.jpg")).startswith("unreadable")
    randomized = replace(item, settings=replace(item.settings, weights="random"))
    recipe = make_recipe(randomized.settings, CONTENT, [STYLE], load_weights("random"), "fp32", [1.0])
    assert item_key(randomized) == recipe_key(recipe) != key


def test_worker_plan_fills_the_cores():
    from stylegram.batch.planning import plan_workers

    assert plan_workers(2, 0, 0) == (2, 1)  # measured best here: one thread per worker
    assert plan_workers(2, 1, 0) == (1, 2) and plan_workers(8, 0, 2) == (4, 2) and plan_workers(4, 3, 1) == (3, 1)


@pytest.mark.slow
def test_ctrl_c_keeps_finished_outputs_and_lists_the_rest(tmp_path):
    """A real process on its own local cluster, interrupted after its first output (bounded waits)."""
    import signal
    import subprocess
    import sys
    import time

    manifest = tmp_path / "items.csv"
    manifest.write_text("content,styles\n" + "".join(f"{CONTENT},{STYLE}\n" if i % 2 else f"{STYLE},{CONTENT}\n"
                                                     for i in range(2)) + f"{CONTENT},{CONTENT}\n{STYLE},{STYLE}\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "stylegram", "batch", str(manifest), "-o", str(out), "--size", "96",
                             "--iterations", "40", "--tol", "0", "--workers", "1", "--quiet"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not list(out.glob("*.png")):
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "finished outputs are kept" in err and "Traceback" not in err, err
    statuses = [s["status"] for s in _summary(out).values()]
    assert statuses[0] == "done" and set(statuses[1:]) == {"cancelled"}  # one worker: the first item finished
    assert sorted(p.name for p in out.iterdir()) == ["batch-summary.json", "starry_night--tubingen.png"]
