"""Failure modes, each with its own fake backend: none may kill the front or lose a queued request."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import ServerFactory
from tests.fakes.raises import SECRET
from tests.server import FAKE, Server, pid_alive


def wait_for_new_pid(server: Server, old: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = server.wait_ping(200)
        pid = body["slots"][0]["pid"]
        if pid not in (old, None) and body["slots"][0]["state"] == "ready":
            return int(pid)
        time.sleep(0.1)
    raise AssertionError(f"no replacement worker:\n{server.log_text()}")


def test_worker_that_fails_to_load_never_gets_ready(servers: ServerFactory, tiny_model: Path) -> None:
    env = {"SDXL_BACKEND": FAKE.format("fails_to_load"), "SDXL_MAX_RESTARTS": "2"}
    server = servers(tiny_model, env=env)
    body = server.wait_ping(503, state="failed")
    assert body["slots"][0]["state"] == "failed"
    refused = server.invoke({"prompt": "x"})
    assert refused.status_code == 503 and refused.json()["error"]["type"] == "not_ready"
    log = server.log_text()
    assert log.count("cannot load: device unavailable (fake)") >= 2  # tried, retried, gave up
    assert "failed 2 times in a row; giving up" in log
    assert server.proc.poll() is None  # the front stays up to answer /ping with 503


def test_exception_in_generate_is_500_without_trace_and_worker_survives(
    servers: ServerFactory, tiny_model: Path
) -> None:
    server = servers(tiny_model, env={"SDXL_BACKEND": FAKE.format("raises")})
    server.wait_ping(200)
    [pid] = server.worker_pids()
    response = server.invoke({"prompt": "raise"}, headers={"X-Amzn-SageMaker-Inference-Id": "boom-1"})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "internal_error" and error["inference_id"] == "boom-1"
    assert SECRET not in response.text and "Traceback" not in response.text
    assert "boom-1" in server.log_text() and SECRET in server.log_text()  # full trace in the log
    assert server.worker_pids() == [pid] and pid_alive(pid)
    assert server.invoke({"prompt": "fine"}).status_code == 200


def test_worker_death_fails_only_its_request_and_is_replaced(servers: ServerFactory, tiny_model: Path) -> None:
    env = {"SDXL_BACKEND": FAKE.format("dies"), "FAKE_GENERATE_S": "0.3"}
    server = servers(tiny_model, env=env)
    server.wait_ping(200)
    [old] = server.worker_pids()
    with ThreadPoolExecutor(5) as pool:
        doomed = pool.submit(server.invoke, {"prompt": "die"}, {"X-Amzn-SageMaker-Inference-Id": "dead-1"})
        time.sleep(0.1)  # the rest queue behind it
        queued = [pool.submit(server.invoke, {"prompt": f"ok{i}", "seed": i}) for i in range(4)]
        died = doomed.result()
        assert died.status_code == 500
        assert died.json()["error"]["type"] == "worker_died"
        assert died.json()["error"]["inference_id"] == "dead-1"
        assert "exit code 7" in died.json()["error"]["message"]
        assert [f.result().status_code for f in queued] == [200] * 4  # nothing queued was lost
    new = wait_for_new_pid(server, old)
    assert server.ping().json()["slots"][0]["restarts"] == 1
    assert not pid_alive(old) and pid_alive(new)


def test_kill_9_of_a_busy_worker_under_load(servers: ServerFactory, tiny_model: Path) -> None:
    env = {"SDXL_BACKEND": FAKE.format("ok"), "SDXL_WORKERS": "2", "FAKE_GENERATE_S": "0.4"}
    server = servers(tiny_model, env=env)
    server.wait_ping(200)
    victim = server.worker_pids()[0]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(server.invoke, {"prompt": f"p{i}"}) for i in range(16)]
        time.sleep(0.6)
        os.kill(victim, signal.SIGKILL)
        codes = [f.result().status_code for f in futures]
    assert codes.count(500) <= 1  # at most the one request the victim was running
    assert codes.count(200) >= 15
    body = server.wait_ping(200)
    deadline = time.monotonic() + 30
    while body["workers"]["ready"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        body = server.wait_ping(200)
    assert body["workers"] == {"ready": 2, "total": 2}
    assert victim not in server.worker_pids()
