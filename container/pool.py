"""The job queues and the model workers behind them; lives in the front process.

One `Lane` per artifact variant: its own queue (SDXL_MAX_QUEUE deep) and the worker slots that
load that variant's model (a single model folder is one lane). One `SlotRunner` thread per worker
slot owns that slot's worker process. It pulls the next job from its lane's queue only when its
worker is idle, so within a variant a free worker always takes the next job (no request waits
behind a busy worker while another idles), and a variant whose workers are all busy never delays
another's. Because each runner knows exactly which job its worker holds, a worker's death fails
that one request (500 with the inference id) and leaves every queued request in the queue for
the lane's other workers and the replacement.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from .config import Settings
from .devices import WorkerSlot
from .errors import InternalError, NotReady, QueueFull, RequestTimeout, ServingError, WorkerDied
from .events import GenerateJob, JobDone, JobFailed, WorkerFailed, WorkerReady
from .jobs import Job, JobResult
from .worker import WorkerConfig, worker_main

log = logging.getLogger("sdxl.pool")
_DIED = object()  # receive() result: the worker process is gone
_SPAWN = multiprocessing.get_context("spawn")


class SlotState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    BUSY = "busy"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


LIVE = (SlotState.READY, SlotState.BUSY)  # a loaded worker that takes (or runs) jobs


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


class WorkerHandle:
    """One live worker process and the pipe to it."""

    def __init__(self, config: WorkerConfig) -> None:
        self.conn, child = _SPAWN.Pipe()
        self.proc: BaseProcess = _SPAWN.Process(
            target=worker_main, args=(config, child), name=f"sdxl-worker-{config.slot.index}", daemon=True
        )
        self.proc.start()
        child.close()

    def receive(self, timeout: float) -> object:
        """The next message, `_DIED`, or None if nothing arrived within `timeout`."""
        ready = wait([self.conn, self.proc.sentinel], timeout)
        if self.conn in ready:
            try:
                return self.conn.recv()
            except (EOFError, OSError):
                return _DIED
        return _DIED if ready else None

    def close(self, grace_s: float = 2.0) -> None:
        with contextlib.suppress(OSError):  # already gone
            self.conn.send(None)
        self.proc.join(grace_s)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()


class Lane:
    """One variant's queue and the runners of the workers that serve it."""

    def __init__(self, name: str, max_queue: int) -> None:
        self.name = name
        self.jobs: queue.Queue[Job] = queue.Queue(maxsize=max_queue)
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
        return {"status": self.state(pool_state), "workers": workers, "queued": self.jobs.qsize()}


