"""Messages between the front and a model worker, sent over the worker's own pipe.

front -> worker:  GenerateJob, or None (finish and exit)
worker -> front:  WorkerReady | WorkerFailed once after start, then JobDone | JobFailed per job
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import GenerationParams


@dataclass(frozen=True)
class GenerateJob:
    job_id: int
    params: GenerationParams


@dataclass(frozen=True)
class WorkerReady:
    pid: int
    load_ms: float
    warmup_ms: float


@dataclass(frozen=True)
class WorkerFailed:
    message: str
    trace: str


@dataclass(frozen=True)
class JobDone:
    job_id: int
    images: list[bytes]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class JobFailed:
    job_id: int
    error_class: str
    message: str
    trace: str
