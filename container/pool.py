"""The job queues and the model workers behind them; lives in the front process.

One `Lane` per artifact variant: its own dispatcher (container/dispatch.py: a queue SDXL_MAX_QUEUE
deep and the list of idle workers) and the worker slots that load that variant's model (a single
model folder is one lane). One `SlotRunner` thread per worker slot (container/runner.py) owns that
slot's worker process. A job goes straight to an idle worker of its lane, else waits for the first
one to free up, so within a variant a free worker always takes the next job (no request waits
behind a busy worker while another idles), and a variant whose workers are all busy never delays
another's. Because each runner knows exactly which jobs its worker holds, a worker's death fails
those requests (500 with the inference id) and leaves every queued request for the lane's other
workers and the replacement.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sdxl_inf2.core.errors import NotReady, QueueFull

from .config import Settings
from .devices import WorkerSlot
from .dispatch import Dispatcher
from .jobs import Job
from .runner import LIVE, SlotRunner, SlotState
from .worker import WorkerConfig


@dataclass(frozen=True)
class PoolStatus:
    state: str  # loading | ready | restarting (a variant has no live worker) | failed | stopping
    workers_ready: int
    workers_total: int
    queued: int
    slots: list[dict[str, Any]]
    variants: dict[str, dict[str, Any]]

    @property
    def healthy(self) -> bool:
        return self.state == "ready"


class Lane:
    """One variant's queue and the runners of the workers that serve it."""

    def __init__(self, name: str, max_queue: int) -> None:
        self.name = name
        self.dispatch = Dispatcher(max_queue)
        self.runners: list[SlotRunner] = []

    @property
    def live(self) -> int:
        return sum(r.state in LIVE for r in self.runners)

    def state(self, pool_state: str) -> str:
        """ready: takes jobs now (while loading: every one of its workers has loaded)."""
        if any(r.state == SlotState.FAILED for r in self.runners):
            return "failed"
        if pool_state == "stopping":
            return pool_state
        if self.live == len(self.runners) or (pool_state != "loading" and self.live):
            return "ready"
        return "loading" if pool_state == "loading" else "restarting"

    def describe(self, pool_state: str) -> dict[str, Any]:
        workers = {"ready": self.live, "total": len(self.runners)}
        return {"status": self.state(pool_state), "workers": workers, "queued": self.dispatch.queued()}


MakeConfig = Callable[[str, WorkerSlot], WorkerConfig]  # (variant, slot) -> what its worker loads


class WorkerPool:
    def __init__(self, settings: Settings, lanes: dict[str, list[WorkerSlot]], make_config: MakeConfig) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self.lanes = {name: Lane(name, settings.max_queue) for name in lanes}
        for name, slots in lanes.items():
            lane = self.lanes[name]
            lane.runners = [SlotRunner(self, lane, slot, make_config(name, slot)) for slot in slots]
        self.runners = [runner for lane in self.lanes.values() for runner in lane.runners]
        self._all_ready_once = threading.Event()

    def start(self) -> None:
        for runner in self.runners:
            runner.thread.start()

    def on_ready(self) -> None:
        if all(r.state in LIVE for r in self.runners):
            self._all_ready_once.set()

    def submit(self, job: Job) -> Job:
        """Start `job` on an idle worker of its variant's lane, else queue it there. Accepted while a
        lane's worker restarts (the job waits for the replacement), refused while loading, failed or
        stopping, or when the lane is full."""
        lane = self.lanes[job.params.variant]
        if (state := self._state()) not in ("ready", "restarting"):
            ready = sum(r.state in LIVE for r in self.runners)
            raise NotReady(
                f"not ready ({state}: {ready}/{len(self.runners)} workers ready)", inference_id=job.inference_id
            )
        if not lane.dispatch.submit(job):
            raise QueueFull(
                f"{self.settings.max_queue} requests already waiting (SDXL_MAX_QUEUE){self._for(lane)}; retry later",
                inference_id=job.inference_id,
            )
        return job

    def serving(self) -> bool:
        """Whether /ping answers 200 now: every variant has a live worker (the metrics' heartbeat)."""
        return self._state() == "ready"

    def status(self) -> PoolStatus:
        state = self._state()
        ready = sum(r.state in LIVE for r in self.runners)
        slots = [r.describe() for r in self.runners]
        queued = sum(lane.dispatch.queued() for lane in self.lanes.values())
        variants = {name: lane.describe(state) for name, lane in self.lanes.items()}
        return PoolStatus(state, ready, len(self.runners), queued, slots, variants)

    def _state(self) -> str:
        """`ready` only while every lane has a live worker: /ping is 503 otherwise."""
        if self.stopping.is_set():
            return "stopping"
        if any(r.state == SlotState.FAILED for r in self.runners):
            return "failed"
        if not self._all_ready_once.is_set():
            return "loading"
        return "ready" if all(lane.live for lane in self.lanes.values()) else "restarting"

    def _for(self, lane: Lane) -> str:
        return f" for variant {lane.name}" if len(self.lanes) > 1 else ""

    def stop(self, timeout_s: float) -> None:
        """Fail what is still queued, let running jobs finish within `timeout_s`, then end every worker."""
        self.stopping.set()
        for lane in self.lanes.values():
            self._fail_queued(lane)
        deadline = time.monotonic() + timeout_s
        for runner in self.runners:
            runner.thread.join(max(0.0, deadline - time.monotonic()))
        for runner in self.runners:
            if runner.handle is not None and runner.handle.proc.is_alive():
                runner.handle.proc.kill()
                runner.handle.proc.join(5)

    @staticmethod
    def _fail_queued(lane: Lane) -> None:
        for job in lane.dispatch.drain():
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(NotReady("server is shutting down", inference_id=job.inference_id))
