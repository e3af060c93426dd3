"""`sdxl-inf2 local-endpoint` run as a real process for tests and benchmarks, its output read live.

The command's stdout (export lines, `ready`, one line per request state change) is collected by a
thread; `environment()` is what it printed for boto3, which tests apply before making plain
boto3 clients, so they reach it exactly as a user's program would.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.server import BIN, ROOT, free_port

EVENT = re.compile(r"^\S+ inference (?P<id>\S+) (?P<what>\w+)(?: on instance (?P<on>\d+))?")
FINISHED = ("completed", "failed", "expired")  # the last state change of a request
DISPATCH = re.compile(r"^\S+ inference \S+ dispatched to instance (?P<slot>\d+) \(attempt \d+, (?P<held>\d+) in")


class LocalStack:
    def __init__(self, config: Path, model_dir: Path, log_dir: Path, *args: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.stderr_path = log_dir / f"local-endpoint-{self.port}.err"
        command = [str(BIN / "sdxl-inf2"), "local-endpoint", str(config), "--model-dir", str(model_dir)]
        self.instance_log_dir = log_dir / f"instances-{self.port}"
        command += ["--port", str(self.port), "--log-dir", str(self.instance_log_dir), *args]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        full_env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})})
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                command, env=full_env, stdout=subprocess.PIPE, stderr=err, start_new_session=True, cwd=ROOT
            )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self.lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def output(self) -> list[str]:
        with self.lock:
            return list(self.lines)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_line(self, predicate: Callable[[str], bool], timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in self.output() if predicate(line)), None)
            if found is not None:
                return found
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader take the last lines
                found = next((line for line in self.output() if predicate(line)), None)
                if found is not None:
                    return found
                raise AssertionError(f"local-endpoint exited with {self.proc.returncode}:\n{self.stderr()}")
            time.sleep(0.05)
        raise AssertionError(f"no such line after {timeout}s:\n" + "\n".join(self.output()[-30:]) + self.stderr())

    def wait_ready(self, timeout: float = 120.0) -> dict[str, str]:
        self.wait_line(lambda line: line == "ready", timeout)
        return self.environment()

    def environment(self) -> dict[str, str]:
        pairs = [line.removeprefix("export ").split("=", 1) for line in self.output() if line.startswith("export ")]
        return {name: value for name, value in pairs}

    def events(self, inference_id: str) -> list[str]:
        """The state changes of one request, in order: queued, dispatched, completed, ..."""
        found = (EVENT.match(line) for line in self.output())
        return [m["what"] for m in found if m and m["id"] == inference_id]

    def wait_finished(self, inference_ids: list[str], timeout: float = 60.0) -> None:
        wanted = set(inference_ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = {m["id"] for m in map(EVENT.match, self.output()) if m and m["what"] in FINISHED}
            if wanted <= done:
                return
            time.sleep(0.05)
        raise AssertionError(f"{len(wanted - done)} requests unfinished after {timeout}s")

    def instance_pid(self, slot: int) -> int:
        """The pid (= process group) of the latest instance started in `slot`."""
        pattern = re.compile(rf"instance {slot} starting: pid (\d+)")
        return int([m[1] for m in map(pattern.search, self.output()) if m][-1])

    def instance_url(self, slot: int) -> str:
        pattern = re.compile(rf"instance {slot} starting: pid \d+, (http://\S+),")
        return [m[1] for m in map(pattern.search, self.output()) if m][-1]

    def request_logs(self, inference_id: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The containers' own request-log entries for one inference id (JSON lines in the instance logs),
        once there are any (a container writes its request log a moment after the response)."""
        deadline = time.monotonic() + timeout
        while not (entries := self._request_logs(inference_id)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return entries

    def _request_logs(self, inference_id: str) -> list[dict[str, Any]]:
        entries = []
        for log in sorted(self.instance_log_dir.glob("instance-*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("{") and f'"{inference_id}"' in line:
                    entry = json.loads(line)
                    if entry.get("inference_id") == inference_id and "_aws" not in entry:
                        entries.append(entry)
        return entries

    def process_tree(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        return []

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def close(self) -> None:
        """Kills what is left: the command's group and every instance's group."""
        for process in self.process_tree():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def max_in_flight(lines: list[str]) -> dict[int, int]:
    """Per instance slot, the most requests the dispatcher said it held at once."""
    most: dict[int, int] = {}
    for found in map(DISPATCH.match, lines):
        if found is not None:
            slot = int(found["slot"])
            most[slot] = max(most.get(slot, 0), int(found["held"]))
    return most


@contextlib.contextmanager
def boto3_pointed_at(environment: dict[str, str], tmp_path: Path) -> Iterator[None]:
    """This process's boto3 uses what local-endpoint printed, and nothing of the machine's own."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [k for k in os.environ if k.startswith("AWS_")]:
            patch.delenv(name)
        for name, value in environment.items():
            patch.setenv(name, value)
        patch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
        yield
