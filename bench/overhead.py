"""bench/overhead: what the server adds to one generation, measured so that it cannot flatter itself.

1. The tiny SDXL (64x64, 2 steps, fixed seed, PNG): the in-process call (bench/baseline: its own
   process, set up like a model worker) against the same request over HTTP through the whole server,
   in alternating blocks. Each block gives one median per side; the ratio and the added ms are the
   median over blocks, with their range. Every HTTP timer starts before the request is sent.
2. The null-generation transport cost: the simulated backend at 0 s (one 64x64 PNG) through
   sdxl-inf2, beside the same null model in a bare Flask app under gunicorn and in LitServe, in
   alternating blocks of sequential keep-alive requests. Target: no slower than LitServe, judged on
   the per-block ratios as below.

This process is only the HTTP client: it never imports torch. A ratio below 0.98, or a response
that arrived sooner than the compute the server reports for it (Server-Timing), is impossible and
ends the run with "invalid run" and exit 1, and so does a run where the in-process call's own speed
changed more than 2x between blocks (a machine too busy to compare). Targets: ratio <= 1.05, added
time <= 2 ms, judged on the 95% interval of the median over blocks: "met" only when the whole
interval is within the target, "no verdict" when the noise straddles it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import servers
from bench.harness import BODY, median, percentile, post, save, server_timings, table
from bench.verdict import InvalidRun, Spread, block_orders, invalid, judge, paired_ratios

HEADERS = {"Content-Type": "application/json", "Accept": "image/png"}
NULL_SERVERS = ("sdxl-inf2", "Flask + gunicorn (bare)", "LitServe 0.2.19")


def server_compute_ms(header: str | None) -> float:
    """inference + encode from a Server-Timing header."""
    timings = server_timings(header)
    return timings.get("inference", 0.0) + timings.get("encode", 0.0)


class Client:
    """Sequential requests on one keep-alive connection; each timer starts before the send."""

    def __init__(self, port: int, body: dict[str, Any]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.payload = json.dumps(body).encode()
        self.gaps_ms: list[float] = []  # client time - server-reported compute, per request

    def block(self, n: int) -> list[float]:
        times = []
        for _ in range(n):
            sample = post(self.conn, "/invocations", self.payload, HEADERS)
            if sample.status != 200 or not sample.body.startswith(b"\x89PNG"):
                raise InvalidRun(f"a request failed ({sample.status}): {sample.body[:200]!r}")
            if sample.server_timing is not None:
                compute = server_compute_ms(sample.server_timing)
                if sample.latency_s * 1e3 < compute:
                    raise InvalidRun(
                        f"the client saw {sample.latency_s * 1e3:.2f} ms, less than the {compute:.2f} ms of "
                        "compute the server reported for that request"
                    )
                self.gaps_ms.append(sample.latency_s * 1e3 - compute)
            times.append(sample.latency_s)
        return times


class Baseline:
    """bench/baseline in its own process: `block(n)` runs n in-process calls there."""

    def __init__(self, model: Path, body: dict[str, Any]) -> None:
        command = [sys.executable, "-m", "bench.baseline", str(model), json.dumps(body)]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        if self.stdout.readline().strip() != "ready":
            raise InvalidRun("the in-process baseline did not start")

    def block(self, n: int) -> list[float]:
        self.stdin.write(f"{n}\n")
        self.stdin.flush()
        times: list[float] = json.loads(self.stdout.readline())
        return times

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(30)


def tiny_pipeline(model: Path, blocks: int, per_block: int) -> dict[str, Any]:
    with ExitStack() as stack:
        baseline = Baseline(model, BODY)
        stack.callback(baseline.close)
        port = stack.enter_context(servers.sdxl_inf2(model, {"SDXL_BACKEND": "torch"}))
        client = Client(port, BODY)
        sides = {"in-process": baseline.block, "http": client.block}
        for run in sides.values():
            run(5)  # warm both paths
        client.gaps_ms.clear()
        times: dict[str, list[list[float]]] = {name: [] for name in sides}
        for order in block_orders(list(sides), blocks):
            for name in order:
                times[name].append(sides[name](per_block))
    local = [median(block) * 1e3 for block in times["in-process"]]
    remote = [median(block) * 1e3 for block in times["http"]]
    return {
        "blocks": blocks,
        "per_block": per_block,
        "in_process_ms": local,
        "http_ms": remote,
        "ratios": paired_ratios(remote, local),
        "added_ms": [r - b for r, b in zip(remote, local, strict=True)],
        "client_minus_compute_ms": median(client.gaps_ms),
    }


def null_transport(model: Path, blocks: int, per_block: int) -> dict[str, Any]:
    null_env = {"SDXL_SIMULATED_SECONDS": "0"}
    with ExitStack() as stack:
        ours = stack.enter_context(servers.sdxl_inf2(model, {**null_env, "SDXL_BACKEND": "simulated"}))
        flask_env = {**null_env, "BENCH_MODEL_DIR": str(model)}
        flask = stack.enter_context(servers.gunicorn("bench.flask_app:app", 1, "gthread", flask_env))
        lit = stack.enter_context(servers.litserve(model, null=True))
        clients = {name: Client(port, BODY) for name, port in zip(NULL_SERVERS, (ours, flask, lit), strict=True)}
        for client in clients.values():
            client.block(20)  # warm
        times: dict[str, list[list[float]]] = {name: [] for name in clients}
        for order in block_orders(list(clients), blocks):
            for name in order:
                times[name].append(clients[name].block(per_block))
    return {
        name: {
            "block_medians_ms": [median(block) * 1e3 for block in series],
            "p90_ms": percentile([t * 1e3 for block in series for t in block], 90),
        }
        for name, series in times.items()
    }


def check_steady(in_process_ms: list[float], most: float = 2.0) -> None:
    """A pipeline whose own speed changed more than `most` times between blocks was measured on a
    machine too busy to compare anything (CPU torch with two threads suffers most from neighbours)."""
    spread = Spread.of(in_process_ms)
    if spread.high > most * spread.low:
        raise InvalidRun(
            f"the in-process call alone took {spread.low:.1f}-{spread.high:.1f} ms between blocks "
            f"(load average {os.getloadavg()[0]:.1f}); rerun on a quieter machine"
        )


def report_null(null: dict[str, Any], blocks: int, per_block: int) -> None:
    print(f"\nbench/overhead, null generation (simulated backend at 0 s, 64x64 PNG): {blocks} rotating blocks")
    print(f"of {per_block} sequential keep-alive requests per server (median over blocks, range in brackets)")
    rows = [[name, Spread.of(r["block_medians_ms"]).text(2), f"{r['p90_ms']:.2f}"] for name, r in null.items()]
    print(table(["server", "median ms", "p90 ms"], rows))
    ours, peer = (null[name]["block_medians_ms"] for name in (NULL_SERVERS[0], NULL_SERVERS[2]))
    print(judge(f"null transport {NULL_SERVERS[0]} / {NULL_SERVERS[2]} <= 1", paired_ratios(ours, peer), 1.0))
    save("overhead_null", {"load_avg_1m": os.getloadavg()[0], "null_transport": null})


def report_tiny(tiny: dict[str, Any]) -> None:
    ratio, added = Spread.of(tiny["ratios"]), Spread.of(tiny["added_ms"])
    local, remote = Spread.of(tiny["in_process_ms"]), Spread.of(tiny["http_ms"])
    blocks = f"{tiny['blocks']} alternating blocks of {tiny['per_block']}"
    print(f"\nbench/overhead, tiny SDXL 64x64, 2 steps, PNG: {blocks}")
    print("(medians over blocks; the range of the block medians in brackets)")
    rows = [
        ["in-process (own process, a worker's settings)", local.text(1), "1", "-"],
        ["sdxl-inf2 over HTTP (keep-alive)", remote.text(1), ratio.text(), added.text(2)],
    ]
    print(table(["variant", "median ms", "ratio", "added ms"], rows))
    print(f"client time - server-reported compute: median {tiny['client_minus_compute_ms']:.2f} ms")
    print(judge("HTTP / in-process <= 1.05", tiny["ratios"], 1.05))
    print(judge("added time <= 2 ms", tiny["added_ms"], 2.0, " ms"))
    save("overhead", {"tiny": tiny})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/tiny-sdxl"))
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--per-block", type=int, default=3)
    parser.add_argument("--null-per-block", type=int, default=100)
    args = parser.parse_args()
    servers.require("bench/overhead", args.model, litserve=True)
    try:  # the null transport first: it stands on its own when the tiny pipeline's run is refused
        report_null(null_transport(args.model, args.blocks, args.null_per_block), args.blocks, args.null_per_block)
        tiny = tiny_pipeline(args.model, args.blocks, args.per_block)
        if "torch" in sys.modules:
            raise InvalidRun("the client process imported torch")
        check_steady(tiny["in_process_ms"])
        if (ratio := Spread.of(tiny["ratios"]).median) < 0.98:
            raise InvalidRun(f"HTTP / in-process = {ratio:.3f}: the server cannot be faster than the call it wraps")
    except InvalidRun as exc:
        invalid(str(exc))
    report_tiny(tiny)


if __name__ == "__main__":
    main()
