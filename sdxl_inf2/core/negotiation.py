"""Content negotiation: which response the client gets from the Accept header and output_format."""

from __future__ import annotations

from dataclasses import dataclass

from .accept import Accept
from .errors import NotAcceptable, UnsupportedMediaType

JSON = "application/json"
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class ResponsePlan:
    as_json: bool
    output_format: str

    @property
    def mimetype(self) -> str:
        return JSON if self.as_json else IMAGE_TYPES[self.output_format]


# What a client sends when it says nothing about the body: no Content-Type at all (boto3's
# InvokeEndpointAsync without ContentType, which the SageMaker Python SDK's AsyncPredictor never
# sets), or the generic default of many HTTP clients. Such a body is read as JSON (invocation.py
# `parse_body`); any other declared type is refused.
UNDECLARED = ("", "application/octet-stream")


def body_mimetype(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower case, without parameters ("" when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def declares_json(content_type: str | None) -> bool:
    mimetype = body_mimetype(content_type)
    return mimetype == JSON or mimetype.endswith("+json")


def check_json_body(content_type: str | None) -> None:
    """415 unless the body is declared JSON (`application/json` or a `+json` type) or not declared
    (UNDECLARED: then it must parse as JSON, which `parse_body` checks once the body is read)."""
    if not declares_json(content_type) and body_mimetype(content_type) not in UNDECLARED:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json (or absent, for a JSON body), got {content_type!r}"
        )


def check_image_count(plan: ResponsePlan, num_images: int) -> None:
    if not plan.as_json and num_images > 1:
        raise NotAcceptable(
            f"num_images={num_images} needs Accept: application/json (a raw image response holds one image)"
        )


def negotiate(accept: Accept, requested_format: str | None) -> ResponsePlan:
    """Raw image bytes for image/* or */* (or no Accept), base64 JSON for application/json."""
    if not accept:  # header absent or empty: raw image, as SageMaker clients expect by default
        return ResponsePlan(False, requested_format or "png")
    if requested_format is not None:
        if accept.quality(IMAGE_TYPES[requested_format]) > 0:
            return ResponsePlan(False, requested_format)
        if accept.quality(JSON) > 0:
            return ResponsePlan(True, requested_format)
        raise NotAcceptable(
            f"Accept {accept.to_header()!r} allows neither output_format "
            f"{requested_format!r} ({IMAGE_TYPES[requested_format]}) nor {JSON}"
        )
    best = accept.best_match([IMAGE_TYPES["png"], JSON, IMAGE_TYPES["jpeg"], IMAGE_TYPES["webp"]])
    if best is None:
        raise NotAcceptable(
            f"Accept {accept.to_header()!r}: supported types are {', '.join([*IMAGE_TYPES.values(), JSON])}"
        )
    if best == JSON:
        return ResponsePlan(True, "png")
    return ResponsePlan(False, next(k for k, v in IMAGE_TYPES.items() if v == best))
