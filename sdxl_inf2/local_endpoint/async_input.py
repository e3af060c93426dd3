"""InvokeEndpointAsync's headers turned into a queued request, checked against botocore's own model.

Header names, lengths, patterns and ranges come from botocore's service model for sagemaker-runtime
(the same file the client serializes with), so nothing here restates them. A bad value is a
ValidationError in AWS's wording ("1 validation error detected: Value '30' at 'requestTTLSeconds'
failed to satisfy constraint: ..."). Only `s3://` input locations are served here; an inline Body
may replace the input location.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Protocol

from sdxl_inf2.core import sagemaker
from sdxl_inf2.core.errors import SdxlError

from .events import utc_now
from .request import AsyncRequest
from .served_endpoint import AsyncSettings

# botocore's patterns are Java regular expressions; these are the constructs they use.
_JAVA = {r"[\p{Print}]": r"[\x20-\x7e]", r"\p{ASCII}": r"[\x00-\x7f]", r"\z": r"\Z"}


class Headers(Protocol):
    """Request headers, looked up without regard to case (werkzeug's)."""

    def get(self, key: str) -> str | None: ...


class InvalidAsyncRequest(SdxlError):
    """Answered as SageMaker's ValidationError (HTTP 400)."""

    max_chars = None  # AWS's wording quotes the whole value that failed


def members() -> dict[str, Any]:
    return sagemaker.members(sagemaker.RUNTIME, sagemaker.ASYNC_INVOCATION)


def header(name: str) -> str:
    return str(members()[name].serialization["name"])


def _python_regex(pattern: str) -> str:
    for java, python in _JAVA.items():
        pattern = pattern.replace(java, python)
    return pattern


def _invalid(name: str, value: object, constraint: str) -> InvalidAsyncRequest:
    return InvalidAsyncRequest(
        f"1 validation error detected: Value '{value}' at '{name[0].lower() + name[1:]}' failed to satisfy "
        f"constraint: Member must {constraint}"
    )


def _text(headers: Headers, name: str) -> str | None:
    value = headers.get(header(name))
    if value is None:
        return None
    meta = members()[name].metadata
    if len(value) > meta.get("max", len(value)) or len(value) < meta.get("min", 0):
        raise _invalid(name, value, f"have length between {meta.get('min', 0)} and {meta['max']}")
    if "pattern" in meta and not re.fullmatch(_python_regex(meta["pattern"]), value):
        raise _invalid(name, value, f"satisfy regular expression pattern: {meta['pattern']}")
    return value


def _seconds(headers: Headers, name: str, default: int, lowest: int | None = None) -> int:
    raw = headers.get(header(name))
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, raw, "be an integer") from None
    meta = members()[name].metadata
    lowest = meta["min"] if lowest is None else lowest
    if value < lowest:
        hint = " (lowered by local-endpoint --min-request-ttl)" if lowest < meta["min"] else ""
        raise _invalid(name, value, f"have value greater than or equal to {lowest}{hint}")
    if value > meta["max"]:
        raise _invalid(name, value, f"have value less than or equal to {meta['max']}")
    return value


def parse_async_request(
    endpoint_name: str, headers: Headers, body: bytes, settings: AsyncSettings, min_ttl_s: int
) -> AsyncRequest:
    input_location = _text(headers, "InputLocation")
    if input_location and body:
        raise InvalidAsyncRequest("Body and InputLocation are mutually exclusive: provide exactly one of them")
    if not input_location and not body:
        raise InvalidAsyncRequest("InputLocation or an inline Body is required")
    if input_location and not input_location.startswith("s3://"):
        raise InvalidAsyncRequest(f"InputLocation {input_location}: only s3:// locations are served locally")
    if len(body) > members()["Body"].metadata["max"]:
        raise _invalid(
            "Body", f"<{len(body)} bytes>", f"have length less than or equal to {members()['Body'].metadata['max']}"
        )
    inference_id = _text(headers, "InferenceId") or str(uuid.uuid4())
    extension, filename = _text(headers, "S3OutputPathExtension"), _text(headers, "Filename")
    failure_path = settings.failure_path
    return AsyncRequest(
        inference_id=inference_id,
        endpoint_name=endpoint_name,
        input_location=input_location,
        inline_body=None if input_location else body,
        content_type=_text(headers, "ContentType"),
        accept=_text(headers, "Accept"),
        custom_attributes=_text(headers, "CustomAttributes"),
        ttl_s=_seconds(headers, "RequestTTLSeconds", sagemaker.DEFAULT_REQUEST_TTL_S, min_ttl_s),
        invocation_timeout_s=_seconds(headers, "InvocationTimeoutSeconds", sagemaker.DEFAULT_INVOCATION_TIMEOUT_S),
        output_location=location(settings.output_path, extension, filename or f"{inference_id}.out"),
        failure_location=(
            location(failure_path, extension, filename or f"{inference_id}-error.out") if failure_path else None
        ),
        received_at=utc_now(),
    )


def location(path: str, extension: str | None, filename: str) -> str:
    """`<path>/<extension>/<filename>`: the extension is appended to the path, the file named last."""
    parts = [path.rstrip("/")] + ([extension.strip("/")] if extension else []) + [filename]
    return "/".join(parts)
