"""Host memory of a model worker: real `serve` on the tiny SDXL (torch backend, CPU), a few renders,
then each worker's resident size read from /proc: RSS, its peak (VmHWM), PSS (shared pages split
among the processes that map them) and private pages. Prints the table and what 24 workers (one per
NeuronCore on an inf2.48xlarge) take of its 768 GiB for this part; writes bench/results/worker_memory.json.

What it cannot show (no inf2): torch_neuronx and optimum imported, and the compiled parts loaded to
the host (docs/architecture.md#worker-layout adds those on paper)."""

from __future__ import annotations

import argparse
from pathlib import Path

import psutil
import requests

from bench.harness import machine, save, table
from tests.server import Server

INF2_48XLARGE_GIB = 768
WORKERS_ON_IT = 24  # one per NeuronCore


def memory_mib(pid: int) -> dict[str, float]:
    full = psutil.Process(pid).memory_full_info()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {
        "rss": full.rss / 2**20,
        "peak_rss": int(status["VmHWM"].split()[0]) / 1024,
        "pss": full.pss / 2**20,
        "private": full.uss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/tiny-sdxl"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logs = Path("bench/results/logs")
    logs.mkdir(parents=True, exist_ok=True)
    env = {"SDXL_BACKEND": "torch", "SDXL_WORKERS": str(args.workers), "SDXL_LOG_LEVEL": "warning"}
    server = Server(args.model, logs, env=env)
    try:
        server.wait_ping(200)
        for seed in range(2 * args.workers):  # every worker renders after its warm-up
            requests.post(server.url("/invocations"), json={"prompt": "a cat", "seed": seed}, timeout=120)
        workers = [memory_mib(pid) for pid in server.worker_pids()]
    finally:
        server.close()
    peak = max(w["peak_rss"] for w in workers)
    rows = [
        [f"worker {i}", *(round(w[k]) for k in ("rss", "peak_rss", "pss", "private"))] for i, w in enumerate(workers)
    ]
    print(table(["process", "RSS MiB", "peak RSS MiB", "PSS MiB", "private MiB"], rows))
    need = WORKERS_ON_IT * peak / 1024
    print(
        f"{WORKERS_ON_IT} workers x {peak:.0f} MiB peak = {need:.1f} GiB of {INF2_48XLARGE_GIB} GiB ({need / 768:.1%})"
    )
    save("worker_memory", {"machine": machine(), "model": str(args.model), "workers": workers, "gib_for_24": need})


if __name__ == "__main__":
    main()
