"""A request on its way through the shared queue: its parameters, deadline and result future."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from sdxl_inf2.core.errors import RequestTimeout
from sdxl_inf2.core.schema import GenerationParams

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
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.submitted + self.timeout_s

    def extend_deadline(self, deadline: float) -> None:
        """A later request waits for this job too (coalescing): keep it until that one's deadline."""
        self.deadline = max(self.deadline, deadline)

    def wait(self, deadline: float | None = None, inference_id: str | None = None) -> JobResult:
        """Block until the result or `deadline` (default: the job's own), then RequestTimeout naming
        `inference_id` (default: the job's own). The job itself is left alone: see `abandon`."""
        inference_id = inference_id or self.inference_id
        try:
            left = (deadline or self.deadline) - time.monotonic()
            return self.future.result(timeout=max(0.0, left))
        except (FutureTimeout, CancelledError):
            raise RequestTimeout(
                f"no result within SDXL_REQUEST_TIMEOUT_S={self.timeout_s:g}s "
                f"({'running' if self.started else 'still queued'}); inference id {inference_id}",
                inference_id=inference_id,
            ) from None

    def abandon(self) -> None:
        """Nobody waits for the result any more: dropped if still queued (a runner skips it)."""
        self.future.cancel()

    def queue_ms(self) -> float:
        return ((self.started or time.monotonic()) - self.submitted) * 1e3
