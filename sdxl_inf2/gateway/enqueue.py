"""Queueing one request on the async endpoint: upload its body, then InvokeEndpointAsync.

The gateway queues every miss this way, and `sdxl-inf2 invoke` does too for a deployment without a
shared cache (and so without a gateway): one way to queue a request. The body is uploaded exactly as
the client sent it, so the container reads the same bytes the gateway validated.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .objects import join_s3, split_s3
from .records import Ticket

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_sagemaker_runtime import SageMakerRuntimeClient


@dataclass(frozen=True)
class AsyncTarget:
    endpoint_name: str
    input_path: str
    request_ttl_s: int
    invocation_timeout_s: int


@contextmanager
def phase(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        timings[name] = time.monotonic() - start


def enqueue(
    s3: S3Client,
    runtime: SageMakerRuntimeClient,
    target: AsyncTarget,
    request: tuple[bytes, str | None],
    inference_id: str,
    key: str | None = None,
) -> Ticket:
    """Uploads `request` (body, Accept) to `<input_path>/<inference id>.json` and queues it."""
    body, accept = request
    input_location = join_s3(target.input_path, f"{inference_id}.json")
    timings: dict[str, float] = {}
    submitted_at = time.time()
    with phase(timings, "upload"):
        bucket, object_key = split_s3(input_location)
        s3.put_object(Bucket=bucket, Key=object_key, Body=body, ContentType="application/json")
    with phase(timings, "submit"):
        options: dict[str, Any] = {"Accept": accept} if accept else {}
        answer = runtime.invoke_endpoint_async(
            EndpointName=target.endpoint_name,
            InputLocation=input_location,
            ContentType="application/json",
            InferenceId=inference_id,
            RequestTTLSeconds=target.request_ttl_s,
            InvocationTimeoutSeconds=target.invocation_timeout_s,
            **options,
        )
    expires_at = submitted_at + target.request_ttl_s + target.invocation_timeout_s
    output, failure = answer["OutputLocation"], answer.get("FailureLocation", "")
    return Ticket(inference_id, input_location, output, failure, key, submitted_at, expires_at, timings)
