"""An accepted InvokeEndpointAsync request, the outcome of one attempt at it, and SageMaker's wording.

Outcomes, as the notification's `invocationStatus` says them: `Completed`; `Expired` for a request
past its RequestTTLSeconds in the queue or its InvocationTimeoutSeconds in the container (botocore's
model: either one "is marked as expired"); `Failed` for everything else. Failure reasons, as
SageMaker words them where that is known (docs/local-endpoint-fidelity.md lists which are
captured and which are modelled):
- the container answered non-2xx: `ClientError: Received client error (400) from model. See the
  SageMaker Endpoint logs in your account for more information.` (server error for 5xx), the text
  of notifications captured from AWS; the endpoint's log line (data-log) says `Received client
  error (400) from primary with message "<body>"`, which is also InvokeEndpoint's ModelError text;
- the invocation timed out: the real-time ModelError text "Your invocation timed out while waiting
  for a response from container primary." in the same frame (modelled for async);
- expired in the queue, instance lost too often, input unreadable: modelled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

MAX_MESSAGE = 1024  # characters of the container's body quoted in a failure reason


@dataclass
class AsyncRequest:
    inference_id: str
    endpoint_name: str
    input_location: str | None  # s3://bucket/key, or None with an inline body
    inline_body: bytes | None
    content_type: str | None
    accept: str | None
    custom_attributes: str | None
    ttl_s: int
    invocation_timeout_s: int
    output_location: str
    failure_location: str | None
    received_at: datetime  # wall clock, for the notification's receivedTime
    received: float = field(default_factory=time.monotonic)
    attempts: int = 0
    dispatched: float | None = None  # monotonic time of the latest dispatch

    def age_s(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.received

    def queue_s(self) -> float:
        """Time in the queue before the latest dispatch (or until now, if never dispatched)."""
        return (self.dispatched or time.monotonic()) - self.received


Status = Literal["completed", "failed", "expired", "lost"]
NOTIFIED = {"completed": "Completed", "failed": "Failed", "expired": "Expired"}  # -> invocationStatus


@dataclass(frozen=True)
class Outcome:
    """`lost`: the instance went away mid-request (the request goes back to the queue). `reason` is the
    notification's failureReason; `detail`, when given, what the endpoint's log says instead."""

    status: Status
    body: bytes = b""
    content_type: str | None = None
    reason: str | None = None
    container_s: float = 0.0
    instance: int | None = None
    detail: str | None = None


def received_error(status: int, body: bytes) -> str:
    """SageMaker's words for a container's non-2xx answer (also InvokeEndpoint's ModelError message)."""
    kind = "client" if 400 <= status < 500 else "server"
    message = body.decode("utf-8", errors="replace").strip()[:MAX_MESSAGE]
    return f'Received {kind} error ({status}) from primary with message "{message}"'


def container_error(status: int) -> str:
    """A notification's failureReason for a container's non-2xx answer (the body is in the failure object)."""
    kind = "client" if 400 <= status < 500 else "server"
    return (
        f"ClientError: Received {kind} error ({status}) from model. "
        "See the SageMaker Endpoint logs in your account for more information."
    )


TIMED_OUT = "Your invocation timed out while waiting for a response from container primary."


def invocation_timed_out(timeout_s: int) -> str:
    return f"ClientError: {received_error(0, TIMED_OUT.encode())} (InvocationTimeoutSeconds {timeout_s})."


def expired(waited_s: float, ttl_s: int) -> str:
    return f"Request expired: it waited {waited_s:.1f}s in the queue, over its RequestTTLSeconds of {ttl_s}."


def lost_too_often(attempts: int) -> str:
    return f"The instance holding the request stopped {attempts} times in a row; the request was not retried again."


def input_unreadable(location: str, problem: str) -> str:
    return f"ClientError: Could not read the input at {location}: {problem}"
