"""The result cache's two request-path guarantees, through the real server (issue 14):

- the local tier is written before the response is released, so an identical request sent right
  after a response is a hit;
- identical cacheable requests in flight share one job: one render, the same bytes for all, each
  keeping its own inference id; a waiter that times out or goes away does not cancel the job for
  the others.

The `noisy` fake renders random pixels on every call, so identical bytes prove one render; `sleeps`
holds its worker for the seconds its prompt names.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import ServerFactory
from tests.emf import datapoints, metric_sum, wait_metrics
from tests.server import FAKE, Server, request_log

JSON = {"Accept": "application/json"}


def start(servers: ServerFactory, model: Path, tmp_path: Path, fake: str = "noisy", **env: str) -> Server:
    cache = {"SDXL_CACHE_DIR": str(tmp_path / "cache"), "SDXL_BACKEND": FAKE.format(fake), "SDXL_WORKERS": "1"}
    server = servers(model, env={**cache, **env})
    server.wait_ping(200)
    return server


def invoke_as(server: Server, body: dict[str, object], inference_id: str, **kwargs: object) -> requests.Response:
    headers = {**JSON, "X-Amzn-SageMaker-Inference-Id": inference_id}
    return server.invoke(body, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_an_identical_request_right_after_the_response_is_a_hit(
    servers: ServerFactory, tiny_model: Path, tmp_path: Path
) -> None:
    server = start(servers, tiny_model, tmp_path)
    pairs = []
    with requests.Session() as session:  # one keep-alive connection, back to back, nothing in between
        for seed in range(20):  # a write racing the next request would lose some of these
            first = server.invoke({"prompt": "a cat", "seed": seed}, session=session)
            second = server.invoke({"prompt": "a cat", "seed": seed}, session=session)
            pairs.append((first.headers["X-Cache"], second.headers["X-Cache"], first.content == second.content))
    assert pairs == [("miss", "hit", True)] * 20


def test_four_identical_requests_at_once_render_once(servers: ServerFactory, tiny_model: Path, tmp_path: Path) -> None:
    server = start(servers, tiny_model, tmp_path, FAKE_GENERATE_S="1.0")
    started = time.monotonic()
    alone = invoke_as(server, {"prompt": "a dog", "seed": 1}, "alone")
    one = time.monotonic() - started
    body = {"prompt": "a cat", "seed": 2}
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: invoke_as(server, body, f"same-{i}").json(), range(4)))
    four = time.monotonic() - started
    assert alone.status_code == 200
    assert sorted(a["cache"] for a in answers) == ["coalesced"] * 3 + ["miss"]
    assert len({a["images"][0] for a in answers}) == 1  # random pixels: one render shared by all four
    assert len({str(a["timings_ms"]["inference"]) for a in answers}) == 1  # its one inference timing
    assert sorted(a["inference_id"] for a in answers) == [f"same-{i}" for i in range(4)]
    assert four < 1.3 * one, (four, one)  # rendered 4 times it would take ~4x
    ids = {f"same-{i}" for i in range(4)}
    points = datapoints(wait_metrics(server, 5))
    assert metric_sum(points, "ImagesGenerated") == 2  # "alone"'s image and the one the four shared
    assert metric_sum(points, "CoalescedRequests") == 3 and metric_sum(points, "NumberOfInferenceRequests") == 5
    logged = [e["cache"] for i in sorted(ids) for e in request_log(server, i)]
    assert sorted(logged) == ["coalesced"] * 3 + ["miss"]


def test_a_waiter_that_times_out_while_queued_does_not_cancel_the_job_for_the_others(
    servers: ServerFactory, tiny_model: Path, tmp_path: Path
) -> None:
    # One worker, 3 s timeout. "sleep 4" holds the worker until t=4. The leader (t=0.3, deadline 3.3)
    # times out while its job is still queued; the waiter (t=2.3, deadline 5.3) joined that job and
    # must still get it once the worker is free at t=4.
    server = start(servers, tiny_model, tmp_path, fake="sleeps", SDXL_REQUEST_TIMEOUT_S="3")
    body = {"prompt": "quick", "seed": 9}
    with ThreadPoolExecutor(3) as pool:
        blocker = pool.submit(invoke_as, server, {"prompt": "sleep 4"}, "blocker")
        time.sleep(0.3)
        leader = pool.submit(invoke_as, server, body, "leader")
        time.sleep(2.0)
        waiter = pool.submit(invoke_as, server, body, "waiter")
        assert leader.result().status_code == 504
        answer = waiter.result()
    assert blocker.result().status_code == 504  # it ran past the timeout too; the worker went on
    assert answer.status_code == 200, answer.text
    assert (answer.json()["cache"], answer.json()["inference_id"]) == ("coalesced", "waiter")
    again = invoke_as(server, body, "after")
    assert again.json()["cache"] == "hit" and again.json()["images"] == answer.json()["images"]


def test_a_waiter_whose_client_goes_away_does_not_cancel_the_job(
    servers: ServerFactory, tiny_model: Path, tmp_path: Path
) -> None:
    server = start(servers, tiny_model, tmp_path, FAKE_GENERATE_S="1.5")
    body = {"prompt": "a cat", "seed": 4}
    with ThreadPoolExecutor(2) as pool:
        gone = pool.submit(invoke_as, server, body, "gone", timeout=0.5)
        time.sleep(0.2)
        stays = pool.submit(invoke_as, server, body, "stays")
        with pytest.raises(requests.ReadTimeout):
            gone.result()
        answer = stays.result()
    assert (answer.status_code, answer.json()["cache"]) == (200, "coalesced")
    points = datapoints(wait_metrics(server, 2))  # "gone" is answered too (into a closed socket), then counted
    assert [e["cache"] for e in request_log(server, "gone")] == ["miss"]
    assert metric_sum(points, "NumberOfInferenceRequests") == 2
    assert metric_sum(points, "ImagesGenerated") == 1  # warm-up renders emit nothing


def test_without_a_cache_identical_requests_are_each_rendered(servers: ServerFactory, tiny_model: Path) -> None:
    server = servers(tiny_model, env={"SDXL_BACKEND": FAKE.format("noisy"), "SDXL_WORKERS": "1"})
    server.wait_ping(200)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda i: invoke_as(server, {"prompt": "x", "seed": 1}, f"n-{i}").json(), range(2)))
    assert [a["cache"] for a in answers] == ["off", "off"]
    assert answers[0]["images"] != answers[1]["images"]
