"""One worker slot: its process, the pipe to it, and the runner thread in the front that feeds it.

The runner waits only on its worker's pipe and process. Jobs reach the worker through its lane's
dispatcher (container/dispatch.py): a request thread that finds the worker idle starts its job
there itself, and when the worker frees up the runner starts the oldest waiting job. A worker
holds at most two jobs, one generating and one encoding (container/events.py), and the runner
knows both: a worker that dies fails exactly those two requests (500 with their inference ids),
a job past its deadline and SDXL_STUCK_GRACE_S gets the worker killed and replaced, and nothing
still queued is touched.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import threading
import time
from enum import StrEnum
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from sdxl_inf2.core.errors import InternalError, RequestTimeout, ServingError, WorkerDied

from .config import Settings
from .devices import WorkerSlot
from .dispatch import Dispatcher
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


LIVE = (SlotState.READY, SlotState.BUSY)  # a loaded worker that takes (or runs) jobs


class SlotPool(Protocol):
    """What a runner uses of the pool (container/pool.py's WorkerPool; no import back to it)."""

    settings: Settings
    stopping: threading.Event

    def on_ready(self) -> None: ...


class SlotLane(Protocol):
    """What a runner uses of its lane (container/pool.py's Lane)."""

    name: str
    dispatch: Dispatcher


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
    """Keeps one worker slot alive and feeds it jobs from its lane (see the module docstring)."""

    def __init__(self, pool: SlotPool, lane: SlotLane, slot: WorkerSlot, config: WorkerConfig) -> None:
        self.pool, self.lane, self.slot, self.config = pool, lane, slot, config
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
        """Feed the worker until it dies, is killed, or the pool stops with nothing left to finish.

        The runner waits only on the worker's pipe and process: new jobs reach it through the
        dispatcher (`take`, in whichever thread frees or finds the worker)."""
        self.generating = self.encoding = None
        self.lane.dispatch.free(self)
        while True:
            held = self._held()
            if self.pool.stopping.is_set() and not held:
                self.lane.dispatch.withdraw(self)
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
            self.lane.dispatch.free(self)  # the next job starts before this one's response is built
            if not isinstance(message, JobGenerated):
                self._resolve(generating, message)
        elif encoding is not None and encoding.id == job_id and not isinstance(message, JobGenerated):
            self.encoding = None
            self._resolve(encoding, message)
        else:
            log.error("%s: unexpected message %r", self.slot.describe(), message)

    def _worker_died(self, handle: WorkerHandle) -> None:
        self.lane.dispatch.withdraw(self)
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
        self.lane.dispatch.withdraw(self)
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
