"""bench/peer: the same tiny pipeline (64x64, 2 steps, PNG) behind LitServe 0.2.19 and behind
sdxl-inf2, one worker each, same client, same run: requests per second and p50 at concurrency 1
and 4."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.harness import median, run_load, save, table, wait_ready
from tests.server import Server, free_port


def health_ok(port: int) -> bool:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    conn.request("GET", "/health")
    return conn.getresponse().status == 200


def measure(port: int, levels: list[int], total: int) -> list[dict[str, Any]]:
    run_load(port, 10, 1)  # warm-up
    rows = []
    for concurrency in levels:
        result = run_load(port, total, concurrency)
        rows.append(
            {
                "concurrency": concurrency,
                "rps": result.throughput,
                "p50_ms": median(result.latencies()) * 1e3,
                "ok": result.ok,
                "requests": len(result.samples),
            }
        )
    return rows


def litserve(model: Path, levels: list[int], total: int) -> list[dict[str, Any]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.litserve_app", str(model), str(port)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline_polls = 600
        for _ in range(deadline_polls):
            try:
                if health_ok(port):
                    break
            except OSError:
                pass
            __import__("time").sleep(0.2)
        return measure(port, levels, total)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def ours(model: Path, levels: list[int], total: int) -> list[dict[str, Any]]:
    logs = Path("bench/results/logs")
    logs.mkdir(parents=True, exist_ok=True)
    server = Server(model, logs, env={"SDXL_BACKEND": "torch", "SDXL_LOG_LEVEL": "warning"})
    try:
        server.wait_ping(200)
        wait_ready(server.port)
        return measure(server.port, levels, total)
    finally:
        server.stop()
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/tiny-sdxl"))
    parser.add_argument("--requests", type=int, default=80)
    args = parser.parse_args()
    levels = [1, 4]
    results = {
        "sdxl-inf2": ours(args.model, levels, args.requests),
        "LitServe 0.2.19": litserve(args.model, levels, args.requests),
    }
    rows = [
        [name, r["concurrency"], f"{r['rps']:.1f}", f"{r['p50_ms']:.1f}", f"{r['ok']}/{r['requests']}"]
        for name, runs in results.items()
        for r in runs
    ]
    print(f"\nbench/peer (tiny SDXL 64x64, 2 steps, PNG, one worker each, {args.requests} requests per level)")
    print(table(["server", "concurrency", "requests/s", "p50 ms", "ok"], rows))
    save("peer", {"results": results})


if __name__ == "__main__":
    main()
