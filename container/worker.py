"""The model worker process: pin the device, load the backend, warm up, then run jobs one by one.

Started by the front with the `spawn` method (never forked: the Neuron runtime is not fork-safe, and
the model is never loaded in the parent). This module imports only the standard library (and the
project's pure modules) at import time, so the pinning environment is in place before torch or any
Neuron module is imported. Every pipeline call happens on this process's main thread (torch on CPU
is 1.5-2x slower when entered from changing threads).

The device must not wait for the image encoder: when a generation ends, the main thread tells the
front it is free (JobGenerated) and hands the pixels to the encoder thread, which sends the job's
JobDone after the encode; an encode that ends within FAST_ENCODE_S sends its JobDone alone, which
frees the worker too (SDXL_ENCODE=inline encodes on the main thread, the old way).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from sdxl_inf2.core.errors import exception_line
from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.schema import GenerationParams

from .devices import WorkerSlot
from .events import GenerateJob, JobDone, JobFailed, JobGenerated, WorkerFailed, WorkerReady

log = logging.getLogger("sdxl.worker")
# An encode this short is awaited and its JobDone sent alone (Encoder): one pipe message and one wake-up
# of the front instead of two; bench/overhead's null transport measured 1.8% faster (A/B, 40 blocks).
FAST_ENCODE_S = 0.001


@dataclass(frozen=True)
class WorkerConfig:
    slot: WorkerSlot
    backend_spec: str
    workers_on_device: int
    model: ModelInfo
    parent_pid: int
    png_compress_level: int
    log_level: str
    encode: str = "thread"  # SDXL_ENCODE: thread (off the pipeline's critical path) | inline


def worker_main(config: WorkerConfig, conn: Connection) -> None:
    """Process entry point (spawn target)."""
    prepare_process(config.slot)  # first: pin before anything can import torch or Neuron
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _exit_with_parent(config.parent_pid)
    from .logs import configure_logging

    configure_logging(config.log_level, worker=config.slot.index)
    backend = _start(config, conn)
    if backend is not None:
        _serve(backend, config, conn)


def prepare_process(slot: WorkerSlot) -> None:
    """The environment a model worker runs under (also bench/overhead's in-process baseline)."""
    os.environ.update(slot.env)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk; never reach for the Hub
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")  # hides a harmless "optimum" namespace warning


def _start(config: WorkerConfig, conn: Connection) -> Any:
    from .backends import import_backend
    from .backends.base import warmup_params

    try:
        started = time.perf_counter()
        backend = import_backend(config.backend_spec)(config.slot.device, config.workers_on_device)
        backend.load(config.model)
        loaded = time.perf_counter()
        _encode_all(backend.generate(warmup_params(config.model)), "png", None, config)
    except BaseException as exc:  # report any failure, then exit: the front restarts the slot
        conn.send(WorkerFailed(exception_line(exc), traceback.format_exc()))
        return None
    done = time.perf_counter()
    conn.send(WorkerReady(os.getpid(), (loaded - started) * 1e3, (done - loaded) * 1e3))
    return backend


def _serve(backend: Any, config: WorkerConfig, conn: Connection) -> None:
    outbox = Outbox(conn)
    encoder = Encoder(config, outbox) if config.encode == "thread" else None
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the front is gone
            return
        if job is None:
            break
        result = _generate(backend, job)
        if isinstance(result, JobFailed):
            outbox.send(result)
        elif encoder is None:  # SDXL_ENCODE=inline: the worker is free only after the encode
            outbox.send(result.encode(config))
        else:  # free for the next job now; the encoder thread sends JobDone
            encoder.hand_over(result)
    if encoder is not None:
        encoder.finish()  # a graceful stop: what is generated is still encoded and sent


@dataclass
class Generated:
    """A job whose pixels are ready, on its way to the encoder."""

    job_id: int
    params: GenerationParams
    images: list[Any]
    inference_ms: float

    def encode(self, config: WorkerConfig) -> JobDone | JobFailed:
        started = time.perf_counter()
        try:
            encoded = _encode_all(self.images, self.params.output_format, self.params.quality, config)
        except Exception as exc:
            return JobFailed(self.job_id, type(exc).__name__, exception_line(exc), traceback.format_exc())
        timings = {"inference": self.inference_ms, "encode": (time.perf_counter() - started) * 1e3}
        return JobDone(self.job_id, encoded, timings)


def _generate(backend: Any, job: GenerateJob) -> Generated | JobFailed:
    params = job.params
    try:
        started = time.perf_counter()
        images = backend.generate(params)
        inference_ms = (time.perf_counter() - started) * 1e3
        if len(images) < params.num_images:
            raise RuntimeError(f"backend returned {len(images)} images, {params.num_images} requested")
    except Exception as exc:
        return JobFailed(job.job_id, type(exc).__name__, exception_line(exc), traceback.format_exc())
    return Generated(job.job_id, params, images[: params.num_images], inference_ms)


class Outbox:
    """The pipe to the front, shared by the main thread and the encoder thread."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, message: object) -> None:
        with self.lock:
            self.conn.send(message)


class Encoder:
    """The encoder thread: encodes one finished job while the main thread generates the next.

    One job at a time: a generation that ends while the previous encode still runs waits for it
    before the worker says it is free, so a worker holds at most two jobs (one generating, one
    encoding) and a backend faster than its encodes cannot pile up images. Pillow releases the GIL
    while it compresses.

    A fast encode goes out alone: while the last encode took at most FAST_ENCODE_S, the main thread
    waits that long for the encoder before it sends JobGenerated, and a JobDone sent within it
    also frees the worker (the front takes JobDone for the job generating as both). That saves a
    pipe write and a wake-up of the front's runner per small image (bench/overhead's null
    transport). A large image's encode (tens of ms and more) holds the main thread at most
    FAST_ENCODE_S, and only when it follows a fast one.
    """

    def __init__(self, config: WorkerConfig, outbox: Outbox) -> None:
        self.config, self.outbox = config, outbox
        self.jobs: queue.SimpleQueue[Handover | None] = queue.SimpleQueue()
        self.idle = threading.Semaphore(1)
        self.last_encode_s = math.inf  # the first encode after start is not awaited
        self.thread = threading.Thread(target=self._run, name="encoder", daemon=True)
        self.thread.start()

    def hand_over(self, generated: Generated) -> None:
        """Queue the encode (first waiting for the previous one to end), then tell the front the
        worker is free: JobGenerated, always before the job's JobDone, unless the JobDone went
        out first (a fast encode, awaited up to FAST_ENCODE_S)."""
        self.idle.acquire()
        handover = Handover(generated)
        self.jobs.put(handover)
        if self.last_encode_s <= FAST_ENCODE_S and handover.sent.wait(FAST_ENCODE_S):
            return
        with self.outbox.lock:  # the encoder sends under the same lock: no JobDone overtakes this
            if not handover.sent.is_set():
                self.outbox.conn.send(JobGenerated(generated.job_id))

    def finish(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def _run(self) -> None:
        while (handover := self.jobs.get()) is not None:
            started = time.perf_counter()
            message = handover.generated.encode(self.config)
            self.last_encode_s = time.perf_counter() - started
            try:
                with self.outbox.lock:
                    self.outbox.conn.send(message)
                    handover.sent.set()
            except OSError:  # the front is gone; the main thread sees it too
                return
            self.idle.release()


@dataclass
class Handover:
    """A job on its way to the encoder; `sent` once its JobDone (or JobFailed) is on the pipe."""

    generated: Generated
    sent: threading.Event = field(default_factory=threading.Event)


def _encode_all(images: list[Any], fmt: str, quality: int | None, config: WorkerConfig) -> list[bytes]:
    from .encoding import encode_image

    return [encode_image(img, fmt, quality, config.png_compress_level) for img in images]


def _exit_with_parent(parent_pid: int) -> None:
    """Die with the front: a worker mid-generation would otherwise outlive a killed front."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
