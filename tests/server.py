"""Run the real server (the `serve` console script: gunicorn, front, spawned workers) for a test."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FAKE = "tests.fakes.{}:Backend"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(
        self, model_dir: Path | None, log_dir: Path, env: dict[str, str] | None = None, command: list[str] | None = None
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        full_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "SDXL_HOST": "127.0.0.1",
            "SAGEMAKER_BIND_TO_PORT": str(self.port),
            "SDXL_RESTART_BACKOFF_S": "0.2",
            **(env or {}),
        }
        if command is None:
            command = [str(BIN / "serve")] + (["--model-dir", str(model_dir)] if model_dir else [])
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                command, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
            )
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return self.base + path

    def ping(self, timeout: float = 5.0) -> requests.Response:
        return self.http.get(self.url("/ping"), timeout=timeout)

    def invoke(
        self,
        body: Any = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        timeout: float = 120.0,
        session: requests.Session | None = None,
    ) -> requests.Response:
        sent = {"Content-Type": "application/json", **(headers or {})}
        payload = data if data is not None else json.dumps(body).encode()
        return (session or requests).post(self.url("/invocations"), data=payload, headers=sent, timeout=timeout)

    def wait_ping(self, status: int = 200, timeout: float = 90.0, state: str | None = None) -> dict[str, Any]:
        """Poll /ping until it answers `status` (and `state`, if given); fail with the log otherwise."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                response = self.ping(timeout=2)
                last = (response.status_code, response.text)
                body = response.json()
                if response.status_code == status and (state is None or body["status"] == state):
                    return dict(body)
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.1)
        raise AssertionError(f"/ping never gave {status}/{state}; last {last}\n{self.log_text()}")

    def worker_pids(self) -> list[int]:
        return [s["pid"] for s in self.ping().json()["slots"]]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        else:  # the master is gone; make sure nothing it started lingers
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.http.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_entries(self, logger: str | None = None) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if logger is None or entry.get("logger") == logger:
                    entries.append(entry)
        return entries


def request_log(server: Server, inference_id: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The request-log lines for `inference_id` (written just after the response is sent)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in server.log_entries("sdxl.request") if e.get("inference_id") == inference_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_entries(cache_dir: Path, count: int, timeout: float = 5.0) -> list[Path]:
    """The result cache's entry files once there are `count` (written just after each response)."""
    deadline = time.monotonic() + timeout
    while len(found := sorted(cache_dir.rglob("*.val"))) != count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(found) == count, f"{len(found)} cache entries in {cache_dir}, expected {count}"
    return found
