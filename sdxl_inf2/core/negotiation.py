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


def check_json_body(content_type: str | None) -> None:
    """The request body must be declared JSON (`application/json` or a `+json` type)."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype != JSON and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {content_type or 'none'!r}")


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
