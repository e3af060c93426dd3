"""The in-flight table (container/inflight.py) on its own: threads and futures, no server."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sdxl_inf2.container.inflight import InFlight
from sdxl_inf2.container.jobs import Job, JobResult
from sdxl_inf2.core.errors import QueueFull, RequestTimeout, WorkerDied
from sdxl_inf2.core.schema import GenerationParams

PARAMS = GenerationParams("p", None, None, None, 2, 5.0, 1, 64, 64, 1, "default", "png", None)
RESULT = JobResult([b"image"], 0, {"inference": 1.0})


class Queue:
    """Stands in for the pool: records submitted jobs; the test finishes them by hand."""

    def __init__(self, refuse: bool = False) -> None:
        self.jobs: list[Job] = []
        self.refuse = refuse

    def submit(self, job: Job) -> Job:
        if self.refuse:
            raise QueueFull("full", inference_id=job.inference_id)
        self.jobs.append(job)
        return job


def request(inference_id: str, timeout_s: float = 10.0) -> Job:
    return Job(PARAMS, inference_id, timeout_s)


def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)
    assert condition(), "condition never held"  # type: ignore[operator]


def test_identical_requests_share_one_job_and_the_entry_is_stored_before_any_answer() -> None:
    queue, events = Queue(), []

    def store(key: str, images: list[bytes]) -> None:
        events.append("store start")
        time.sleep(0.2)
        events.append("store end")

    inflight = InFlight(queue.submit, store)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(inflight.run, "k", request(f"r{i}")) for i in range(4)]
        wait_until(lambda: len(queue.jobs) == 1 and queue.jobs[0].deadline > 0)
        time.sleep(0.1)  # let the other three join
        queue.jobs[0].future.set_result(RESULT)
        outcomes = []
        for future in futures:
            outcomes.append(future.result())
            events.append("answered")
    assert len(queue.jobs) == 1
    assert sorted(o.coalesced for o in outcomes) == [False, True, True, True]
    assert all(o.result is RESULT and o.job is queue.jobs[0] for o in outcomes)
    assert events == ["store start", "store end"] + ["answered"] * 4
    assert len(inflight) == 0


def test_a_timed_out_waiter_leaves_the_job_to_the_others_and_the_last_one_out_cancels_it() -> None:
    queue, stored = Queue(), []
    inflight = InFlight(queue.submit, lambda key, images: stored.append(key))
    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(inflight.run, "k", request("a", 0.2))
        wait_until(lambda: len(queue.jobs) == 1)
        waiter = pool.submit(inflight.run, "k", request("b", 0.6))
        with pytest.raises(RequestTimeout):
            leader.result()
        assert not queue.jobs[0].future.cancelled()  # "b" still waits for it
        with pytest.raises(RequestTimeout) as raised:
            waiter.result()
    assert raised.value.inference_id == "b"
    assert queue.jobs[0].future.cancelled()  # nobody left: dropped while still queued
    assert len(inflight) == 0 and stored == []


def test_a_job_whose_waiters_all_left_is_still_stored_when_it_finishes() -> None:
    queue, stored = Queue(), []
    inflight = InFlight(queue.submit, lambda key, images: stored.append((key, images)))
    with pytest.raises(RequestTimeout):
        job = request("a", 0.1)
        threading.Timer(0.05, lambda: queue.jobs[0].future.set_running_or_notify_cancel()).start()
        inflight.run("k", job)  # running when its only waiter gives up: cannot be cancelled
    assert len(inflight) == 1
    queue.jobs[0].future.set_result(RESULT)
    assert stored == [("k", [b"image"])] and len(inflight) == 0


def test_a_failed_job_fails_every_waiter_under_its_own_id_and_the_next_request_starts_afresh() -> None:
    queue = Queue()
    inflight = InFlight(queue.submit, lambda key, images: None)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(inflight.run, "k", request(f"r{i}")) for i in range(2)]
        wait_until(lambda: len(queue.jobs) == 1)
        time.sleep(0.1)
        queue.jobs[0].future.set_exception(WorkerDied("worker died", inference_id=queue.jobs[0].inference_id))
        errors: list[str | None] = []
        for future in futures:
            with pytest.raises(WorkerDied) as raised:
                future.result()
            errors.append(raised.value.inference_id)
    assert sorted(map(str, errors)) == ["r0", "r1"]
    with ThreadPoolExecutor(1) as pool:
        retry = pool.submit(inflight.run, "k", request("r2"))
        wait_until(lambda: len(queue.jobs) == 2)  # a new job, not the failed one
        queue.jobs[1].future.set_result(RESULT)
        assert not retry.result().coalesced


def test_a_refused_submission_leaves_no_flight_behind() -> None:
    inflight = InFlight(Queue(refuse=True).submit, lambda key, images: None)
    with pytest.raises(QueueFull):
        inflight.run("k", request("a"))
    assert len(inflight) == 0
