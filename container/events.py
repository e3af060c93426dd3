"""Messages between the front and a model worker, sent over the worker's own pipe.

front -> worker:  GenerateJob, or None (finish what is generated, then exit)
worker -> front:  WorkerReady | WorkerFailed once after start, then per job either
                  JobFailed (generation raised), or
                  JobGenerated, then later JobDone | JobFailed (the encode) from the encoder thread,
                  or JobDone | JobFailed only (SDXL_ENCODE=inline, or an encode that ended within
                  the worker's FAST_ENCODE_S: it frees the worker as JobGenerated would)

A worker takes the next GenerateJob as soon as it has sent JobGenerated (or the job's end), so it
holds at most two jobs: one generating, one encoding (it announces a finished generation only
once the previous encode is done). Messages about one job arrive in the order above; a job's JobDone
may follow the next job's JobGenerated. A worker that dies has failed every job it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sdxl_inf2.core.schema import GenerationParams


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
class JobGenerated:
    """The job's pixels are made and handed to the encoder thread: the worker takes the next job."""

    job_id: int


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
