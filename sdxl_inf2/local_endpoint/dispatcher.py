"""The endpoint's queue: FIFO, at most MaxConcurrentInvocationsPerInstance requests on an instance.

One thread hands the oldest request to the ready instance with the fewest requests in flight
(ties: the lowest slot), whenever a request arrives, a request finishes or an instance changes. Each
attempt runs on a thread of its own; its slot is free again as soon as the container has answered,
before the result is written. A request that waits longer than its RequestTTLSeconds expires. A
request whose instance is lost mid-way goes back to the head of the queue and is delivered again (at
least once, like SageMaker's internal queue), up to MAX_ATTEMPTS deliveries.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from . import request as wording
from .events import EventLog
from .instances import Fleet, Instance
from .request import AsyncRequest, Outcome

MAX_ATTEMPTS = 3
IDLE_WAKE_S = 1.0  # re-check expiries at least this often

Attempt = Callable[[Instance, AsyncRequest], Outcome]
Finish = Callable[[AsyncRequest, Outcome], None]


@dataclass(frozen=True)
class Backlog:
    queued: int
    in_flight: int
    oldest_age_s: float  # of the requests still waiting in the queue

    @property
    def size(self) -> int:
        return self.queued + self.in_flight


class Dispatcher:
    def __init__(self, fleet: Fleet, max_concurrency: int, attempt: Attempt, finish: Finish, events: EventLog):
        self.fleet, self.max_concurrency = fleet, max_concurrency
        self.attempt, self.finish, self.events = attempt, finish, events
        self.queue: deque[AsyncRequest] = deque()
        self.in_flight: dict[Instance, int] = {}
        self.changed = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def submit(self, request: AsyncRequest) -> None:
        with self.changed:
            self.queue.append(request)
            self.events.request(request.inference_id, "queued")
            self.changed.notify()

    def wake(self) -> None:
        """Something changed outside (an instance became ready or was lost)."""
        with self.changed:
            self.changed.notify()

    def backlog(self) -> Backlog:
        now = time.monotonic()
        with self.changed:
            oldest = max((r.age_s(now) for r in self.queue), default=0.0)
            return Backlog(len(self.queue), sum(self.in_flight.values()), oldest)

    def stop(self) -> None:
        with self.changed:
            self.stopping = True
            waiting = len(self.queue)
            self.changed.notify()
        self.thread.join(timeout=5)
        if waiting:
            self.events.event(f"{waiting} queued request(s) left unfinished: the endpoint is stopping")

    def _run(self) -> None:
        while True:
            with self.changed:
                if self.stopping:
                    return
                expired = self._take_expired()
                handed = self._assign()
                if not expired and not handed:
                    self.changed.wait(self._wait_s())
            for request in expired:
                self._spawn(self._expire, request)
            for instance, request in handed:
                self._spawn(self._deliver, instance, request)

    def _take_expired(self) -> list[AsyncRequest]:
        now = time.monotonic()
        expired = [r for r in self.queue if r.age_s(now) > r.ttl_s]
        for request in expired:
            self.queue.remove(request)
        return expired

    def _assign(self) -> list[tuple[Instance, AsyncRequest]]:
        handed = []
        while self.queue:
            free = [i for i in self.fleet.ready() if self.in_flight.get(i, 0) < self.max_concurrency]
            if not free:
                break
            instance = min(free, key=lambda i: (self.in_flight.get(i, 0), i.slot))
            request = self.queue.popleft()
            request.attempts += 1
            request.dispatched = time.monotonic()
            held = self.in_flight[instance] = self.in_flight.get(instance, 0) + 1
            self.events.request(
                request.inference_id,
                f"dispatched to instance {instance.slot} (attempt {request.attempts}, {held} in flight there)",
            )
            handed.append((instance, request))
        return handed

    def _wait_s(self) -> float:
        now = time.monotonic()
        until_expiry = min((r.ttl_s - r.age_s(now) for r in self.queue), default=IDLE_WAKE_S)
        return max(0.01, min(IDLE_WAKE_S, until_expiry))

    @staticmethod
    def _spawn(target: Callable[..., None], *args: object) -> None:
        threading.Thread(target=target, args=args, daemon=True).start()

    def _expire(self, request: AsyncRequest) -> None:
        reason = wording.expired(request.age_s(), request.ttl_s)
        self.finish(request, Outcome("expired", reason=reason))

    def _deliver(self, instance: Instance, request: AsyncRequest) -> None:
        try:
            outcome = self.attempt(instance, request)
        except Exception as exc:  # a bug must not leave the slot taken or the request unanswered
            outcome = Outcome("failed", reason=f"InternalFailure: {type(exc).__name__}: {exc}", instance=instance.slot)
        with self.changed:
            self.in_flight[instance] -= 1
            if not self.in_flight[instance]:
                del self.in_flight[instance]
            requeue = outcome.status == "lost" and request.attempts < MAX_ATTEMPTS and not self.stopping
            if requeue:
                self.queue.appendleft(request)
                self.events.request(
                    request.inference_id,
                    f"requeued: lost instance {instance.slot} (attempt {request.attempts} of {MAX_ATTEMPTS})",
                )
            self.changed.notify()
        if outcome.status == "lost" and self.stopping:
            self.events.request(request.inference_id, "left unfinished: the endpoint is stopping")
            return
        if outcome.status == "lost":
            self.fleet.report_lost(instance)
            if not requeue:
                reason = wording.lost_too_often(request.attempts)
                outcome = Outcome("failed", reason=reason, instance=instance.slot)
        if not requeue:
            self.finish(request, outcome)
