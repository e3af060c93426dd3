"""JSON responses and the one mapping from an exception to the error a client gets, shared by the
Flask app (container/app.py) and POST /invocations (container/invocations.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import HTTPException

from sdxl_inf2.core import errors
from sdxl_inf2.core.negotiation import JSON

from .exchange import Exchange

log = logging.getLogger("sdxl.request")
_HTTP_ERRORS: dict[int, type[errors.ServingError]] = {
    400: errors.BadRequest,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
}


def json_response(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, mimetype=JSON, headers=headers)


def error_response(exc: Exception, exchange: Exchange, path: str, max_body_bytes: int) -> Response:
    """The JSON error for `exc` (its type noted in `exchange`); a gunicorn ParseException is re-raised."""
    if isinstance(exc, ParseException):
        # A malformed body (e.g. a bad chunk) leaves the connection unusable: gunicorn answers it
        # (400, JSON via http_errors) and closes the connection, which a Flask response cannot do.
        log.info("malformed request body in inference %s: %s", exchange.inference_id, exc)
        raise exc
    error = _as_serving_error(exc, max_body_bytes)
    exchange.error_type = error.error_type
    if error.inference_id is None and path == "/invocations":
        error.inference_id = exchange.inference_id
    if type(error) is errors.InternalError and error is not exc:
        log.error("unhandled error in inference %s", exchange.inference_id, exc_info=exc)
    return json_response(error.to_dict(), error.status_code, error.headers())


def _as_serving_error(exc: Exception, max_body_bytes: int) -> errors.ServingError:
    if isinstance(exc, errors.ServingError):
        return exc
    if isinstance(exc, HTTPException) and exc.code == 413:
        return errors.PayloadTooLarge(f"body over SDXL_MAX_BODY_BYTES={max_body_bytes}")
    if isinstance(exc, HTTPException):
        kind = _HTTP_ERRORS.get(exc.code or 500, errors.ServingError)
        return kind(exc.description or exc.name)
    return errors.InternalError("internal error; see the server log for this inference id")