class SlotRunner:
    """Keeps one worker slot alive and feeds it jobs from its lane's queue."""

    def __init__(self, pool: WorkerPool, lane: Lane, slot: WorkerSlot, config: WorkerConfig) -> None:
        self.pool, self.lane, self.slot, self.config = pool, lane, slot, config
        self.state = SlotState.STARTING
        self.restarts = 0
        self.handle: WorkerHandle | None = None
        self.thread = threading.Thread(target=self._run, name=f"slot-{slot.index}", daemon=True)

    def describe(self) -> dict[str, Any]:
        pid = self.handle.proc.pid if self.handle else None
        return {
            "index": self.slot.index,
            "state": self.state.value,
            "pid": pid,
            "restarts": self.restarts,
            "variant": self.lane.name,
            **self.slot.env,
        }

    def _run(self) -> None:
        failures = 0
        while not self.pool.stopping.is_set():
            self.handle = self._launch()
            if self.handle is None:
                failures += 1
                if failures >= self.pool.settings.max_restarts:
                    self.state = SlotState.FAILED
                    log.error("%s failed %d times in a row; giving up", self.slot.describe(), failures)
                    return
                self.state = SlotState.RESTARTING
                self.pool.stopping.wait(self.pool.settings.restart_backoff_s * 2 ** (failures - 1))
                continue
            failures = 0
            self._serve(self.handle)
            self.handle.close()
            if not self.pool.stopping.is_set():
                self.restarts += 1
                self.state = SlotState.RESTARTING
        self.state = SlotState.STOPPED

    def _launch(self) -> WorkerHandle | None:
        self.state = SlotState.STARTING if self.restarts == 0 else SlotState.RESTARTING
        handle = WorkerHandle(self.config)
        message = None
        while message is None and not self.pool.stopping.is_set():
            message = handle.receive(timeout=0.5)
        if isinstance(message, WorkerReady):
            log.info(
                "%s ready: pid %d, load %.0f ms, warm-up %.0f ms",
                self.slot.describe(),
                message.pid,
                message.load_ms,
                message.warmup_ms,
            )
            self.state = SlotState.READY
            self.pool.on_ready()
            return handle
        self._log_start_failure(message, handle)
        handle.close(grace_s=0.5)
        return None

    def _log_start_failure(self, message: object, handle: WorkerHandle) -> None:
        if isinstance(message, WorkerFailed):
            log.error("%s failed to start: %s\n%s", self.slot.describe(), message.message, message.trace)
        elif message is _DIED:
            handle.proc.join(1)
            log.error("%s died while loading (exit code %s)", self.slot.describe(), handle.proc.exitcode)

    def _serve(self, handle: WorkerHandle) -> None:
        while (job := self._next_job(handle)) is not None:
            self.state = SlotState.BUSY
            alive = self._run_job(handle, job)
            if not alive:
                return
            self.state = SlotState.READY

    def _next_job(self, handle: WorkerHandle) -> Job | None:
        while not self.pool.stopping.is_set():
            try:
                job = self.lane.jobs.get(timeout=0.5)
            except queue.Empty:
                if not handle.proc.is_alive():
                    log.error("%s died while idle (exit code %s)", self.slot.describe(), handle.proc.exitcode)
                    return None
                continue
            if job.future.set_running_or_notify_cancel():  # False: timed out while queued
                return job
        return None

    def _run_job(self, handle: WorkerHandle, job: Job) -> bool:
        """Run `job` on the worker; False if the worker died or had to be killed."""
        job.started, job.worker = time.monotonic(), self.slot.index
        try:
            handle.conn.send(GenerateJob(job.id, job.params))
        except OSError:
            return self._worker_died(handle, job)
        while (left := job.deadline + self.pool.settings.stuck_grace_s - time.monotonic()) > 0:
            message = handle.receive(timeout=min(1.0, left))
            if message is _DIED:
                return self._worker_died(handle, job)
            if message is not None:
                self._resolve(job, message)
                return True
        log.error("%s stuck on inference %s; killing it", self.slot.describe(), job.inference_id)
        handle.proc.kill()
        job.future.set_exception(RequestTimeout("worker stuck", inference_id=job.inference_id))
        return False

    def _worker_died(self, handle: WorkerHandle, job: Job) -> bool:
        handle.proc.join(1)
        code = handle.proc.exitcode
        log.error("%s died running inference %s (exit code %s)", self.slot.describe(), job.inference_id, code)
        job.future.set_exception(
            WorkerDied(
                f"the model worker died while running this request (exit code {code}); inference id {job.inference_id}",
                inference_id=job.inference_id,
            )
        )
        return False

    def _resolve(self, job: Job, message: object) -> None:
        if isinstance(message, JobDone) and message.job_id == job.id:
            job.future.set_result(JobResult(message.images, self.slot.index, message.timings_ms))
            return
        error: ServingError = InternalError(
            f"generation failed; see the server log for inference id {job.inference_id}", inference_id=job.inference_id
        )
        if isinstance(message, JobFailed):
            log.error(
                "inference %s failed on worker %d: %s\n%s",
                job.inference_id,
                self.slot.index,
                message.message,
                message.trace,
            )
        else:
            log.error("inference %s: unexpected message %r", job.inference_id, message)
        job.future.set_exception(error)


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
        """Queue `job` in its variant's lane. Accepted while a lane's worker restarts (the job waits
        for the replacement), refused while loading, failed or stopping, or when the lane is full."""
        lane = self.lanes[job.params.variant]
        if (state := self._state()) not in ("ready", "restarting"):
            ready = sum(r.state in LIVE for r in self.runners)
            raise NotReady(
                f"not ready ({state}: {ready}/{len(self.runners)} workers ready)", inference_id=job.inference_id
            )
        try:
            lane.jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull(
                f"{self.settings.max_queue} requests already waiting (SDXL_MAX_QUEUE){self._for(lane)}; retry later",
                inference_id=job.inference_id,
            ) from None
        return job

    def status(self) -> PoolStatus:
        state = self._state()
        ready = sum(r.state in LIVE for r in self.runners)
        slots = [r.describe() for r in self.runners]
        queued = sum(lane.jobs.qsize() for lane in self.lanes.values())
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
        while True:
            try:
                job = lane.jobs.get_nowait()
            except queue.Empty:
                return
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(NotReady("server is shutting down", inference_id=job.inference_id))
