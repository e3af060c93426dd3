"""The servers the benchmarks start, each as a context manager that yields its port and kills the
whole process group afterwards: sdxl-inf2 itself, its pool under a bare WSGI front, any WSGI app
under gunicorn, and LitServe. `cpu_seconds(port)` is the CPU time a running one has used;
`require` checks, before anything starts, that what they need is there."""

from __future__ import annotations

import http.client
import importlib.metadata
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psutil

from bench.harness import wait_ready
from tests.server import ROOT, Server, free_port

LOGS = Path(__file__).resolve().parent / "results" / "logs"
LITSERVE = "0.2.19"  # pyproject's bench extra; the benchmarks' tables name this version
_ROOTS: dict[int, int] = {}  # port -> pid of the server's first process, while it runs


def require(bench: str, model: Path, litserve: bool = False) -> None:
    """One line saying what to run, and exit 2, if the tiny model (or LitServe) is missing: no
    traceback, no wait for a server that cannot start."""
    if not (model / "manifest.json").is_file():
        _missing(bench, f"no tiny model at {model}: run `make tiny-model` (`make bench` builds it, then runs all)")
    if litserve and (found := litserve_version()) != LITSERVE:
        have = f"LitServe {found} is installed" if found else "LitServe is not installed"
        _missing(bench, f"{have}, {LITSERVE} is compared: run `.venv/bin/pip install -e '.[bench]'` (or `make bench`)")


def litserve_version() -> str | None:
    """The installed LitServe's version, or None; read without importing it (the client stays light)."""
    if importlib.util.find_spec("litserve") is None:
        return None
    return importlib.metadata.version("litserve")


def _missing(bench: str, what: str) -> None:
    print(f"{bench}: {what}", file=sys.stderr)
    raise SystemExit(2)


def cpu_seconds(port: int) -> float:
    """User + system CPU time used so far by the server on `port`: its first process and every live
    descendant (gunicorn master, front, model workers)."""
    root = psutil.Process(_ROOTS[port])
    return sum(process_cpu_seconds(p) for p in [root, *root.children(recursive=True)])


def process_cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU time of one process (0 if it has ended)."""
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:  # ended since it was listed: its time is gone with it
        return 0.0
    return float(times.user + times.system)


@contextmanager
def sdxl_inf2(model: Path, env: dict[str, str], command: list[str] | None = None) -> Iterator[int]:
    """The real server (`serve`: gunicorn, front, spawned workers), or `command` started the same
    way; yields once /ping is 200."""
    LOGS.mkdir(parents=True, exist_ok=True)
    server = Server(model, LOGS, env=env, command=command)
    _ROOTS[server.port] = server.proc.pid
    try:
        server.wait_ping(200, timeout=300)
        yield server.port
    finally:
        _ROOTS.pop(server.port, None)
        server.stop()
        server.close()


def bare_front(model: Path, env: dict[str, str]) -> AbstractContextManager[int]:
    """sdxl-inf2's pool under bench/bare_front's bare WSGI callable instead of the Flask app."""
    return sdxl_inf2(model, env, [sys.executable, "-m", "bench.bare_front", "--model-dir", str(model)])


@contextmanager
def gunicorn(app: str, workers: int, worker_class: str, env: dict[str, str]) -> Iterator[int]:
    """`gunicorn -w workers -k worker_class app` on a free port; yields once /ping is 200."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", worker_class]
    if worker_class == "gthread":  # (threads > 1 would turn sync workers into gthread ones)
        command += ["--threads", "4"]
    command += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", app]
    with _group(command, env, lambda _proc: wait_ready(port, timeout_s=300), port):
        yield port


@contextmanager
def litserve(model: Path, null: bool) -> Iterator[int]:
    """bench/litserve_app (the tiny SDXL, or the null model); yields once /health is 200."""
    port = free_port()
    command = [sys.executable, "-m", "bench.litserve_app", str(model), str(port)] + (["--null"] * null)
    with _group(command, {"SDXL_SIMULATED_SECONDS": "0"}, lambda proc: _wait_health(port, proc), port):
        yield port


Ready = Callable[["subprocess.Popen[bytes]"], None]  # returns once the started process serves


@contextmanager
def _group(command: list[str], env: dict[str, str], ready: Ready, port: int) -> Iterator[None]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    proc = subprocess.Popen(
        command, env=full_env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _ROOTS[port] = proc.pid
    try:
        ready(proc)
        yield
    finally:
        _ROOTS.pop(port, None)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _wait_health(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:  # it will never answer: say so now, not after the timeout
            raise RuntimeError(f"LitServe exited with {proc.returncode} before it answered /health")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"LitServe on :{port} never became healthy")
