"""What every benchmark shares: a closed-loop HTTP load generator, a /ping prober, percentiles,
the machine description, and writing results to bench/results/<name>.json."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
BODY = {"prompt": "a photo of a cat", "seed": 42, "num_inference_steps": 2}


@dataclass
class Sample:
    latency_s: float
    status: int
    body: bytes
    server_timing: str | None = None  # the Server-Timing header, where the server sends one
    finished: float = 0.0  # time.perf_counter() when the last byte was read


@dataclass
class LoadResult:
    wall_s: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(s.status == 200 for s in self.samples)

    @property
    def throughput(self) -> float:
        return len(self.samples) / self.wall_s

    def latencies(self) -> list[float]:
        return [s.latency_s for s in self.samples]

    def steady_throughput(self, skip: int) -> float:
        """Completions per second after the first `skip` (the first round, which starts cold), over
        the time they took: leaves out the start and the last job's tail, which a long run amortizes."""
        done = sorted(s.finished for s in self.samples)
        if len(done) <= skip + 1:
            return float("nan")
        return (len(done) - 1 - skip) / (done[-1] - done[skip])


def server_timings(header: str | None) -> dict[str, float]:
    """A Server-Timing header (`name;dur=ms, ...`) as {name: ms}."""
    items = (item.strip().split(";dur=") for item in (header or "").split(",") if ";dur=" in item)
    return {name: float(ms) for name, ms in items}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def post(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> Sample:
    """One request; the timer starts before the send and stops after the last byte is read."""
    started = time.perf_counter()
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    finished = time.perf_counter()
    return Sample(finished - started, response.status, data, response.getheader("Server-Timing"), finished)


def run_load(
    port: int,
    total: int,
    concurrency: int,
    body: dict[str, Any] = BODY,
    path: str = "/invocations",
    accept: str = "image/png",
    until: float | None = None,
) -> LoadResult:
    """`concurrency` clients on keep-alive connections send `total` requests between them (or as many
    as fit before the monotonic time `until`)."""
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Accept": accept}
    remaining = iter(range(total))
    lock = threading.Lock()
    samples: list[Sample] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while until is None or time.monotonic() < until:
            with lock:
                if next(remaining, None) is None:
                    break
            try:
                sample = post(conn, path, payload, headers)
            except (OSError, http.client.HTTPException) as exc:  # a failed request, never a shorter run
                sample = Sample(0.0, 0, f"{type(exc).__name__}: {exc}".encode(), None, time.perf_counter())
            if sample.status != 200 or sample.body[:1] == b"{":
                conn.close()  # a sync server closes after each response anyway
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            with lock:
                samples.append(sample)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(time.perf_counter() - started, samples)


@contextmanager
def ping_prober(port: int, every_s: float = 0.05) -> Iterator[list[float]]:
    """GET /ping on its own connection every `every_s` while the block runs; yields the latencies."""
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            started = time.perf_counter()
            try:
                conn.request("GET", "/ping")
                conn.getresponse().read()
                latencies.append(time.perf_counter() - started)
            except (OSError, http.client.HTTPException):
                latencies.append(float("inf"))  # a ping that failed counts as one that never came back
            conn.close()
            stop.wait(every_s)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join()


def wait_ready(port: int, timeout_s: float = 120, check: Callable[[int], bool] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if (check or (lambda s: s == 200))(conn.getresponse().status):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"server on :{port} never became ready")


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_1m": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def block_options(doc: str, model: str, blocks: int, requests: int, requests_help: str) -> argparse.Namespace:
    """The options of every benchmark measured in interleaved blocks: --model, --blocks, --requests."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path(model))
    parser.add_argument("--blocks", type=int, default=blocks)
    parser.add_argument("--requests", type=int, default=requests, help=requests_help)
    return parser.parse_args()


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2))
    return path


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (pasted as-is into docs/performance.md)."""
    cells = [[_fmt(v) for v in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) and abs(value) < 1000 else str(value)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
