"""bench/overhead: what the server adds to one generation.

Median HTTP end-to-end time / median in-process time for the same tiny request (64x64, 2 steps,
fixed seed, PNG), measured alternately one by one in one run; plus the absolute overhead in ms and
the client time minus the compute the server reports (Server-Timing). Targets: <= 1.05 and <= 2 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from pathlib import Path

from bench.harness import BODY, median, post, save, table
from container.backends.torch_backend import TorchBackend
from container.encoding import encode_image
from container.modeldir import inspect_model_dir
from container.schema import parse_request, resolve
from tests.server import Server


def server_compute_ms(header: str) -> float:
    parts = dict(item.strip().split(";dur=") for item in header.split(","))
    return float(parts["inference"]) + float(parts["encode"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/tiny-sdxl"))
    parser.add_argument("--samples", type=int, default=80)
    args = parser.parse_args()

    model = inspect_model_dir(args.model)
    prompt, fields = parse_request(BODY)
    params = resolve(prompt, fields, model, "png")
    backend = TorchBackend("cpu", 1)
    backend.load(model)

    def in_process() -> float:
        started = time.perf_counter()
        encode_image(backend.generate(params)[0], "png", None, 1)
        return time.perf_counter() - started

    logs = Path("bench/results/logs")
    logs.mkdir(parents=True, exist_ok=True)
    server = Server(args.model, logs, env={"SDXL_BACKEND": "torch"})
    try:
        server.wait_ping(200)
        conn = http.client.HTTPConnection("127.0.0.1", server.port)
        payload, headers = json.dumps(BODY).encode(), {"Content-Type": "application/json", "Accept": "image/png"}
        local, remote, gaps = [], [], []
        for _ in range(5):  # warm both paths
            in_process()
            post(conn, "/invocations", payload, headers)
        for _ in range(args.samples):  # alternate one by one, so both see the same machine load
            local.append(in_process())
            conn.request("POST", "/invocations", body=payload, headers=headers)
            started = time.perf_counter()
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            assert response.status == 200
            remote.append(elapsed)
            gaps.append(elapsed * 1e3 - server_compute_ms(response.getheader("Server-Timing", "")))
    finally:
        server.stop()
        server.close()
    report(median(local) * 1e3, median(remote) * 1e3, median(gaps), len(local))


def report(local_ms: float, remote_ms: float, gap_ms: float, n: int) -> None:
    ratio = remote_ms / local_ms
    rows = [
        ["in-process pipeline + PNG", f"{local_ms:.1f}", "1", "-"],
        ["sdxl-inf2 over HTTP (keep-alive)", f"{remote_ms:.1f}", f"{ratio:.3f}", f"{gap_ms:.2f}"],
    ]
    print(f"\nbench/overhead (tiny SDXL 64x64, 2 steps, n={n} each, alternating)")
    print(table(["variant", "median ms", "ratio", "client - server compute, ms"], rows))
    print(
        f"overhead {remote_ms - local_ms:.2f} ms; targets: ratio <= 1.05 ({'met' if ratio <= 1.05 else 'MISSED'}),"
        f" <= 2 ms ({'met' if remote_ms - local_ms <= 2 else 'MISSED'})"
    )
    save(
        "overhead",
        {
            "in_process_ms": local_ms,
            "http_ms": remote_ms,
            "ratio": ratio,
            "overhead_ms": remote_ms - local_ms,
            "client_minus_server_compute_ms": gap_ms,
            "n": n,
        },
    )


if __name__ == "__main__":
    main()
