"""make soak: the tiny SDXL under steady load (concurrency 2 x workers) for 10 minutes.
Pass: 0 errors, and the resident memory of every process (master, front, each worker) grows by
less than 5% between the end of the warm-up and the end. Prints the table; exit 1 on a miss."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psutil

from bench.harness import run_load, save, table
from tests.server import Server

GROWTH_LIMIT = 0.05


def processes(server: Server) -> dict[str, psutil.Process]:
    master = psutil.Process(server.proc.pid)
    workers = {pid for pid in server.worker_pids()}
    named = {"master": master}
    for child in master.children(recursive=True):
        if child.pid in workers:
            named[f"worker {child.pid}"] = child
        elif "resource_tracker" in " ".join(child.cmdline()):
            named[f"multiprocessing resource tracker {child.pid}"] = child
        else:
            named[f"front {child.pid}"] = child
    return named


def rss_mib(procs: dict[str, psutil.Process]) -> dict[str, float]:
    return {name: proc.memory_info().rss / 2**20 for name, proc in procs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/tiny-sdxl"))
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logs = Path("bench/results/logs")
    logs.mkdir(parents=True, exist_ok=True)
    server = Server(
        args.model, logs, env={"SDXL_BACKEND": "torch", "SDXL_WORKERS": str(args.workers), "SDXL_LOG_LEVEL": "warning"}
    )
    try:
        server.wait_ping(200)
        procs = processes(server)
        concurrency = 2 * args.workers
        warmup_s = min(60.0, args.minutes * 6)
        warm = run_load(server.port, 10**9, concurrency, until=time.monotonic() + warmup_s)
        before = rss_mib(procs)
        load = run_load(server.port, 10**9, concurrency, until=time.monotonic() + args.minutes * 60 - warmup_s)
        after = rss_mib(procs)
        alive = all(p.is_running() for p in procs.values()) and server.worker_pids() == [
            p.pid for n, p in procs.items() if n.startswith("worker")
        ]
    finally:
        server.stop()
        server.close()
    return report(args, warm.ok + load.ok, len(warm.samples) + len(load.samples), before, after, alive)


def report(
    args: argparse.Namespace, ok: int, total: int, before: dict[str, float], after: dict[str, float], alive: bool
) -> int:
    growth = {name: (after[name] - before[name]) / before[name] for name in before}
    rows = [[name, f"{before[name]:.0f}", f"{after[name]:.0f}", f"{growth[name] * 100:+.2f}%"] for name in before]
    print(
        f"\nmake soak: {args.minutes:g} min, {args.workers} workers, concurrency {2 * args.workers}: "
        f"{ok}/{total} requests ok, {total - ok} errors, same processes throughout: {alive}"
    )
    print(table(["process", "RSS after warm-up MiB", "RSS at end MiB", "growth"], rows))
    passed = ok == total and alive and all(g < GROWTH_LIMIT for g in growth.values())
    save(
        "soak",
        {
            "minutes": args.minutes,
            "requests": total,
            "ok": ok,
            "rss_before_mib": before,
            "rss_after_mib": after,
            "growth": growth,
            "passed": passed,
        },
    )
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
