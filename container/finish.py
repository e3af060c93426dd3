"""What follows a response: the request log line and the metrics.

`report` gathers what to report and hands it off (two deque appends); background
threads format and write it (container/batching.py): the request log (container/logs.py) every
0.2 s, the EMF metrics every SDXL_METRICS_FLUSH_S (container/metrics.py), both once more on
shutdown. Written in the request's thread after the response, they still held the front's GIL, and
a kept-alive connection's next request waited behind them: about 0.2 ms per request on
bench/overhead's null transport. (The result cache's local tier is written before the response
instead: see container/inflight.py.)
"""

from __future__ import annotations

import time
from typing import Any

from flask import Request, Response, g, request

from sdxl_inf2.core.headers import CUSTOM_ATTRIBUTES

from .exchange import Exchange
from .metrics import RequestOutcome
from .runtime import Runtime


def finish_request(response: Response, runtime: Runtime) -> Response:
    """Flask's after_request hook (every request but POST /invocations, which reports itself)."""
    if request.path != "/ping":
        report(response, request, g.exchange, runtime)
    return response


def report(response: Response, http_request: Request, exchange: Exchange, runtime: Runtime) -> None:
    """What to report about this request, handed to the background writers."""
    entry = _log_entry(response, http_request, exchange)
    runtime.request_log.add(entry, exchange.params)
    if entry["path"] == "/invocations" and runtime.metrics is not None:
        runtime.metrics.emit(_outcome(response, entry, exchange))


def _log_entry(response: Response, http_request: Request, exchange: Exchange) -> dict[str, Any]:
    job = exchange.job
    return {
        "inference_id": exchange.inference_id,
        "method": http_request.method,
        "path": http_request.path,
        "status": response.status_code,
        "bytes": response.content_length,
        "custom_attributes": http_request.headers.get(CUSTOM_ATTRIBUTES),
        "worker": job.worker if job else None,
        "cache": exchange.cache,
        "timings_ms": exchange.timings or {"total": round((time.monotonic() - exchange.started) * 1e3, 2)},
        "error": exchange.error_type,
    }


def _outcome(response: Response, entry: dict[str, Any], exchange: Exchange) -> RequestOutcome:
    return RequestOutcome(
        inference_id=exchange.inference_id,
        status=response.status_code,
        cache=exchange.cache,
        error_type=exchange.error_type,
        images_generated=exchange.images,
        timings_ms=entry["timings_ms"],
        variant=exchange.params.variant if exchange.params else None,
    )
