"""Coalescing: identical cacheable requests in flight share one job.

The first miss for a cache key submits a job (it leads a *flight*); identical requests arriving
while that job is queued or running join the flight instead of being queued again. Every waiter
keeps its own deadline and inference id. A waiter that times out (or whose client is gone) leaves
without cancelling the job for the others: the job is cancelled only if it is still queued when the
last waiter leaves. When the job is done, the first waiter to see the result writes the local
cache tier, once, while the others wait for that write, so every response of the flight goes out
after the entry exists ("response received" implies "the next identical request is a hit"). A
flight whose waiters all left is settled by the job's completion instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sdxl_inf2.core.errors import ServingError

from .jobs import Job, JobResult

Store = Callable[[str, list[bytes]], None]  # writes a finished result to the cache


class Flight:
    """One job and the requests waiting for it."""

    def __init__(self, key: str, job: Job) -> None:
        self.key, self.job = key, job
        self.waiters = 1  # the leader
        self.settled = False  # result stored (or job cancelled/failed): nothing left to do
        # Re-entrant: cancelling the job under this lock runs its done-callback, which takes it again.
        self.lock = threading.RLock()

    def try_join(self, deadline: float) -> bool:
        """Add a waiter; False when the job can no longer give it a result (cancelled or failed)."""
        with self.lock:
            future = self.job.future
            if future.cancelled() or (future.done() and future.exception() is not None):
                return False
            self.waiters += 1
            self.job.extend_deadline(deadline)  # the runner must not give up on it before this waiter
            return True


@dataclass(frozen=True)
class Outcome:
    job: Job  # the job that ran (the flight's, not necessarily this request's own)
    result: JobResult
    coalesced: bool  # True: this request joined another request's job


class InFlight:
    """The table of flights by cache key, shared by the front's request threads."""

    def __init__(self, submit: Callable[[Job], Job], store: Store) -> None:
        self._submit, self._store = submit, store
        self._flights: dict[str, Flight] = {}
        self._lock = threading.Lock()

    def run(self, key: str, job: Job) -> Outcome:
        """Run `job` (this request) or join the identical one in flight; blocks until a result."""
        deadline = job.deadline  # this request's own: joiners may extend the job's
        flight, leader = self._lead_or_join(key, job)
        try:
            result = flight.job.wait(deadline, job.inference_id)
        except ServingError as error:  # timed out, or the job failed: this waiter leaves
            self._leave(flight)
            raise error if leader else _for_waiter(error, job) from None
        self._settle(flight, result)
        return Outcome(flight.job, result, coalesced=not leader)

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)

    def _lead_or_join(self, key: str, job: Job) -> tuple[Flight, bool]:
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None and flight.try_join(job.deadline):
                return flight, False
            flight = Flight(key, self._submit(job))  # QueueFull/NotReady: no flight is left behind
            self._flights[key] = flight
        job.future.add_done_callback(lambda _: self._finish_if_orphaned(flight))
        return flight, True

    def _leave(self, flight: Flight) -> None:
        with flight.lock:
            flight.waiters -= 1
        self._finish_if_orphaned(flight)

    def _settle(self, flight: Flight, result: JobResult) -> None:
        with flight.lock:  # the other waiters of this flight wait here until the entry is written
            if not flight.settled:
                self._store(flight.key, result.images)
                flight.settled = True
        self._remove(flight)

    def _finish_if_orphaned(self, flight: Flight) -> None:
        """No waiter left: cancel the job if still queued, else store its result when it has one."""
        with flight.lock:
            if flight.waiters > 0 or flight.settled:
                return
            future = flight.job.future
            if not future.done() and not future.cancel():
                return  # running: its completion calls this again
            if future.done() and not future.cancelled() and future.exception() is None:
                self._store(flight.key, future.result().images)
            flight.settled = True
        self._remove(flight)

    def _remove(self, flight: Flight) -> None:
        with self._lock:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]


def _for_waiter(error: ServingError, job: Job) -> ServingError:
    """The flight's error, addressed to this waiter's own inference id (exceptions are not shared)."""
    return type(error)(error.message, field=error.field, inference_id=job.inference_id)
