"""The async endpoint: SageMaker's FIFO queue with its TTL, instances, and the workers inside them.

Costs one SimPy event per request (its completion), one per instance start and one per minute:
- the queue is a pointer into the sorted arrival times (`head`): what has arrived and is not yet
  taken is queued; requests leave it in arrival order, and one older than the TTL expires;
- a free slot takes the next request at once, even one that arrives later within the current
  minute (it starts on arrival), so an idle endpoint needs no arrival events; a slot with nothing
  to take before the next minute waits in `idle`, which the minute's control step refills;
  scaling acts only on minute boundaries, so no such reservation outlives a scaling decision;
- an instance takes up to `max_concurrency` requests (MaxConcurrentInvocationsPerInstance) and
  runs `workers` at once; more wait inside the container, fewer leave workers idle;
- scale-in cancels instances still starting first (newest first), then drains in-service ones
  with the least work: a draining instance takes nothing new and ends when its work is done.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import simpy
from simpy.events import Timeout

from .heartbeat import InService

PENDING, IN_SERVICE, DRAINING, ENDED = "pending", "in service", "draining", "ended"


@dataclass(frozen=True)
class Shape:
    """What one instance is: workers, concurrency, start-up time; and the queue's TTL."""

    workers: int
    max_concurrency: int
    startup_s: float
    ttl_s: float


class Instance:
    __slots__ = ("busy", "ended_s", "in_flight", "launched_s", "number", "ready_s", "state", "waiting")

    def __init__(self, number: int, now: float, state: str) -> None:
        self.number = number
        self.launched_s = now
        self.ready_s = now if state == IN_SERVICE else math.nan
        self.ended_s = math.nan
        self.state = state
        self.in_flight = 0  # taken from SageMaker's queue, not finished
        self.busy = 0  # workers rendering
        self.waiting: deque[int] = deque()  # taken, waiting inside the container for a worker


