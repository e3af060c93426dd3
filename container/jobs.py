"""A request on its way through the shared queue: its parameters, deadline and result future."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from .errors import RequestTimeout
from .schema import GenerationParams

_ids = itertools.count(1)


@dataclass(frozen=True)
class JobResult:
    images: list[bytes]
    worker: int
    timings_ms: dict[str, float]


@dataclass(eq=False)
class Job:
    params: GenerationParams
    inference_id: str
    timeout_s: float
    id: int = field(default_factory=lambda: next(_ids))
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    worker: int | None = None
    future: Future[JobResult] = field(default_factory=Future)

    @property
    def deadline(self) -> float:
        return self.submitted + self.timeout_s

    def wait(self) -> JobResult:
        """Block until the result; RequestTimeout (and the job is dropped if not yet started)."""
        try:
            return self.future.result(timeout=max(0.0, self.deadline - time.monotonic()))
        except (FutureTimeout, CancelledError):
            self.future.cancel()  # succeeds only while queued: a worker will skip it
            raise RequestTimeout(
                f"no result within SDXL_REQUEST_TIMEOUT_S={self.timeout_s:g}s "
                f"({'running' if self.started else 'still queued'}); inference id {self.inference_id}",
                inference_id=self.inference_id,
            ) from None

    def queue_ms(self) -> float:
        return ((self.started or time.monotonic()) - self.submitted) * 1e3
