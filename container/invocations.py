"""POST /invocations, answered before Flask.

`Invocations` wraps the Flask app's WSGI callable (Flask's documented place for middleware,
`app.wsgi_app`) and answers POST /invocations itself, with Flask's own request and response classes
and the same handlers, error mapping (container/responses.py), request log line and metrics
(container/finish.py) as the Flask app's hooks; every other request (/ping, other paths and methods,
Flask's 404 and 405, another spelling of the path) goes on to Flask. Flask's per-request work
around a view (request and app contexts, URL matching, signals, session, hook dispatch) took 8.5% of
bench/overhead's null transport (A/B, 30 blocks: 0.915, 0.911-0.928), and this path needs none of it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Request, Response

from sdxl_inf2.core import errors
from sdxl_inf2.core.headers import CUSTOM_ATTRIBUTES, INFERENCE_ID
from sdxl_inf2.core.invocation import read_invocation
from sdxl_inf2.core.negotiation import ResponsePlan, check_json_body
from sdxl_inf2.core.schema import GenerationParams

from .body import read_json
from .cache import ResultCache
from .exchange import Exchange, new_exchange
from .finish import report
from .jobs import Job, JobResult
from .pool import WorkerPool
from .responses import error_response, json_response
from .runtime import Runtime

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Invocations:
    """The front's WSGI app: POST /invocations here, everything else to `flask_app` (see the module docstring)."""

    def __init__(self, runtime: Runtime, flask_app: WsgiApp) -> None:
        self.runtime, self.flask_app = runtime, flask_app
        self.limit = runtime.settings.max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # the path as clients send it; another spelling Flask routes to /invocations (//invocations) goes to Flask
        if environ.get("PATH_INFO") != "/invocations" or environ.get("REQUEST_METHOD", "").upper() != "POST":
            return self.flask_app(environ, start_response)
        request = Request(environ)
        request.max_content_length = self.limit  # Flask's MAX_CONTENT_LENGTH, as in the app
        exchange = new_exchange(request.headers.get(INFERENCE_ID))
        try:
            response = invocations(self.runtime, request, exchange)
        except Exception as exc:  # as Flask's error handler: a JSON error (a ParseException goes on to gunicorn)
            response = error_response(exc, exchange, request.path, self.limit)
        report(response, request, exchange, self.runtime)
        return response(environ, start_response)


def invocations(runtime: Runtime, request: Request, exchange: Exchange) -> Response:
    check_json_body(request.content_type)
    body = read_json(request, runtime.settings.max_body_bytes)
    invocation = read_invocation(body, request.headers.get("Accept"), runtime.model)
    plan, params = invocation.plan, invocation.params
    exchange.params = params
    cache = runtime.cache
    key = cache.key_for(params, seeded=invocation.seeded) if cache else None
    cached = _lookup(cache, key, exchange) if cache and key else None
    if cached is not None:  # answered here: no worker, no queue
        served = Served(cached, None, {"cache": exchange.cache_ms}, "hit")
    else:
        served = _generate(runtime, params, key, exchange)
    return _image_response(plan, params, served, exchange)


def _lookup(cache: ResultCache, key: str, exchange: Exchange) -> list[bytes] | None:
    started = time.monotonic()
    found = cache.lookup(key)
    exchange.cache_ms = (time.monotonic() - started) * 1e3
    return found.images


def _generate(runtime: Runtime, params: GenerationParams, key: str | None, exchange: Exchange) -> Served:
    """Render on a worker; a cacheable request joins an identical one in flight (docs/metrics-and-cache.md)."""
    exchange.cache = "miss" if key else "off"
    job = exchange.job = Job(params, exchange.inference_id, runtime.settings.request_timeout_s)
    if key is not None and runtime.inflight is not None:
        outcome = runtime.inflight.run(key, job)  # the local cache tier is written before it returns
        job = exchange.job = outcome.job
        result, exchange.cache = outcome.result, "coalesced" if outcome.coalesced else "miss"
    else:
        result = _run_alone(runtime.pool, job)
    timings = {"queue": job.queue_ms(), **result.timings_ms}
    if key:
        timings["cache"] = exchange.cache_ms
    return Served(result.images, result.worker, timings, exchange.cache)


def _run_alone(pool: WorkerPool, job: Job) -> JobResult:
    pool.submit(job)
    try:
        return job.wait()
    except errors.RequestTimeout:
        job.abandon()
        raise


@dataclass(frozen=True)
class Served:
    """Images for a response and where they came from."""

    images: list[bytes]
    worker: int | None
    timings_ms: dict[str, float]
    cache: str  # hit | miss | coalesced | off


def _image_response(plan: ResponsePlan, params: GenerationParams, served: Served, exchange: Exchange) -> Response:
    timings = {**served.timings_ms, "total": (time.monotonic() - exchange.started) * 1e3}
    timings = exchange.timings = {k: round(v, 2) for k, v in timings.items()}
    exchange.images = len(served.images) if served.cache in ("miss", "off") else 0  # rendered for this request
    exchange.cache = served.cache
    inference_id = exchange.inference_id
    headers = {
        "X-Seed": str(params.seed),
        "X-Inference-Id": inference_id,
        "X-Cache": served.cache,
        CUSTOM_ATTRIBUTES: f"seed={params.seed},inference_id={inference_id},cache={served.cache}",
        "Server-Timing": ", ".join(f"{name};dur={ms}" for name, ms in timings.items()),
    }
    if not plan.as_json:
        return Response(served.images[0], 200, mimetype=plan.mimetype, headers=headers)
    body = {
        "images": [base64.b64encode(img).decode("ascii") for img in served.images],
        "format": params.output_format,
        "seed": params.seed,
        "parameters": params.echo(),
        "timings_ms": timings,
        "inference_id": inference_id,
        "worker": served.worker,
        "cache": served.cache,
    }
    return json_response(body, 200, headers)
