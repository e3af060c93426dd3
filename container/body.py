"""The request body as JSON, at a bounded cost.

The body is read up to SDXL_MAX_BODY_BYTES (413 beyond it), then parsed by the standard library's
C parser under the Content-Type rule (`invocation.parse_body`, which the gateway uses too: declared
JSON, or no declared type at all). Whatever the parser cannot take is one
400 naming the body: malformed JSON, bytes that are not UTF-8/16/32 text, numbers over Python's
4300-digit limit, and nesting deeper than the interpreter's recursion limit, which the parser refuses
after ~1000 levels (a RecursionError, not a ValueError). Cost is linear in the (bounded) body: under
30 ms of CPU for the worst 1 MB measured.
"""

from __future__ import annotations

from typing import Any

from flask import Request

from sdxl_inf2.core import errors
from sdxl_inf2.core.invocation import parse_body


def read_json(request: Request, limit: int) -> Any:
    """The parsed body, or BadRequest / UnsupportedMediaType (field `(body)`) / PayloadTooLarge."""
    return parse_body(_read_body(request, limit), request.content_type)


def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413. A declared Content-Length over the limit is refused before reading;
    a chunked body (no length) is read up to the limit, and anything beyond it is refused too
    (werkzeug alone would silently truncate it)."""
    data = request.stream.read()
    if len(data) >= limit and request.stream.read(1):
        raise errors.PayloadTooLarge(f"body over SDXL_MAX_BODY_BYTES={limit}")
    return bytes(data)
