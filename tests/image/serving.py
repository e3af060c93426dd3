"""Run the image's entrypoint the way `docker run IMAGE serve` does, inside a buildah container.

buildah's chroot isolation shares the host's network and process namespaces: the server's port is
reachable on loopback from the test, and the test can signal the server's own process (buildah
itself turns a SIGTERM into a kill, so it is not the one to signal).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.image.buildah import Buildah


def proc_argv(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> list[int]:
    """Every live descendant of pid, nearest first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(parent_pid(int(entry)), []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    found, queue = [], list(children.get(pid, []))
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(children.get(current, []))
    return found


class ContainerServer:
    """`serve` started from the image's ENTRYPOINT + ["serve"], with a model folder at /opt/ml/model."""

    def __init__(self, buildah: Buildah, container: str, argv: list[str], model: Path, port: int, log: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log
        options = [
            f"--volume={model}:/opt/ml/model:ro",
            "--env=SDXL_BACKEND=torch",
            f"--env=SAGEMAKER_BIND_TO_PORT={port}",
            "--env=SDXL_HOST=127.0.0.1",  # the host's network is shared: stay on loopback
        ]
        command = buildah.cmd("run", "--isolation", "chroot", *options, container, "--", *argv)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(command, env=buildah.env, stdout=out, stderr=subprocess.STDOUT)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                if requests.get(self.base + "/ping", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise AssertionError(f"/ping never answered 200 within {timeout} s:\n{self.log_text()}")

    def server_pid(self) -> int:
        """The process the entrypoint started: the first non-buildah process running `serve`."""
        for pid in descendants(self.proc.pid):
            argv = proc_argv(pid)
            if argv and not Path(argv[0]).name.startswith("buildah") and any(a.endswith("/serve") for a in argv[:2]):
                return pid
        raise AssertionError(f"no serve process under buildah pid {self.proc.pid}")

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM to the server itself, as Docker sends it to PID 1; the exit status buildah reports."""
        os.kill(self.server_pid(), signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            for pid in reversed(descendants(self.proc.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(30)
