"""Load on a real Triton server (`stylegram serve`): throughput and latency percentiles for 1, 4 and 16
concurrent clients, with Triton's dynamic batching on and off, against the in-process ONNX Runtime
session measured in the same run (the baseline: no server, no network, one caller).

Each request is one square image; the server returns the five style Grams (what a Gram cache needs).
Each client sends one warm-up request first; the clock starts when all have had their answer, so
every request timed is counted. Each row also has the CPU seconds per image that the server's
processes (``stylegram serve``, tritonserver, the python backend stub) and the clients' process
used: on a machine with C cores, C / (their sum) bounds the throughput. Servers run on free loopback
ports and are stopped by their PID; every loop is bounded in requests and seconds. Clients and
server share this machine's cores, as they would on one host.

    .venv/bin/python benchmarks/serve_load.py --json bench-out/serve.json --plot bench-out/serve.png
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from stylegram.serve import DEFAULT_NAME as MODEL  # what `stylegram serve` serves by default

OUTPUTS = [f"gram_relu{i}_1" for i in range(1, 6)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentiles(latencies: list[float]) -> dict:
    p50, p99 = np.percentile(latencies, [50, 99])
    return {"p50_ms": 1000 * float(p50), "p99_ms": 1000 * float(p99), "requests": len(latencies)}


def baseline(model: Path, image: np.ndarray, requests: int, seconds: float) -> dict:
    """The in-process ONNX Runtime session, called serially (after two warm-up runs)."""
    from stylegram.runtime.sessions import Provider, SessionConfig, build_session

    session = build_session(model, SessionConfig(provider=Provider.CPU))
    for _ in range(2):
        session.run(image, OUTPUTS)
    latencies, started, cpu = [], time.perf_counter(), time.process_time()
    while len(latencies) < requests and time.perf_counter() - started < seconds:
        begun = time.perf_counter()
        session.run(image, OUTPUTS)
        latencies.append(time.perf_counter() - begun)
    return {"images_per_s": len(latencies) / (time.perf_counter() - started), **percentiles(latencies),
            "server_cpu_s_per_image": (time.process_time() - cpu) / len(latencies), "client_cpu_s_per_image": 0.0}


def start_server(model: Path, batching: bool, log: Path, extra: list[str]) -> tuple[subprocess.Popen, int]:
    ports = [free_port() for _ in range(3)]
    proc = subprocess.Popen([sys.executable, "-m", "stylegram", "serve", "--model", str(model), "--quiet",
                             "--http-port", str(ports[0]), "--grpc-port", str(ports[1]), "--metrics-port",
                             str(ports[2]), "--log-file", str(log), "--batching" if batching else "--no-batching",
                             *extra], stderr=subprocess.DEVNULL)
    import tritonclient.http as client

    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        try:
            if client.InferenceServerClient(f"127.0.0.1:{ports[0]}").is_model_ready(MODEL):
                return proc, ports[0]
        except Exception:  # not listening yet
            pass
        time.sleep(0.3)
    stop_server(proc)
    raise SystemExit("the server did not become ready within 180 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants (Linux /proc; 0 elsewhere)."""
    stats = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[1].split()
            stats[int(path.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
        except (OSError, ValueError, IndexError):  # a process that ended meanwhile
            continue
    tree = {pid}
    for _ in range(8):  # serve -> tritonserver -> stub: a few levels
        tree |= {child for child, (parent, _) in stats.items() if parent in tree}
    ticks = sum(stats[p][1] for p in tree if p in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def load(port: int, server_pid: int, image: np.ndarray, clients: int, requests: int, seconds: float) -> dict:
    """``clients`` threads, each with its own connection, share ``requests`` requests (at most ``seconds``,
    timed from when every client has had its warm-up answer)."""
    import tritonclient.http as client

    latencies: list[float] = []
    errors: list[str] = []
    lock, remaining = threading.Lock(), [requests]
    clock: dict[str, float] = {}

    def start_clock() -> None:  # run by the barrier before it lets any client go
        clock.update(started=time.perf_counter(), server_cpu=tree_cpu_seconds(server_pid),
                     client_cpu=time.process_time())

    warmed = threading.Barrier(clients + 1, action=start_clock)

    def worker() -> None:
        triton = client.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=300)
        request = client.InferInput("image", list(image.shape), "FP32")
        request.set_data_from_numpy(image)
        wanted = [client.InferRequestedOutput(name) for name in OUTPUTS]
        triton.infer(MODEL, [request], outputs=wanted)  # warm-up: connection, first batch
        warmed.wait(300)
        while time.perf_counter() < clock["started"] + seconds:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            begun = time.perf_counter()
            try:
                triton.infer(MODEL, [request], outputs=wanted)
                with lock:
                    latencies.append(time.perf_counter() - begun)
            except Exception as exc:  # counted, not hidden
                errors.append(str(exc)[:200])
        triton.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    warmed.wait(300 + seconds)
    for thread in threads:
        thread.join(seconds + 300)
    elapsed = time.perf_counter() - clock["started"]
    done = max(len(latencies), 1)
    return {"images_per_s": len(latencies) / elapsed, "errors": len(errors), **percentiles(latencies),
            "server_cpu_s_per_image": (tree_cpu_seconds(server_pid) - clock["server_cpu"]) / done,
            "client_cpu_s_per_image": (time.process_time() - clock["client_cpu"]) / done}


def plot(rows: list[dict], path: Path) -> None:
    from stylegram.bench.report import bar_chart, save_figure

    labels = [f"{r['size']}px {r['mode']}" + (f" x{r['clients']}" if r["clients"] else "") for r in rows]
    save_figure(bar_chart(labels, [r["images_per_s"] for r in rows], xlabel="images/s (higher is better)",
                          title="stylegram serve: Triton (PyTriton) vs in-process ONNX Runtime"), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--requests", type=int, default=32, help="per row (at least 2 per client)")
    parser.add_argument("--seconds", type=float, default=60.0, help="at most, per row")
    parser.add_argument("--modes", default="on,off", help="Triton's dynamic batching: on, off or both")
    parser.add_argument("--serve-args", default="", help="more `stylegram serve` options, e.g. '--threads 1'")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    from stylegram.bench.machine import machine_info
    from stylegram.export.managed import managed_model
    from stylegram.export.verify import sample_image
    from stylegram.settings import StylizeSettings
    from stylegram.weights import load_weights

    sizes, client_counts = [int(s) for s in args.sizes.split(",")], [int(c) for c in args.clients.split(",")]
    model = managed_model(StylizeSettings(), load_weights())
    images = {size: sample_image(None, size, size) for size in sizes}
    rows = [{"mode": "in-process ORT", "size": size, "clients": 0, "load_average": os.getloadavg()[0],
             **baseline(model, images[size], args.requests, args.seconds)} for size in sizes]
    for mode in args.modes.split(","):
        proc, port = start_server(model, mode == "on", Path(os.devnull), shlex.split(args.serve_args))
        try:
            for size in sizes:
                for clients in client_counts:
                    loadavg = os.getloadavg()[0]  # before the row: what else this machine was running
                    result = load(port, proc.pid, images[size], clients, max(args.requests, 2 * clients),
                                  args.seconds)
                    rows.append({"mode": f"batching {mode}", "size": size, "clients": clients,
                                 "load_average": loadavg, **result})
                    print(json.dumps(rows[-1]), flush=True)
        finally:
            stop_server(proc)
    report(rows)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_info(), "command": sys.argv[1:],
                                         "serve_args": args.serve_args, "rows": rows}, indent=2))
    if args.plot:
        plot(rows, args.plot)


def report(rows: list[dict]) -> None:
    base = {r["size"]: r["images_per_s"] for r in rows if r["clients"] == 0}
    print(f"\n{'size':>5} {'mode':<15} {'clients':>7} {'img/s':>7} {'vs in-process':>13} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'server CPU s/img':>16} {'client CPU s/img':>16} {'load':>5}")
    for r in rows:
        print(f"{r['size']:>5} {r['mode']:<15} {r['clients'] or '-':>7} {r['images_per_s']:>7.2f} "
              f"{r['images_per_s'] / base[r['size']]:>12.2f}x {r['p50_ms']:>8.0f} {r['p99_ms']:>8.0f}"
              f" {r['server_cpu_s_per_image']:>16.2f} {r['client_cpu_s_per_image']:>16.2f} {r['load_average']:>5.1f}")


if __name__ == "__main__":
    main()
