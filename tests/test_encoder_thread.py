"""The worker's encoder thread (SDXL_ENCODE=thread, the default): a worker takes the next job when
its generation ends, the previous job's response follows its encode, and a worker that dies or
hangs in an encode fails exactly the jobs it holds while every queued job still runs."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import ServerFactory
from tests.server import FAKE, Server, pid_alive

ENCODES = FAKE.format("encodes")
JSON = {"Accept": "application/json"}


def send_after(pool: ThreadPoolExecutor, server: Server, delay_s: float, prompt: str, name: str) -> object:
    """Submit one request `delay_s` from now, named by its inference id; the future gives
    (response, monotonic time it arrived)."""

    def call() -> tuple[requests.Response, float]:
        time.sleep(delay_s)
        response = server.invoke({"prompt": prompt, "seed": 1}, {**JSON, "X-Amzn-SageMaker-Inference-Id": name})
        return response, time.monotonic()

    return pool.submit(call)


@pytest.mark.parametrize("mode", ["thread", "inline"])
def test_next_job_generates_while_the_previous_one_encodes(servers: ServerFactory, tiny_model: Path, mode: str) -> None:
    server = servers(tiny_model, env={"SDXL_BACKEND": ENCODES, "SDXL_ENCODE": mode})
    server.wait_ping(200)
    with ThreadPoolExecutor(2) as pool:
        slow = send_after(pool, server, 0, "encode sleep 1.5", "slow-encode")
        # the second encode takes 0.3 s too, so the order of the answers is not left to a sub-millisecond race
        fast = send_after(pool, server, 0.3, "encode sleep 0.3", "fast")
        (first, first_at), (second, second_at) = slow.result(), fast.result()  # type: ignore[attr-defined]
    assert first.status_code == second.status_code == 200
    assert first.json()["timings_ms"]["encode"] >= 1500
    queued_ms = second.json()["timings_ms"]["queue"]
    if mode == "thread":  # started as soon as the first generation ended, not after its encode
        assert queued_ms < 1000
    else:  # inline: the worker encodes before it takes the next job
        assert queued_ms >= 1000
    assert first_at <= second_at  # one encoder per worker, in order: the earlier job answers first


def test_worker_dying_in_an_encode_fails_exactly_the_jobs_it_holds(servers: ServerFactory, tiny_model: Path) -> None:
    server = servers(tiny_model, env={"SDXL_BACKEND": ENCODES})
    server.wait_ping(200)
    [old] = server.worker_pids()
    with ThreadPoolExecutor(4) as pool:
        encoding = send_after(pool, server, 0, "encode die", "died-encoding")  # dies 2 s into its encode
        generating = send_after(pool, server, 0.3, "sleep 6", "died-generating")  # taken while the other encodes
        queued = [send_after(pool, server, 0.6, f"ok {i}", f"queued-{i}") for i in range(2)]
        held = [encoding.result()[0], generating.result()[0]]  # type: ignore[attr-defined]
        waited = [f.result()[0] for f in queued]  # type: ignore[attr-defined]
    for response, name in zip(held, ["died-encoding", "died-generating"], strict=True):
        assert response.status_code == 500, response.text
        error = response.json()["error"]
        assert error["type"] == "worker_died" and error["inference_id"] == name
        assert "exit code 9" in error["message"]
    assert [r.status_code for r in waited] == [200, 200]  # nothing queued was lost: the replacement ran them
    assert not pid_alive(old)
    assert server.ping().json()["slots"][0]["restarts"] == 1


def test_a_hung_encode_times_out_and_the_worker_is_replaced(servers: ServerFactory, tiny_model: Path) -> None:
    env = {"SDXL_BACKEND": ENCODES, "SDXL_REQUEST_TIMEOUT_S": "1", "SDXL_STUCK_GRACE_S": "0.5"}
    server = servers(tiny_model, env=env)
    server.wait_ping(200)
    [old] = server.worker_pids()
    response = server.invoke({"prompt": "encode hang"}, headers={"X-Amzn-SageMaker-Inference-Id": "hung"})
    assert response.status_code == 504 and response.json()["error"]["inference_id"] == "hung"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.worker_pids() in ([old], [None]):
        time.sleep(0.2)
    server.wait_ping(200)
    assert server.worker_pids() != [old] and not pid_alive(old)
    assert "stuck on inference hung; killing it" in server.log_text()
    assert server.invoke({"prompt": "fine"}).status_code == 200
