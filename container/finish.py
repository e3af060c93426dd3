"""What follows a response once it has been sent: the request log line and the metrics.

Both run in `call_on_close`, after the last byte went out, so neither delays this response. They
still hold the request's thread and the front's GIL, and a kept-alive connection's next request is
read after them; handed to a thread of their own they made no difference in bench/dispatch. (The result
cache's local tier is written before the response instead: see container/inflight.py.)
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Response, g, request

from sdxl_inf2.core.headers import CUSTOM_ATTRIBUTES
from sdxl_inf2.core.schema import GenerationParams

from .metrics import RequestOutcome
from .runtime import Runtime

log = logging.getLogger("sdxl.request")


def finish_request(response: Response, runtime: Runtime) -> Response:
    """The after_request hook: gathers what to report, and reports it once the response is sent."""
    if request.path == "/ping":
        return response
    entry = _log_entry(response)
    params: GenerationParams | None = g.get("params")
    outcome = _outcome(response, entry) if request.path == "/invocations" else None
    log_prompts = runtime.settings.log_prompts

    def after_sent() -> None:
        _emit_request_log(entry, params, log_prompts)
        if outcome is not None and runtime.metrics is not None:
            runtime.metrics.emit(outcome)

    response.call_on_close(after_sent)
    return response


def _log_entry(response: Response) -> dict[str, Any]:
    job = g.get("job")
    return {
        "inference_id": g.get("inference_id"),
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "bytes": response.content_length,
        "custom_attributes": request.headers.get(CUSTOM_ATTRIBUTES),
        "worker": job.worker if job else None,
        "cache": g.get("cache"),
        "timings_ms": g.get("timings") or {"total": round((time.monotonic() - g.started) * 1e3, 2)},
        "error": g.get("error_type"),
    }


def _outcome(response: Response, entry: dict[str, Any]) -> RequestOutcome:
    return RequestOutcome(
        inference_id=str(entry["inference_id"]),
        status=response.status_code,
        cache=g.get("cache"),
        error_type=g.get("error_type"),
        images_generated=g.get("images", 0),
        timings_ms=entry["timings_ms"],
        variant=getattr(g.get("params"), "variant", None),
    )


def _emit_request_log(entry: dict[str, Any], params: GenerationParams | None, log_prompts: bool) -> None:
    if not log.isEnabledFor(logging.INFO):  # SDXL_LOG_LEVEL above info: build nothing
        return
    if params is not None:
        entry["parameters"] = params.echo(include_prompts=log_prompts)
    log.info("request", extra=entry)
