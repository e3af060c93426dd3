"""A `docker` stand-in for testing scripts/smoke-test.sh where no Docker engine runs.

`docker run` starts the project's own `serve` (from this venv) instead of an image: the mounted
model folder becomes SM_MODEL_DIR and the published host port the server's port, on loopback. A
detached monitor process keeps the exit status, so `inspect`, `stop` (SIGTERM, then SIGKILL after
--time), `logs` and `rm -f` behave like Docker's. Every call is appended to $FAKE_RECORD.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STATE = Path(os.environ.get("FAKE_DOCKER_STATE", "/tmp/fake-docker"))
SERVE = Path(sys.executable).parent / "serve"


def option_values(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == name]


def run(argv: list[str]) -> int:
    name = option_values(argv, "--name")[0]
    host_port = option_values(argv, "--publish")[0].split(":")[1]
    model = option_values(argv, "--volume")[0].split(":")[0]
    env = dict(item.split("=", 1) for item in option_values(argv, "--env"))
    box = STATE / name
    box.mkdir(parents=True)
    env |= {"SM_MODEL_DIR": model, "SAGEMAKER_BIND_TO_PORT": host_port, "SDXL_HOST": "127.0.0.1"}
    (box / "env.json").write_text(json.dumps(env))
    command = [sys.executable, __file__, "_monitor", name, *argv[-1:]]  # the word after IMAGE: `serve`
    subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL)
    while not (box / "pid").exists():
        time.sleep(0.05)
    print(name)
    return 0


def monitor(name: str, args: list[str]) -> int:
    box = STATE / name
    env = {**os.environ, **json.loads((box / "env.json").read_text())}
    with (box / "log").open("wb") as log:
        server = subprocess.Popen([str(SERVE), *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        (box / "pid").write_text(str(server.pid))
        code = server.wait()
    (box / "exit").write_text(str(code if code >= 0 else 128 - code))
    return 0


def inspect(argv: list[str]) -> int:
    box = STATE / argv[-1]
    fmt = option_values(argv, "--format")[0]
    if "Running" in fmt:
        print("false" if (box / "exit").exists() else "true")
    else:
        print((box / "exit").read_text() if (box / "exit").exists() else "0")
    return 0


def stop(argv: list[str]) -> int:
    box, grace = STATE / argv[-1], float(option_values(argv, "--time")[0])
    pid = int((box / "pid").read_text())
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while not (box / "exit").exists():
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    return 0


def remove(argv: list[str]) -> int:
    box = STATE / argv[-1]
    if (box / "pid").exists() and not (box / "exit").exists():
        with contextlib.suppress(ProcessLookupError):  # the monitor's group: serve and its workers
            os.killpg(os.getpgid(int((box / "pid").read_text())), signal.SIGKILL)
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "_monitor":
        return monitor(argv[1], argv[2:])
    with open(os.environ["FAKE_RECORD"], "a") as record:
        record.write(json.dumps(argv) + "\n")
    command, rest = argv[0], argv[1:]
    if command == "logs":
        sys.stdout.write((STATE / rest[-1] / "log").read_text(errors="replace"))
        return 0
    handlers = {"run": run, "inspect": inspect, "stop": stop, "rm": remove}
    if command not in handlers:
        print(f"docker stand-in: unexpected call: docker {' '.join(argv)}", file=sys.stderr)
        return 1
    return handlers[command](rest)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
