"""bench/bare_front (bench/dispatch's third design) answers with the same image as `serve`, so the
comparison is about the app layer and nothing else; and bench/servers counts a server's CPU time
over all its processes."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil

from bench import servers as bench_servers
from tests.conftest import ServerFactory

ENV = {"SDXL_BACKEND": "simulated", "SDXL_SIMULATED_SECONDS": "0", "SDXL_WORKERS": "2"}
BODY = {"prompt": "a red cube", "seed": 7, "num_inference_steps": 2}


def test_bare_front_serves_the_same_image_as_serve(servers: ServerFactory, tiny_model: Path) -> None:
    command = [sys.executable, "-m", "bench.bare_front", "--model-dir", str(tiny_model)]
    bare, real = servers(tiny_model, ENV, command=command), servers(tiny_model, ENV)
    for server in (bare, real):
        server.wait_ping(200)
    answers = [s.invoke(BODY, headers={"Accept": "image/png"}) for s in (bare, real)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].headers["Content-Type"] == "image/png"
    assert answers[0].content == answers[1].content
    assert "Server-Timing" not in answers[0].headers  # no app layer: nothing but the image
    bare_pids = {p.pid for p in psutil.Process(bare.proc.pid).children(recursive=True)}
    assert set(bare.worker_pids()) <= bare_pids  # its own model worker processes, as serve has


def test_cpu_seconds_counts_every_process_of_the_server(tiny_model: Path) -> None:
    with bench_servers.sdxl_inf2(tiny_model, ENV) as port:
        root = psutil.Process(bench_servers._ROOTS[port])
        tree = [root, *root.children(recursive=True)]
        assert len(tree) >= 4  # gunicorn master, front, two model workers
        own = sum(p.cpu_times().user + p.cpu_times().system for p in tree)
        counted = bench_servers.cpu_seconds(port)
        assert own > 0 and counted >= own * 0.99
    assert port not in bench_servers._ROOTS
