"""What the front learns about one request on its way through, for its response, log line and metrics.

One plain object per request, made where the request enters (`new_exchange`: Flask's before_request
hook, or container/invocations.py for POST /invocations); the handlers pass it along instead of
reading and writing `flask.g` attributes one by one (each of those goes through a context-local
proxy: about 0.3 us, some 30 times per request).
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

from sdxl_inf2.core.schema import GenerationParams

from .jobs import Job

_VALID_ID = re.compile(r"[\x21-\x7e]{1,64}")


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


def new_exchange(given_id: str | None) -> Exchange:
    """A request's Exchange, from now; its inference id is the one the client gave (the inference id
    header) when that is 1-64 printable ASCII characters, else a new one."""
    started = time.monotonic()
    return Exchange(started, given_id if given_id and _VALID_ID.fullmatch(given_id) else uuid.uuid4().hex)