class Endpoint:
    def __init__(self, env: simpy.Environment, arrivals: list[float], service: list[float], shape: Shape) -> None:
        self.env = env
        self.arrival = arrivals  # sorted; only requests that reach the queue (cache misses)
        self.service = service
        self.shape = shape
        self.head = 0  # next request to leave the queue
        self.start = [math.nan] * len(arrivals)  # when a worker started it
        self.done = [math.nan] * len(arrivals)
        self.expired = 0
        self.finished = 0
        self.finished_per_minute: list[int] = []
        self.instances: list[Instance] = []
        self.idle: dict[int, Instance] = {}  # in service, a free slot, nothing to take before the next minute
        self.heartbeat = InService()  # instances in service or draining, over time

    # --- what the control loop reads -------------------------------------------------------------
    def count(self, *states: str) -> int:
        return sum(1 for instance in self.instances if instance.state in states)

    def backlog(self, now: float) -> int:
        """Arrived, not taken, not expired (the reservations above are never of arrived requests)."""
        return max(0, bisect.bisect_right(self.arrival, now) - self.head)

    def updating(self) -> bool:
        return any(instance.state == PENDING for instance in self.instances)

    def resolved(self) -> bool:
        return self.finished + self.expired == len(self.arrival)

    # --- scaling ----------------------------------------------------------------------------------
    def start_with(self, count: int) -> None:
        """Instances already in service at t = 0."""
        for _ in range(count):
            instance = Instance(len(self.instances), self.env.now, IN_SERVICE)
            self.instances.append(instance)
            self.idle[instance.number] = instance
            self.heartbeat.change(self.env.now, 1)

    def resize(self, desired: int) -> None:
        active = [i for i in self.instances if i.state in (PENDING, IN_SERVICE)]
        for _ in range(desired - len(active)):
            self._launch()
        surplus = len(active) - desired
        if surplus > 0:
            pending = [i for i in reversed(active) if i.state == PENDING]
            serving = sorted((i for i in active if i.state == IN_SERVICE), key=lambda i: (i.in_flight, -i.number))
            for instance in (pending + serving)[:surplus]:
                self._remove(instance)

    def _launch(self) -> None:
        instance = Instance(len(self.instances), self.env.now, PENDING)
        self.instances.append(instance)
        started = self.env.timeout(self.shape.startup_s)
        started.callbacks.append(lambda _: self._ready(instance))

    def _ready(self, instance: Instance) -> None:
        if instance.state != PENDING:
            return  # cancelled by a scale-in while it started
        instance.state, instance.ready_s = IN_SERVICE, self.env.now
        self.heartbeat.change(self.env.now, 1)
        self._fill(instance, self._next_minute())

    def _remove(self, instance: Instance) -> None:
        self.idle.pop(instance.number, None)
        if instance.state == PENDING:
            instance.state, instance.ended_s = ENDED, self.env.now
        elif instance.in_flight == 0:
            self._end(instance)
        else:
            instance.state = DRAINING

    def _end(self, instance: Instance) -> None:
        """An instance that served (in service or draining) stops."""
        instance.state, instance.ended_s = ENDED, self.env.now
        self.heartbeat.change(self.env.now, -1)

    # --- requests ---------------------------------------------------------------------------------
    def _next_minute(self) -> float:
        return 60.0 * (math.floor(self.env.now / 60) + 1)

    def _take(self, before: float) -> int | None:
        """The next request arriving before `before`; requests past their TTL expire on the way."""
        arrival, now, ttl = self.arrival, self.env.now, self.shape.ttl_s
        while self.head < len(arrival):
            index = self.head
            if arrival[index] >= before:
                return None
            self.head += 1
            if now - arrival[index] < ttl:
                return index
            self.expired += 1
        return None

    def expire_queued(self) -> None:
        """At a minute boundary: requests older than the TTL leave the head of the queue."""
        arrival, now, ttl = self.arrival, self.env.now, self.shape.ttl_s
        while self.head < len(arrival) and now - arrival[self.head] >= ttl:
            self.head += 1
            self.expired += 1

    def _fill(self, instance: Instance, before: float) -> None:
        while instance.in_flight < self.shape.max_concurrency:
            index = self._take(before)
            if index is None:
                self.idle[instance.number] = instance
                return
            self._dispatch(instance, index)

    def refill(self) -> None:
        """The minute's step: idle slots take this minute's arrivals, one instance after another in turn."""
        self.expire_queued()
        before, limit = self.env.now + 60.0, self.shape.max_concurrency
        waiting = [i for i in self.idle.values() if i.state == IN_SERVICE]
        self.idle = {}
        while waiting:
            still_free = []
            for instance in waiting:
                index = self._take(before)
                if index is None:
                    self.idle.update((i.number, i) for i in waiting if i.in_flight < limit)
                    return
                self._dispatch(instance, index)
                if instance.in_flight < limit:
                    still_free.append(instance)
            waiting = still_free

    def _dispatch(self, instance: Instance, index: int) -> None:
        instance.in_flight += 1
        if instance.busy < self.shape.workers:
            self._begin(instance, index)
        else:
            instance.waiting.append(index)

    def _begin(self, instance: Instance, index: int) -> None:
        now = self.env.now
        begins = max(now, self.arrival[index])
        ends = begins + self.service[index]
        self.start[index], self.done[index] = begins, ends
        instance.busy += 1
        Timeout(self.env, ends - now, (instance, index)).callbacks.append(self._finish)

    def _finish(self, event: Any) -> None:
        instance, index = event.value
        self.finished += 1
        minute = int(self.done[index] // 60)
        per_minute = self.finished_per_minute
        if minute >= len(per_minute):
            per_minute.extend([0] * (minute + 1 - len(per_minute)))
        per_minute[minute] += 1
        instance.busy -= 1
        instance.in_flight -= 1
        if instance.waiting:
            self._begin(instance, instance.waiting.popleft())
        if instance.state == DRAINING:
            if instance.in_flight == 0:
                self._end(instance)
            return
        index = self._take(self._next_minute())
        if index is None:
            self.idle[instance.number] = instance
        else:
            self._dispatch(instance, index)
