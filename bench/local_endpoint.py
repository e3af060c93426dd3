"""bench/local_endpoint: how busy MaxConcurrentInvocationsPerInstance keeps an instance's workers.

One instance of 12 simulated workers x 200 ms (SDXL_BACKEND=simulated: sleeps like a busy chip),
so the ideal is 60 images/s. For MaxConcurrentInvocationsPerInstance = W, W+1, W+2 and 2W (W = 12),
`sdxl-inf2 local-endpoint` is started with that setting, warmed up, then sent a backlog of requests
through the real runtime API (boto3 InvokeEndpointAsync, one shared input object in S3). Throughput
is measured on the endpoint's own log: from the first dispatch to the last completion of the batch.
With a concurrency of W a worker idles for each dispatch round trip (container answer -> result
slot freed -> next request read from S3 -> POST); above W the container holds the next request.

The levels run in turn, twice (`--rounds`), each on a fresh endpoint; the table gives every
round. The notification topics are kept, the SQS queue is not: nothing reads it during the run,
and moto's SQS scans every stored message on each send (real SQS does not). The container's EMF
metrics are off: forwarding them stands in for CloudWatch Logs, which is not dispatch work. The CPU the endpoint
process and its moto spend per request is printed too: on a small shared machine it, not the
dispatch, can be what limits the throughput.

Invalid run (no verdict) when: a request did not complete, the median time in the container is
under the simulated 200 ms, or the throughput beats the ideal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import psutil

from bench.harness import save, table
from bench.servers import process_cpu_seconds
from tests.aws import write_config
from tests.local_stack import LocalStack, boto3_pointed_at

WORKERS, SECONDS = 12, 0.2
IDEAL = WORKERS / SECONDS
DATA, KEY = "example-sdxl-data", "sdxl-inf2-prod/requests/bench.json"
LINE = re.compile(r"^(?P<at>\S+) inference (?P<id>\S+) (?P<what>dispatched|completed|failed|expired)")
TIMES = re.compile(r"(?P<queue>[\d.]+)s in queue, (?P<container>[\d.]+)s in container")


def config(folder: Path, concurrency: int) -> Path:
    environment = {
        "SDXL_BACKEND": "simulated",
        "SDXL_WORKERS": str(WORKERS),
        "SDXL_SIMULATED_SECONDS": str(SECONDS),
        "SDXL_MAX_QUEUE": "256",
        "SDXL_LOG_LEVEL": "warning",
        "SDXL_METRICS": "off",  # forwarding EMF stands in for CloudWatch Logs: not dispatch work
    }
    changes = {
        "environment": environment,
        "workers_per_instance": WORKERS,
        "async_inference.max_concurrent_invocations_per_instance": concurrency,
        "autoscaling": None,
        "async_inference.notifications.queue": None,
    }
    return write_config(folder, **changes)


def send(count: int) -> list[str]:
    runtime = boto3.client("sagemaker-runtime")
    ids = [f"bench-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    for inference_id in ids:
        runtime.invoke_endpoint_async(
            EndpointName="sdxl-inf2-prod",
            InputLocation=f"s3://{DATA}/{KEY}",
            ContentType="application/json",
            Accept="image/png",
            InferenceId=inference_id,
        )
    return ids


def measure(stack: LocalStack, count: int) -> dict[str, Any]:
    stack.wait_finished(send(WORKERS * 2), timeout=120)  # warm every worker and connection
    ids = send(count)
    stack.wait_finished(ids, timeout=600)
    wanted = set(ids)
    first_dispatch: dict[str, datetime] = {}
    completions: list[datetime] = []
    container, queue, failed = [], [], 0
    for line in stack.output():
        found = LINE.match(line)
        if found is None or found["id"] not in wanted:
            continue
        at = datetime.fromisoformat(found["at"].replace("Z", "+00:00"))
        if found["what"] == "dispatched":
            first_dispatch.setdefault(found["id"], at)
        elif found["what"] in ("failed", "expired"):
            failed += 1
        else:
            completions.append(at)
            times = TIMES.search(line)
            if times:
                container.append(float(times["container"]))
                queue.append(float(times["queue"]))
    span = (max(completions) - min(first_dispatch.values())).total_seconds()
    throughput = len(completions) / span
    return {
        "requests": count,
        "completed": len(completions),
        "failed": failed,
        "span_s": span,
        "throughput": throughput,
        "efficiency": throughput / IDEAL,
        "container_p50_s": statistics.median(container),
        "queue_p50_s": statistics.median(queue),
    }


def invalid(result: dict[str, Any]) -> str | None:
    if result["completed"] != result["requests"]:
        return f"{result['requests'] - result['completed']} requests did not complete"
    if result["container_p50_s"] < SECONDS:
        return f"median container time {result['container_p50_s']:.3f}s is under the simulated {SECONDS}s"
    if result["efficiency"] > 1.0:
        return f"throughput {result['throughput']:.1f}/s beats the ideal {IDEAL:.0f}/s"
    return None


def run_level(model: Path, concurrency: int, count: int, folder: Path) -> dict[str, Any]:
    level = folder / f"c{concurrency}-{uuid.uuid4().hex[:6]}"
    level.mkdir()
    stack = LocalStack(config(level, concurrency), model, level, "--instances", "1")
    try:
        with boto3_pointed_at(stack.wait_ready(), level):
            boto3.client("s3").put_object(
                Bucket=DATA, Key=KEY, Body=json.dumps({"prompt": "a cat", "seed": 1}).encode()
            )
            endpoint = psutil.Process(stack.proc.pid)
            moto = next(p for p in endpoint.children() if "moto_process" in " ".join(p.cmdline()))
            before = process_cpu_seconds(endpoint), process_cpu_seconds(moto)
            result = measure(stack, count)
            sent = count + 2 * WORKERS
            cpu = {"endpoint_cpu_ms": (process_cpu_seconds(endpoint) - before[0]) / sent * 1e3}
            cpu["moto_cpu_ms"] = (process_cpu_seconds(moto) - before[1]) / sent * 1e3
        stack.stop()
    finally:
        stack.close()
    return {"concurrency": concurrency, **result, **cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/tiny-sdxl"))
    parser.add_argument("--requests", type=int, default=360, help="requests per level (default: 360, 6 s ideal)")
    parser.add_argument("--rounds", type=int, default=2, help="times every level runs (default: 2)")
    args = parser.parse_args()
    levels = [WORKERS, WORKERS + 1, WORKERS + 2, 2 * WORKERS]
    started, load = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-local-endpoint-") as folder:
        runs = [
            run_level(args.model, level, args.requests, Path(folder)) for _ in range(args.rounds) for level in levels
        ]
    by_level = {level: [r for r in runs if r["concurrency"] == level] for level in levels}
    rows = [[*_row(level, results)] for level, results in by_level.items()]
    print(
        f"\nbench/local_endpoint (1 instance, {WORKERS} simulated workers x {SECONDS * 1e3:.0f} ms, ideal "
        f"{IDEAL:.0f} images/s, {args.requests} queued requests per level, {args.rounds} round(s), "
        f"{time.monotonic() - started:.0f} s, load average {load:.1f} at the start)"
    )
    headers = ["MaxConcurrentInvocationsPerInstance", "images/s over ideal (each round)", "mean"]
    print(table([*headers, "container p50 ms", "CPU ms/request: endpoint + moto", "completed"], rows))
    valid = {level: results for level, results in by_level.items() if not any(map(invalid, results))}
    if valid:
        means = {level: statistics.mean(r["efficiency"] for r in results) for level, results in valid.items()}
        best = max(means.values())
        enough = min(level for level, mean in means.items() if mean >= best - 0.01)
        print(f"best mean {best:.3f}; lowest setting within 0.01 of it: {enough}")
    save("local_endpoint", {"workers": WORKERS, "seconds": SECONDS, "load_avg_at_start": load, "results": runs})


def _row(level: int, results: list[dict[str, Any]]) -> list[str]:
    problems = [p for p in map(invalid, results) if p]
    name = f"{level}" + (" (W)" if level == WORKERS else "")
    if problems:
        return [name, f"invalid run: {problems[0]}", "-", "-", "-", "-"]
    return [
        name,
        " / ".join(f"{r['efficiency']:.3f}" for r in results),
        f"{statistics.mean(r['efficiency'] for r in results):.3f}",
        f"{statistics.median(r['container_p50_s'] for r in results) * 1e3:.0f}",
        " + ".join(f"{statistics.mean(r[k] for r in results):.1f}" for k in ("endpoint_cpu_ms", "moto_cpu_ms")),
        " / ".join(f"{r['completed']}/{r['requests']}" for r in results),
    ]


if __name__ == "__main__":
    main()
