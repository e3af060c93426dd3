"""The gateway's HTTP API, independent of the transport (Lambda proxy events, or the local server).

    POST .../invocations               a request, as for the container (JSON body, Content-Type JSON or
                                       absent, as the container reads it; Accept says what the
                                       result object will be) -> 200 {"status": "done", ...images...}
                                       or 202 {"status": "queued", "inference_id", "output_location", ...}
    GET  .../invocations/<inference id> -> 200 {"status": "queued" | "done" | "failed", ...locations...}

Only the last path segments count, so an API Gateway stage prefix (`/prod/invocations`) works too.
Errors are the container's JSON shape, `{"error": {"type", "message", "field"?}}`, with its statuses.
An `X-Amzn-SageMaker-Inference-Id` header names the inference a miss queues, as for the container.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sdxl_inf2.core import errors
from sdxl_inf2.core.headers import INFERENCE_ID
from sdxl_inf2.core.negotiation import check_json_body
from sdxl_inf2.core.settings import ConfigError

from .records import VALID_ID, Status
from .submit import Gateway

log = logging.getLogger("sdxl.gateway")
RESOURCE = "invocations"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes = b""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def json_bytes(self) -> bytes:
        return json.dumps(self.body).encode()


def handle(gateway: Callable[[], Gateway], request: HttpRequest) -> HttpResponse:
    """`gateway` is called only for a request that needs it (a bad route never reads the settings)."""
    try:
        return _route(gateway, request)
    except errors.ServingError as error:
        return HttpResponse(error.status_code, error.to_dict(), error.headers())
    except ConfigError as exc:
        log.error("gateway settings: %s", exc)
        return HttpResponse(500, {"error": {"type": "gateway_misconfigured", "message": str(exc)}})
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path[:200])
        return HttpResponse(500, errors.InternalError("internal error; see the gateway's log").to_dict())


def _route(gateway: Callable[[], Gateway], request: HttpRequest) -> HttpResponse:
    segments = [part for part in request.path.split("/") if part]
    if segments[-1:] == [RESOURCE]:
        _allow(request, "POST")
        return _submit(gateway(), request)
    if segments[-2:-1] == [RESOURCE]:
        _allow(request, "GET")
        return HttpResponse(200, status_body(gateway().status(segments[-1])))
    raise errors.NotFound(f"no route {request.path[:200]!r}: POST /{RESOURCE} or GET /{RESOURCE}/<inference id>")


def _allow(request: HttpRequest, method: str) -> None:
    if request.method.upper() != method:
        raise errors.MethodNotAllowed(f"{request.method} not allowed here; use {method}")


def _submit(gateway: Gateway, request: HttpRequest) -> HttpResponse:
    content_type = request.headers.get("content-type")
    check_json_body(content_type)  # a declared non-JSON type: 415 before any S3 read
    given = request.headers.get(INFERENCE_ID.lower(), "")
    inference_id = given if VALID_ID.fullmatch(given) else None
    outcome = gateway.submit(request.body, request.headers.get("accept"), inference_id, content_type)
    return HttpResponse(200 if outcome.status == "done" else 202, outcome.body())


def status_body(status: Status) -> dict[str, Any]:
    ticket = status.ticket
    body: dict[str, Any] = {
        "status": status.state,
        "inference_id": ticket.inference_id,
        "output_location": ticket.output_location,
        "failure_location": ticket.failure_location,
    }
    if status.error:
        body["error"] = status.error
    return body
