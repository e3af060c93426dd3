"""container/dispatch.py without processes: who gets which job, in what order, and what a full
queue, an abandoned job and a withdrawn worker do."""

from __future__ import annotations

import threading

from sdxl_inf2.container.dispatch import Dispatcher
from sdxl_inf2.container.jobs import Job
from sdxl_inf2.core.schema import GenerationParams

PARAMS = GenerationParams("p", None, None, None, 2, 5.0, 1, 64, 64, 1, "default", "png", None)


class Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.taken: list[Job] = []

    def take(self, job: Job) -> None:
        self.taken.append(job)


def job(name: str) -> Job:
    return Job(PARAMS, name, 60)


def test_an_idle_worker_takes_a_new_job_at_once_longest_idle_first() -> None:
    dispatch = Dispatcher(max_queue=4)
    first, second = Worker("a"), Worker("b")
    dispatch.free(first)
    dispatch.free(second)
    one, two = job("1"), job("2")
    assert dispatch.submit(one) and dispatch.submit(two)
    assert first.taken == [one] and second.taken == [two]
    assert one.future.running() and dispatch.queued() == 0


def test_waiting_jobs_go_first_in_first_out_to_whichever_worker_frees() -> None:
    dispatch = Dispatcher(max_queue=4)
    jobs = [job(str(i)) for i in range(3)]
    assert all(dispatch.submit(j) for j in jobs)
    assert dispatch.queued() == 3
    worker = Worker("a")
    dispatch.free(worker)
    dispatch.free(worker)
    assert worker.taken == jobs[:2] and dispatch.queued() == 1


def test_a_full_queue_refuses_and_zero_means_nothing_waits() -> None:
    dispatch = Dispatcher(max_queue=1)
    assert dispatch.submit(job("1"))
    assert not dispatch.submit(job("2"))
    none_wait = Dispatcher(max_queue=0)
    assert not none_wait.submit(job("3"))
    none_wait.free(worker := Worker("a"))
    assert none_wait.submit(started := job("4")) and worker.taken == [started]


def test_an_abandoned_waiting_job_is_skipped() -> None:
    dispatch = Dispatcher(max_queue=4)
    dropped, kept = job("timed-out"), job("kept")
    dispatch.submit(dropped)
    dispatch.submit(kept)
    dropped.abandon()
    dispatch.free(worker := Worker("a"))
    assert worker.taken == [kept]


def test_a_withdrawn_worker_takes_nothing_more() -> None:
    dispatch = Dispatcher(max_queue=4)
    gone, other = Worker("gone"), Worker("other")
    dispatch.free(gone)
    dispatch.free(other)
    dispatch.withdraw(gone)
    dispatch.submit(one := job("1"))
    dispatch.submit(two := job("2"))
    assert gone.taken == [] and other.taken == [one]
    assert dispatch.drain() == [two] and dispatch.queued() == 0


def test_every_job_is_taken_exactly_once_under_contention() -> None:
    dispatch = Dispatcher(max_queue=10_000)
    workers = [Worker(str(i)) for i in range(4)]
    jobs = [job(str(i)) for i in range(2000)]

    def submit(chunk: list[Job]) -> None:
        for j in chunk:
            assert dispatch.submit(j)

    def serve(worker: Worker) -> None:
        for _ in range(500):
            dispatch.free(worker)

    threads = [threading.Thread(target=submit, args=(jobs[i::4],)) for i in range(4)]
    threads += [threading.Thread(target=serve, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [j for w in workers for j in w.taken]
    assert len(taken) + dispatch.queued() == len(jobs)
    assert len({id(j) for j in taken}) == len(taken)
