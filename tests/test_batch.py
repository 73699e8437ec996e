"""`stylegram batch` and `cache add --ray` on a local Ray cluster limited to this machine's cores."""

from __future__ import annotations

import json
import os

import pytest

from stylegram.cli import main
from stylegram.images import read_recipe

from .conftest import CONTENT, STYLE


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """One local cluster for the module (the commands join it instead of starting their own)."""
    import ray

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             object_store_memory=256 * 2**20)
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

    code, _ = _batch([manifest, "-o", out, *common], capsys)  # a rerun recomputes nothing
    assert code == 1 and [s["status"] for s in _summary(out).values()] == ["skipped", "skipped", "failed"]
    assert {name: (out / name).stat().st_mtime_ns for name in outputs} == before

    rows[1] = f"{STYLE},{CONTENT},32"  # one item's option changes: exactly that item reruns
    manifest.write_text("content,styles,size\n" + "\n".join(rows) + "\n")
    code, _ = _batch([manifest, "-o", out, *common], capsys)
    assert [s["status"] for s in _summary(out).values()] == ["skipped", "done", "failed"]
    assert read_recipe(out / "starry_night--tubingen.png")["settings"]["size"] == 32
    assert (out / "tubingen--starry_night.png").stat().st_mtime_ns == before["tubingen--starry_night.png"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_batch_grid_and_bad_arguments(ray_cluster, tmp_path, capsys):
    contents, styles = tmp_path / "c", tmp_path / "s"
    contents.mkdir(), styles.mkdir()
    (contents / "a.jpg").write_bytes(CONTENT.read_bytes())
    (styles / "b.jpg").write_bytes(STYLE.read_bytes())
    code, err = _batch(["--contents", contents, "--styles", styles, "-o", tmp_path / "g", "--size", "32",
                        "--iterations", "2", "--quiet"], capsys)
    assert code == 0 and (tmp_path / "g" / "a--b.png").exists(), err
    code, err = _batch(["-o", tmp_path / "x"], capsys)
    assert code == 2 and "give a MANIFEST, or --contents DIR and --styles DIR" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("content,styles,colour\na.jpg,b.jpg,red\n")
    code, err = _batch([bad, "-o", tmp_path / "x"], capsys)
    assert code == 2 and "unknown column colour" in err


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


def test_worker_plan_fills_the_cores_within_memory():
    from stylegram.batch.ray_runner import plan_workers

    assert plan_workers(2, 0, 0) == (2, 1)  # measured best here: one thread per worker
    assert plan_workers(2, 1, 0) == (1, 2) and plan_workers(8, 0, 2) == (4, 2) and plan_workers(4, 3, 1) == (3, 1)
    assert plan_workers(32, 0, 0, memory=10 * 2**30, per_worker=2 * 2**30) == (5, 1)  # memory, not cores, limits
    assert plan_workers(32, 0, 0, memory=2**30, per_worker=2 * 2**30) == (1, 1)  # at least one


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
