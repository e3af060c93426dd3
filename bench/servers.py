"""The servers the benchmarks start, each as a context manager that yields its port and kills the
whole process group afterwards: sdxl-inf2 itself, any WSGI app under gunicorn, and LitServe."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.harness import wait_ready
from tests.server import ROOT, Server, free_port

LOGS = Path(__file__).resolve().parent / "results" / "logs"


@contextmanager
def sdxl_inf2(model: Path, env: dict[str, str]) -> Iterator[int]:
    """The real server (`serve`: gunicorn, front, spawned workers); yields once /ping is 200."""
    LOGS.mkdir(parents=True, exist_ok=True)
    server = Server(model, LOGS, env=env)
    try:
        server.wait_ping(200, timeout=300)
        yield server.port
    finally:
        server.stop()
        server.close()


@contextmanager
def gunicorn(app: str, workers: int, worker_class: str, env: dict[str, str]) -> Iterator[int]:
    """`gunicorn -w workers -k worker_class app` on a free port; yields once /ping is 200."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", worker_class]
    if worker_class == "gthread":  # (threads > 1 would turn sync workers into gthread ones)
        command += ["--threads", "4"]
    command += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", app]
    with _group(command, env, lambda: wait_ready(port, timeout_s=300)):
        yield port


@contextmanager
def litserve(model: Path, null: bool) -> Iterator[int]:
    """bench/litserve_app (the tiny SDXL, or the null model); yields once /health is 200."""
    port = free_port()
    command = [sys.executable, "-m", "bench.litserve_app", str(model), str(port)] + (["--null"] * null)
    with _group(command, {"SDXL_SIMULATED_SECONDS": "0"}, lambda: _wait_health(port)):
        yield port


@contextmanager
def _group(command: list[str], env: dict[str, str], ready: Callable[[], None]) -> Iterator[None]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    proc = subprocess.Popen(
        command, env=full_env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        ready()
        yield
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _wait_health(port: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"LitServe on :{port} never became healthy")
