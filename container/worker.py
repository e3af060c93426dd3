"""The model worker process: pin the device, load the backend, warm up, then run jobs one by one.

Started by the front with the `spawn` method (never forked: the Neuron runtime is not fork-safe, and
the model is never loaded in the parent). This module imports only the standard library at import
time, so the pinning environment is in place before torch or any Neuron module is imported.
Every pipeline call happens on this process's main thread (torch on CPU is 1.5-2x slower when
entered from changing threads).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .devices import WorkerSlot
from .events import GenerateJob, JobDone, JobFailed, WorkerFailed, WorkerReady
from .modeldir import ModelInfo

log = logging.getLogger("sdxl.worker")


@dataclass(frozen=True)
class WorkerConfig:
    slot: WorkerSlot
    backend_spec: str
    workers_on_device: int
    model: ModelInfo
    parent_pid: int
    png_compress_level: int
    log_level: str


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
        conn.send(WorkerFailed(_one_line(exc), traceback.format_exc()))
        return None
    done = time.perf_counter()
    conn.send(WorkerReady(os.getpid(), (loaded - started) * 1e3, (done - loaded) * 1e3))
    return backend


def _serve(backend: Any, config: WorkerConfig, conn: Connection) -> None:
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the front is gone
            return
        if job is None:
            return
        conn.send(_run(backend, job, config))


def _run(backend: Any, job: GenerateJob, config: WorkerConfig) -> JobDone | JobFailed:
    params = job.params
    try:
        started = time.perf_counter()
        images = backend.generate(params)
        generated = time.perf_counter()
        if len(images) < params.num_images:
            raise RuntimeError(f"backend returned {len(images)} images, {params.num_images} requested")
        encoded = _encode_all(images[: params.num_images], params.output_format, params.quality, config)
    except Exception as exc:
        return JobFailed(job.job_id, type(exc).__name__, _one_line(exc), traceback.format_exc())
    timings = {"inference": (generated - started) * 1e3, "encode": (time.perf_counter() - generated) * 1e3}
    return JobDone(job.job_id, encoded, timings)


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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text[:500]}"
