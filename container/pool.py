"""The shared job queue and the model workers behind it; lives in the front process.

One `SlotRunner` thread per worker slot owns that slot's worker process. It pulls the next job from
the shared queue only when its worker is idle, so a free worker always takes the next job (no
request waits behind a busy worker while another idles). Because each runner knows exactly which
job its worker holds, a worker's death fails that one request (500 with the inference id) and
leaves every queued request in the queue for the other workers and the replacement.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
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
from .dispatch import Dispatcher
from .errors import InternalError, NotReady, QueueFull, RequestTimeout, ServingError, WorkerDied
from .events import GenerateJob, JobDone, JobFailed, JobGenerated, WorkerFailed, WorkerReady
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


@dataclass(frozen=True)
class PoolStatus:
    state: str  # loading | ready | failed | stopping
    workers_ready: int
    workers_total: int
    queued: int
    slots: list[dict[str, Any]]

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


class SlotRunner:
    """Keeps one worker slot alive and feeds it jobs from the shared queue."""

    def __init__(self, pool: WorkerPool, slot: WorkerSlot, config: WorkerConfig) -> None:
        self.pool, self.slot, self.config = pool, slot, config
        self.state = SlotState.STARTING
        self.restarts = 0
        self.handle: WorkerHandle | None = None
        self.generating: Job | None = None  # the job its worker generates (at most one)
        self.encoding: Job | None = None  # the job its worker's encoder thread encodes (at most one)
        self.thread = threading.Thread(target=self._run, name=f"slot-{slot.index}", daemon=True)

    def describe(self) -> dict[str, Any]:
        pid = self.handle.proc.pid if self.handle else None
        return {
            "index": self.slot.index,
            "state": self.state.value,
            "pid": pid,
            "restarts": self.restarts,
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
        """Feed the worker until it dies, is killed, or the pool stops with nothing left to finish.

        The runner waits only on the worker's pipe and process: new jobs reach it through the
        dispatcher (`take`, in whichever thread frees or finds the worker)."""
        self.generating = self.encoding = None
        self.pool.dispatch.free(self)
        while True:
            held = self._held()
            if self.pool.stopping.is_set() and not held:
                self.pool.dispatch.withdraw(self)
                if not self._held():  # a job taken just before the withdrawal still runs
                    return
            left = min((j.deadline for j in held), default=math.inf) + self.pool.settings.stuck_grace_s
            message = handle.receive(timeout=max(0.0, min(0.5, left - time.monotonic())))
            if message is _DIED:
                return self._worker_died(handle)
            if message is not None:
                self._on_message(message)
            elif time.monotonic() >= left:
                return self._stuck(handle)

    def take(self, job: Job) -> None:
        """Start `job` on this worker (the dispatcher calls it under its lock, the worker being free).
        A send that fails leaves the job held: the runner sees the dead process and fails it."""
        job.started, job.worker = time.monotonic(), self.slot.index
        self.generating, self.state = job, SlotState.BUSY
        assert self.handle is not None
        with contextlib.suppress(OSError):
            self.handle.conn.send(GenerateJob(job.id, job.params))

    def _held(self) -> list[Job]:
        return [job for job in (self.generating, self.encoding) if job is not None]

    def _on_message(self, message: object) -> None:
        job_id = getattr(message, "job_id", None)
        generating, encoding = self.generating, self.encoding
        if generating is not None and generating.id == job_id:
            self.generating, self.state = None, SlotState.READY
            if isinstance(message, JobGenerated):  # encoding now: the worker is free for the next job
                self.encoding = generating
            self.pool.dispatch.free(self)  # the next job starts before this one's response is built
            if not isinstance(message, JobGenerated):
                self._resolve(generating, message)
        elif encoding is not None and encoding.id == job_id and not isinstance(message, JobGenerated):
            self.encoding = None
            self._resolve(encoding, message)
        else:
            log.error("%s: unexpected message %r", self.slot.describe(), message)

    def _worker_died(self, handle: WorkerHandle) -> None:
        self.pool.dispatch.withdraw(self)
        handle.proc.join(1)
        code = handle.proc.exitcode
        if not self._held():
            log.error("%s died while idle (exit code %s)", self.slot.describe(), code)
        for job in self._held():
            log.error("%s died running inference %s (exit code %s)", self.slot.describe(), job.inference_id, code)
            job.future.set_exception(
                WorkerDied(
                    f"the model worker died while running this request (exit code {code}); "
                    f"inference id {job.inference_id}",
                    inference_id=job.inference_id,
                )
            )

    def _stuck(self, handle: WorkerHandle) -> None:
        """A held job is past its deadline and the grace: kill the worker; fail what it held."""
        self.pool.dispatch.withdraw(self)
        now = time.monotonic()
        stuck = [job for job in self._held() if job.deadline + self.pool.settings.stuck_grace_s <= now]
        log.error("%s stuck on inference %s; killing it", self.slot.describe(), stuck[0].inference_id)
        handle.proc.kill()
        handle.proc.join(5)
        for job in self._held():
            if job in stuck:
                job.future.set_exception(RequestTimeout("worker stuck", inference_id=job.inference_id))
            else:
                job.future.set_exception(
                    WorkerDied(
                        f"the model worker was killed while running this request (stuck on inference "
                        f"{stuck[0].inference_id}); inference id {job.inference_id}",
                        inference_id=job.inference_id,
                    )
                )

    def _resolve(self, job: Job, message: object) -> None:
        if isinstance(message, JobDone):
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


class WorkerPool:
    def __init__(
        self, settings: Settings, slots: list[WorkerSlot], make_config: Callable[[WorkerSlot], WorkerConfig]
    ) -> None:
        self.settings = settings
        self.dispatch = Dispatcher(settings.max_queue)
        self.stopping = threading.Event()
        self.runners = [SlotRunner(self, slot, make_config(slot)) for slot in slots]
        self._all_ready_once = threading.Event()

    def start(self) -> None:
        for runner in self.runners:
            runner.thread.start()

    def on_ready(self) -> None:
        if all(r.state in (SlotState.READY, SlotState.BUSY) for r in self.runners):
            self._all_ready_once.set()

    def submit(self, job: Job) -> Job:
        states = [r.state for r in self.runners]
        if (state := self._state(states)) != "ready":
            ready = sum(s in (SlotState.READY, SlotState.BUSY) for s in states)
            raise NotReady(f"not ready ({state}: {ready}/{len(states)} workers ready)", inference_id=job.inference_id)
        if not self.dispatch.submit(job):
            raise QueueFull(
                f"{self.settings.max_queue} requests already waiting (SDXL_MAX_QUEUE); retry later",
                inference_id=job.inference_id,
            )
        return job

    def status(self) -> PoolStatus:
        states = [r.state for r in self.runners]
        ready = sum(s in (SlotState.READY, SlotState.BUSY) for s in states)
        slots = [r.describe() for r in self.runners]
        return PoolStatus(self._state(states), ready, len(states), self.dispatch.queued(), slots)

    def _state(self, states: list[SlotState]) -> str:
        if self.stopping.is_set():
            return "stopping"
        if SlotState.FAILED in states:
            return "failed"
        return "ready" if self._all_ready_once.is_set() else "loading"

    def stop(self, timeout_s: float) -> None:
        """Fail what is still queued, let running jobs finish within `timeout_s`, then end every worker."""
        self.stopping.set()
        for job in self.dispatch.drain():
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(NotReady("server is shutting down", inference_id=job.inference_id))
        deadline = time.monotonic() + timeout_s
        for runner in self.runners:
            runner.thread.join(max(0.0, deadline - time.monotonic()))
        for runner in self.runners:
            if runner.handle is not None and runner.handle.proc.is_alive():
                runner.handle.proc.kill()
                runner.handle.proc.join(5)
