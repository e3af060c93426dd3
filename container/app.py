"""The Flask front: /ping and /invocations. It never touches a model; the pool does."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import HTTPException

from sdxl_inf2.core import errors
from sdxl_inf2.core.headers import CUSTOM_ATTRIBUTES, INFERENCE_ID
from sdxl_inf2.core.invocation import read_invocation
from sdxl_inf2.core.modeldir import Variant
from sdxl_inf2.core.negotiation import JSON, ResponsePlan, check_json_body
from sdxl_inf2.core.schema import GenerationParams

from .body import read_json
from .cache import ResultCache
from .exchange import Exchange
from .finish import finish_request
from .jobs import Job, JobResult
from .pool import WorkerPool
from .runtime import Runtime, request_runtime

log = logging.getLogger("sdxl.request")
_VALID_ID = re.compile(r"[\x21-\x7e]{1,64}")
_HTTP_ERRORS: dict[int, type[errors.ServingError]] = {
    400: errors.BadRequest,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
}


def create_app(runtime: Runtime) -> Flask:
    app = Flask("sdxl_inf2")
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_body_bytes
    app.config["PROPAGATE_EXCEPTIONS"] = True  # only what handle_error re-raises reaches gunicorn
    app.extensions["sdxl"] = runtime
    app.add_url_rule("/ping", "ping", lambda: ping(runtime), methods=["GET"])
    app.add_url_rule("/invocations", "invocations", lambda: invocations(runtime), methods=["POST"])
    app.register_error_handler(Exception, handle_error)
    app.before_request(_start_request)
    app.after_request(lambda response: finish_request(response, runtime))
    return app


def ping(runtime: Runtime) -> Response:
    status = runtime.pool.status()
    body = {
        "status": status.state,
        "workers": {"ready": status.workers_ready, "total": status.workers_total},
        "queued": status.queued,
        "backend": runtime.backend,
        "shapes": [{"height": s.height, "width": s.width} for s in runtime.model.shapes],
        "max_images": runtime.model.max_images,
        "variants": {v.name: {**status.variants[v.name], **_describe(v)} for v in runtime.model.served},
        "slots": status.slots,
    }
    return _json(body, 200 if status.healthy else 503)


def _describe(variant: Variant) -> dict[str, Any]:
    model = variant.model
    shapes = [{"height": s.height, "width": s.width} for s in model.shapes]
    return {"shapes": shapes, "max_images": model.max_images, "defaults": model.defaults.model_dump()}


def invocations(runtime: Runtime) -> Response:
    exchange: Exchange = g.exchange
    check_json_body(request.content_type)
    body = read_json(runtime.settings.max_body_bytes)
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
    return _json(body, 200, headers)


def handle_error(exc: Exception) -> Response:
    exchange: Exchange = g.exchange
    if isinstance(exc, ParseException):
        # A malformed body (e.g. a bad chunk) leaves the connection unusable: gunicorn answers it
        # (400, JSON via http_errors) and closes the connection, which a Flask response cannot do.
        log.info("malformed request body in inference %s: %s", exchange.inference_id, exc)
        raise exc
    error = _as_serving_error(exc)
    exchange.error_type = error.error_type
    if error.inference_id is None and request.path == "/invocations":
        error.inference_id = exchange.inference_id
    if type(error) is errors.InternalError and error is not exc:
        log.error("unhandled error in inference %s", exchange.inference_id, exc_info=exc)
    return _json(error.to_dict(), error.status_code, error.headers())


def _as_serving_error(exc: Exception) -> errors.ServingError:
    if isinstance(exc, errors.ServingError):
        return exc
    if isinstance(exc, HTTPException) and exc.code == 413:
        limit = request_runtime().settings.max_body_bytes
        return errors.PayloadTooLarge(f"body over SDXL_MAX_BODY_BYTES={limit}")
    if isinstance(exc, HTTPException):
        kind = _HTTP_ERRORS.get(exc.code or 500, errors.ServingError)
        return kind(exc.description or exc.name)
    return errors.InternalError("internal error; see the server log for this inference id")


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, mimetype=JSON, headers=headers)


def _start_request() -> None:
    started = time.monotonic()
    given = request.headers.get(INFERENCE_ID, "")
    g.exchange = Exchange(started, given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex)
