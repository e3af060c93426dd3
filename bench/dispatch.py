"""bench/dispatch: does every worker stay busy, and does /ping stay fast while they are?

12 simulated workers x 200 ms (SDXL_BACKEND=simulated: sleeps like a busy chip, no CPU), so the ideal
is 60 requests/s. At concurrency 12, 24 and 48: achieved throughput / ideal, p50/p99 queue wait, and
/ping p50/p99 probed every 50 ms during the load. The same load runs against the naive alternative
(gunicorn sync workers, one model each, kernel accept balancing) in the same run.
Targets: >= 0.98 of ideal, /ping p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.harness import percentile, ping_prober, run_load, save, table, wait_ready
from tests.server import Server, free_port

WORKERS, SECONDS = 12, 0.2


def measure(port: int, concurrency: int, total: int, queue_from_json: bool) -> dict[str, Any]:
    accept = "application/json" if queue_from_json else "image/png"
    with ping_prober(port) as pings:
        result = run_load(port, total, concurrency, accept=accept)
    if queue_from_json:
        waits = [json.loads(s.body)["timings_ms"]["queue"] for s in result.samples if s.status == 200]
    else:  # the naive server reports nothing: its wait is the latency beyond the device time
        waits = [max(0.0, s.latency_s - SECONDS) * 1e3 for s in result.samples]
    return {
        "concurrency": concurrency,
        "requests": len(result.samples),
        "ok": result.ok,
        "throughput": result.throughput,
        "efficiency": result.throughput / (WORKERS / SECONDS),
        "queue_p50_ms": percentile(waits, 50),
        "queue_p99_ms": percentile(waits, 99),
        "ping_p50_ms": percentile(pings, 50) * 1e3,
        "ping_p99_ms": percentile(pings, 99) * 1e3,
        "pings": len(pings),
    }


def ours(model: Path, levels: list[int], total: int) -> list[dict[str, Any]]:
    logs = Path("bench/results/logs")
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        "SDXL_BACKEND": "simulated",
        "SDXL_WORKERS": str(WORKERS),
        "SDXL_SIMULATED_SECONDS": str(SECONDS),
        "SDXL_MAX_QUEUE": "256",
        "SDXL_LOG_LEVEL": "warning",
    }
    server = Server(model, logs, env=env)
    try:
        server.wait_ping(200)
        run_load(server.port, WORKERS * 2, WORKERS)  # warm every worker
        return [measure(server.port, c, total, queue_from_json=True) for c in levels]
    finally:
        server.stop()
        server.close()


def naive(levels: list[int], total: int) -> list[dict[str, Any]]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(WORKERS),
        "-k",
        "sync",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "bench.naive_app:app",
    ]
    env = {**os.environ, "SDXL_SIMULATED_SECONDS": str(SECONDS)}
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        wait_ready(port)
        run_load(port, WORKERS * 2, WORKERS)
        return [measure(port, c, total, queue_from_json=False) for c in levels]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/tiny-sdxl"))
    parser.add_argument("--requests", type=int, default=240)
    args = parser.parse_args()
    levels = [12, 24, 48]
    results = {
        "sdxl-inf2 (front + shared queue + 12 spawned workers)": ours(args.model, levels, args.requests),
        "naive (gunicorn 12 sync workers)": naive(levels, args.requests),
    }
    rows = [
        [
            name,
            r["concurrency"],
            f"{r['efficiency']:.3f}",
            f"{r['queue_p50_ms']:.1f} / {r['queue_p99_ms']:.1f}",
            f"{r['ping_p50_ms']:.1f} / {r['ping_p99_ms']:.1f}",
            f"{r['ok']}/{r['requests']}",
        ]
        for name, runs in results.items()
        for r in runs
    ]
    print(
        f"\nbench/dispatch ({WORKERS} simulated workers x {SECONDS * 1e3:.0f} ms, ideal {WORKERS / SECONDS:.0f} req/s, "
        f"{args.requests} requests per level)"
    )
    print(
        table(
            ["design", "concurrency", "throughput / ideal", "queue wait p50 / p99 ms", "/ping p50 / p99 ms", "ok"], rows
        )
    )
    mine = next(iter(results.values()))
    worst = min(r["efficiency"] for r in mine)
    ping = max(r["ping_p99_ms"] for r in mine)
    print(
        f"targets: throughput >= 0.98 of ideal ({'met' if worst >= 0.98 else f'MISSED: {worst:.3f}'}), "
        f"/ping p99 <= 50 ms ({'met' if ping <= 50 else f'MISSED: {ping:.1f} ms'})"
    )
    save("dispatch", {"workers": WORKERS, "seconds": SECONDS, "results": results})


if __name__ == "__main__":
    main()
