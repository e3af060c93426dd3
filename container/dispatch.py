"""Hands jobs to free workers: straight to an idle one, else through a bounded first-in-first-out queue.

One `Dispatcher` per job queue. A request that finds a worker idle starts its job on that worker
itself, in the request's own thread, so no other thread has to wake up before the worker starts
(bench/dispatch measured that wake-up on the critical path at concurrency = workers). A worker
that becomes free takes the oldest waiting job, in the runner thread that noticed. So a free
worker always takes the next job, and a waiting job always goes to the first worker to free up.

Everything here happens under one lock, and so does `Taker.take`: a worker is either idle (listed
here) or holds a job, never both, and a worker that leaves (`withdraw`) gets nothing afterwards.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

from .jobs import Job


class Taker(Protocol):
    """A worker slot's runner: starts a job on its worker (called under the dispatcher's lock)."""

    def take(self, job: Job) -> None: ...


class Dispatcher:
    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self.lock = threading.Lock()
        self.waiting: deque[Job] = deque()
        self.idle: deque[Taker] = deque()  # longest idle first

    def submit(self, job: Job) -> bool:
        """Start `job` on an idle worker, else queue it; False if `max_queue` jobs already wait."""
        with self.lock:
            if self.idle:
                if job.future.set_running_or_notify_cancel():
                    self.idle.popleft().take(job)
                return True
            if len(self.waiting) >= self.max_queue:
                return False
            self.waiting.append(job)
            return True

    def free(self, taker: Taker) -> None:
        """`taker`'s worker can run a job: start the oldest waiting one, else list it as idle.
        Jobs abandoned while they waited (timed out) are dropped on the way."""
        with self.lock:
            while self.waiting:
                job = self.waiting.popleft()
                if job.future.set_running_or_notify_cancel():
                    taker.take(job)
                    return
            self.idle.append(taker)

    def withdraw(self, taker: Taker) -> None:
        """`taker`'s worker is gone or stopping: it takes nothing more. Returns with no `take` running."""
        with self.lock:
            if taker in self.idle:
                self.idle.remove(taker)

    def drain(self) -> list[Job]:
        """Remove and return every waiting job (shutdown)."""
        with self.lock:
            jobs = list(self.waiting)
            self.waiting.clear()
            return jobs

    def queued(self) -> int:
        return len(self.waiting)
