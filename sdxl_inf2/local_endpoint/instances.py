"""The endpoint's instances: real `serve` processes, supervised the way SageMaker supervises them.

Each instance slot has a supervisor thread. It starts `serve` in its own process group on a free
loopback port with the container's environment, polls `/ping` (2 s timeout) and marks the instance
ready at the first 200. After that it pings every second; an instance that exits, or fails three
pings in a row, is killed (its whole group) and replaced by a new process, which gets work only once
its own `/ping` says 200. The first start of every slot must succeed: a model folder that does not
serve stops the command with serve's own error line.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from .errors import LocalEndpointError
from .events import EventLog

PING_TIMEOUT_S = 2.0  # SageMaker's
PING_EVERY_S = 1.0
STARTUP_POLL_S = 0.2
FAILED_PINGS = 3  # in a row, once ready: the instance is replaced
STOP_GRACE_S = 10.0  # SIGTERM, then SIGKILL of the process group
RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # between failed starts of a replacement


def serve_command() -> list[str]:
    """`serve` next to this Python (the console script), else the same module run directly."""
    script = Path(sys.executable).parent / "serve"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sdxl_inf2.container.server"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Instance:
    """One `serve` process and its children, in a process group of their own."""

    def __init__(self, slot: int, generation: int, env: dict[str, str], log_dir: Path, on_line: Callable[[str], None]):
        self.slot, self.generation = slot, generation
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"instance-{slot}-{generation}.log"
        self.ready = False
        self.suspect = False  # a request lost its connection: no new work until a ping clears it
        self.started = time.monotonic()
        self.tail: deque[str] = deque(maxlen=20)
        self.proc = subprocess.Popen(
            serve_command(),
            env={**env, "SAGEMAKER_BIND_TO_PORT": str(self.port)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, args=(on_line,), name=f"instance-{slot}-log", daemon=True)
        self.reader.start()

    def _read(self, on_line: Callable[[str], None]) -> None:
        assert self.proc.stdout is not None
        with self.log_path.open("w", encoding="utf-8") as log:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                self.tail.append(line)
                on_line(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ping(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PING_TIMEOUT_S)
        try:
            conn.request("GET", "/ping")
            response = conn.getresponse()
            response.read()
            return response.status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    def finish_stop(self, deadline: float) -> None:
        """After SIGTERM: wait until `deadline`, then SIGKILL whatever is left of the group."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(max(0.0, deadline - time.monotonic()))
        self.signal_group(signal.SIGKILL)
        self.proc.wait()
        self.reader.join(timeout=5)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        self.signal_group(signal.SIGTERM)
        self.finish_stop(time.monotonic() + grace_s)

    def failure(self) -> str:
        """Why it stopped, for one line: its exit status and its last words."""
        code = self.proc.poll()
        status = f"exited with status {code}" if code is not None else "never answered /ping with 200"
        said = next((line.strip() for line in reversed(self.tail) if line.strip()), "")
        return f"{status}: {said}" if said else status


class Fleet:
    def __init__(
        self,
        count: int,
        env: dict[str, str],
        log_dir: Path,
        events: EventLog,
        on_line: Callable[[str], None],
        on_change: Callable[[], None],
        startup_timeout_s: float,
    ) -> None:
        self.env, self.log_dir, self.events = env, log_dir, events
        self.on_line, self.on_change = on_line, on_change
        self.startup_timeout_s = startup_timeout_s
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.current: list[Instance | None] = [None] * count
        self.first_outcome = [threading.Event() for _ in range(count)]
        self.first_failure: list[str | None] = [None] * count
        self.threads = [threading.Thread(target=self._supervise, args=(s,), daemon=True) for s in range(count)]

    def start(self) -> None:
        """Starts every slot and waits until each instance answers /ping with 200 (or one cannot start)."""
        for thread in self.threads:
            thread.start()
        for slot, outcome in enumerate(self.first_outcome):
            outcome.wait()
            if self.first_failure[slot]:
                raise LocalEndpointError(f"instance {slot} did not start: {self.first_failure[slot]}")

    def ready(self) -> list[Instance]:
        return [i for i in self.current if i is not None and i.ready and not i.suspect]

    def report_lost(self, instance: Instance) -> None:
        """A request's connection to `instance` broke: give it no more work until a ping clears it."""
        instance.suspect = True
        self.on_change()

    def stop(self) -> None:
        with self.lock:
            self.stopping.set()
            running = [i for i in self.current if i is not None]
        for instance in running:
            instance.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for instance in running:
            instance.finish_stop(deadline)
        for thread in self.threads:
            thread.join(timeout=PING_TIMEOUT_S + 1)

    def _launch(self, slot: int, generation: int) -> Instance | None:
        with self.lock:
            if self.stopping.is_set():
                return None
            instance = Instance(slot, generation, self.env, self.log_dir, self.on_line)
            self.current[slot] = instance
        self.events.instance(slot, f"starting: pid {instance.pid}, {instance.url}, log {instance.log_path}")
        return instance

    def _supervise(self, slot: int) -> None:
        generation, failed_starts = 0, 0
        while (instance := self._launch(slot, generation)) is not None:
            if self._wait_ready(instance):
                failed_starts = 0
                reason = self._serve(slot, instance)
            elif not self.first_outcome[slot].is_set():
                self.first_failure[slot] = instance.failure()
                self.first_outcome[slot].set()
                instance.stop()
                return
            else:
                reason = f"did not start ({instance.failure()})"
                failed_starts += 1
            if self.stopping.is_set():
                return
            delay = RETRY_DELAYS_S[min(failed_starts, len(RETRY_DELAYS_S)) - 1] if failed_starts else 0.0
            self.events.instance(slot, f"{reason}: replacing it" + (f" in {delay:g}s" if delay else ""))
            instance.stop(grace_s=0)
            if self.stopping.wait(delay):
                return
            generation += 1

    def _wait_ready(self, instance: Instance) -> bool:
        while not self.stopping.is_set() and instance.alive():
            if instance.ping():
                return True
            if time.monotonic() - instance.started > self.startup_timeout_s:
                return False
            self.stopping.wait(STARTUP_POLL_S)
        return False

    def _serve(self, slot: int, instance: Instance) -> str:
        """Marks it ready and watches it; returns why it must be replaced."""
        instance.ready = True
        self.first_outcome[slot].set()
        self.events.instance(slot, f"ready after {time.monotonic() - instance.started:.1f}s")
        self.on_change()
        failures = 0
        try:
            while not self.stopping.wait(PING_EVERY_S):
                if not instance.alive():
                    return f"exited with status {instance.proc.returncode}"
                healthy = instance.ping()
                failures = 0 if healthy else failures + 1
                if healthy and instance.suspect:
                    instance.suspect = False
                    self.on_change()
                if failures >= FAILED_PINGS:
                    return f"failed {failures} pings in a row"
            return "stopping"
        finally:
            instance.ready = False
            self.on_change()
