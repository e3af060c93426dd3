"""What the front learns about one request on its way through, for its response, log line and metrics.

One plain object per request, made by the before_request hook and kept as `g.exchange`; the
handlers pass it along instead of reading and writing `flask.g` attributes one by one (each of
those goes through a context-local proxy: about 0.3 us, some 30 times per request).
"""

from __future__ import annotations

from dataclasses import dataclass

from sdxl_inf2.core.schema import GenerationParams

from .jobs import Job


@dataclass
class Exchange:
    started: float  # time.monotonic() when the request reached the app
    inference_id: str
    params: GenerationParams | None = None  # set once the request is valid
    job: Job | None = None  # the job that ran for it (a coalesced request's: the shared one)
    cache: str | None = None  # hit | miss | coalesced | off; None: not (yet) an inference request
    cache_ms: float = 0.0  # the cache lookup
    timings: dict[str, float] | None = None  # as in Server-Timing, rounded
    images: int = 0  # images rendered for this request (0 for a hit or a coalesced request)
    error_type: str | None = None  # the error body's `type`, if it failed
