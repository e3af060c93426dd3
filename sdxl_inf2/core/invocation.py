"""One inference request read the way /invocations reads it: body -> fields -> response plan -> resolved
parameters, with every check in the same order. Pure (no Flask, no I/O).

The front (app.py) and the gateway (gateway/submit.py) both call `read_invocation`, so a request the
gateway accepts is one the container accepts, resolved to the same GenerationParams (and so the same
cache key) against the same model description.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .accept import parse_accept
from .errors import BadRequest, SdxlError, UnsupportedMediaType
from .modeldir import ModelInfo
from .negotiation import ResponsePlan, check_image_count, check_json_body, declares_json, negotiate
from .schema import GenerationParams, parse_request, resolve


@dataclass(frozen=True)
class Invocation:
    params: GenerationParams
    plan: ResponsePlan
    seeded: bool  # the client gave the seed (only then is the request cacheable)


def read_invocation(body: object, accept: str | None, model: ModelInfo) -> Invocation:
    """The resolved request (`accept`: the Accept header); BadRequest or NotAcceptable naming the problem."""
    prompt, fields = parse_request(body)
    plan = response_plan(accept, fields.output_format)
    params = resolve(prompt, fields, model, plan.output_format)
    check_image_count(plan, params.num_images)
    return Invocation(params, plan, seeded=fields.seed is not None)


def parse_body(raw: bytes, content_type: str | None) -> Any:
    """The body under the Content-Type rule (negotiation.check_json_body, checked here too): declared
    JSON that does not parse is a 400 naming the body; an undeclared body (no Content-Type, or
    application/octet-stream) that does not parse is a 415: nothing said it was JSON, and JSON is
    the only type served."""
    check_json_body(content_type)
    if declares_json(content_type):
        return parse_json(raw)
    try:
        return _loads(raw)
    except NotJson as exc:
        declared = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise UnsupportedMediaType(
            f"the body came with {declared} and is not JSON ({exc}): send a JSON body, "
            "with Content-Type: application/json",
            field="(body)",
        ) from None


@lru_cache(maxsize=64)
def response_plan(accept: str | None, output_format: str | None) -> ResponsePlan:
    """The negotiated plan (immutable), worked out once per Accept header and format: clients repeat
    the same few, and parsing and matching one cost 12 us of the front's request path."""
    return negotiate(parse_accept(accept), output_format)


def parse_json(raw: bytes) -> Any:
    """`raw` parsed, or BadRequest naming the body (every failure body.py's docstring lists)."""
    try:
        return _loads(raw)
    except NotJson as exc:
        raise BadRequest(f"body is not valid JSON: {exc}", field="(body)") from None


class NotJson(SdxlError):
    """Why the bytes are not JSON, in one short line; the callers turn it into a 400 or a 415."""


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise NotJson("nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]) from None
