"""One attempt at a request on one instance: read the input, POST it to `/invocations`, classify.

The container gets the body with the request's ContentType, Accept, CustomAttributes and inference
id, as SageMaker forwards them. Outcomes: `completed` (2xx with a Content-Length), `expired` (over
InvocationTimeoutSeconds), `failed` (non-2xx, no Content-Length, unreadable input) or `lost` (the
connection broke: the instance died or went away; the dispatcher requeues the request).
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, replace

from botocore.exceptions import BotoCoreError, ClientError

from sdxl_inf2.deploy.clients import Clients
from sdxl_inf2.gateway.objects import split_s3

from . import request as wording
from .instances import Instance
from .request import AsyncRequest, Outcome

CONNECT_TIMEOUT_S = 2.0
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
NO_LENGTH = "The response from container primary did not specify the required Content-Length header"


class InstanceLost(Exception):  # not an SdxlError: control flow, answered as a 503, never shown as an error
    """The connection to the instance broke before a whole answer came back."""


@dataclass(frozen=True)
class ContainerAnswer:
    status: int
    content_type: str | None
    content_length: str | None
    custom_attributes: str | None
    body: bytes


def run_attempt(clients: Clients, instance: Instance, request: AsyncRequest) -> Outcome:
    body = request.inline_body
    if body is None:
        try:
            body = read_input(clients, str(request.input_location))
        except (ClientError, BotoCoreError) as exc:
            reason = wording.input_unreadable(str(request.input_location), str(exc))
            return Outcome("failed", reason.encode(), "text/plain", reason, instance=instance.slot)
    started = time.monotonic()
    outcome = _outcome(instance, request, body)
    return replace(outcome, container_s=time.monotonic() - started, instance=instance.slot)


def _outcome(instance: Instance, request: AsyncRequest, body: bytes) -> Outcome:
    headers = container_headers(request.inference_id, request.content_type, request.accept, request.custom_attributes)
    try:
        answer = post_invocation(instance.port, body, headers, request.invocation_timeout_s)
    except InstanceLost:
        return Outcome("lost")
    except TimeoutError:
        reason = wording.invocation_timed_out(request.invocation_timeout_s)
        return Outcome("expired", reason.encode(), "text/plain", reason)
    if not 200 <= answer.status < 300:
        reason, detail = wording.container_error(answer.status), wording.received_error(answer.status, answer.body)
        return Outcome("failed", answer.body, answer.content_type, reason, detail=detail)
    if answer.content_length is None:
        return Outcome("failed", NO_LENGTH.encode(), "text/plain", NO_LENGTH)
    return Outcome("completed", answer.body, answer.content_type)


def read_input(clients: Clients, location: str) -> bytes:
    bucket, key = split_s3(location)
    return bytes(clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def container_headers(
    inference_id: str, content_type: str | None, accept: str | None, custom_attributes: str | None
) -> dict[str, str]:
    """The headers SageMaker forwards to `/invocations` (it strips every other one)."""
    headers = {"X-Amzn-SageMaker-Inference-Id": inference_id}
    if content_type:
        headers["Content-Type"] = content_type
    if accept:
        headers["Accept"] = accept
    if custom_attributes:
        headers[CUSTOM_ATTRIBUTES] = custom_attributes
    return headers


def post_invocation(port: int, body: bytes, headers: dict[str, str], timeout_s: float) -> ContainerAnswer:
    """POST /invocations on a loopback instance; InstanceLost when the connection breaks, TimeoutError
    when no answer arrives within `timeout_s`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CONNECT_TIMEOUT_S)
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(timeout_s)
        conn.request("POST", "/invocations", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    except TimeoutError:
        if conn.sock is None:  # never connected
            raise InstanceLost from None
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise InstanceLost(str(exc)) from None
    finally:
        conn.close()
    return ContainerAnswer(
        response.status,
        response.getheader("Content-Type"),
        response.getheader("Content-Length"),
        response.getheader(CUSTOM_ATTRIBUTES),
        data,
    )
