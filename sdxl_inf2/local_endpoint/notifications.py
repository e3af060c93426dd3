"""SageMaker's SNS messages for an async endpoint: the TestNotification at creation, and one
InferenceResult per request on the success or the error topic.

Fields (docs/local-endpoint-fidelity.md says which are documented, which captured, which modelled):
the developer guide's (async-inference-check-predictions, async-inference-create-endpoint) for
success; for errors, the shape of messages captured from AWS: `invocationStatus` "Failed" or
"Expired", `failureReason`, and `responseParameters` with the failure object's `contentType` and
`failureLocation` when one was written (the endpoint has an S3FailurePath); `requestParameters`
echo `accept` and `customAttributes` when the request gave them. The response embedded by
IncludeInferenceResponseIn is not sent: its field name is not documented anywhere found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sdxl_inf2.deploy.clients import Clients

from .events import utc_now
from .request import NOTIFIED, AsyncRequest, Outcome
from .served_endpoint import AsyncSettings, ServedEndpoint

EVENT = {"eventVersion": "1.0", "eventSource": "aws:sagemaker"}


@dataclass(frozen=True)
class Stored:
    """An output or failure object written to S3."""

    location: str
    content_type: str


def _timestamp(value: Any) -> str:
    return str(value.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def creation_notice() -> dict[str, Any]:
    return {**EVENT, "eventName": "TestNotification"}


def inference_result(
    region: str, endpoint: ServedEndpoint, request: AsyncRequest, outcome: Outcome, stored: Stored | None
) -> dict[str, Any]:
    """The message for a finished request; `stored` is its output or failure object, if one was written."""
    message: dict[str, Any] = {
        "awsRegion": region,
        "eventTime": _timestamp(utc_now()),
        "receivedTime": _timestamp(request.received_at),
        "invocationStatus": NOTIFIED[outcome.status],
        "requestParameters": request_parameters(endpoint, request),
        "inferenceId": request.inference_id,
        **EVENT,
        "eventName": "InferenceResult",
    }
    if outcome.status == "completed":
        assert stored is not None
        message["responseParameters"] = {"contentType": stored.content_type, "outputLocation": stored.location}
        return message
    message["failureReason"] = outcome.reason
    if stored is not None:
        message["responseParameters"] = {"contentType": stored.content_type, "failureLocation": stored.location}
    return message


def request_parameters(endpoint: ServedEndpoint, request: AsyncRequest) -> dict[str, Any]:
    """What the request said, as InvokeEndpointAsync's parameters: those it gave, and the endpoint."""
    given = {
        "accept": request.accept,
        "contentType": request.content_type,
        "customAttributes": request.custom_attributes,
        "endpointName": endpoint.name,
        "inputLocation": request.input_location,
    }
    return {name: value for name, value in given.items() if value}


def topic_for(settings: AsyncSettings, outcome: Outcome) -> str | None:
    return settings.success_topic if outcome.status == "completed" else settings.error_topic


def publish(clients: Clients, topic: str | None, message: dict[str, Any]) -> None:
    """One SNS message holding the JSON (SNS wraps it once more on its way to an SQS queue)."""
    if topic:
        clients.sns.publish(TopicArn=topic, Message=json.dumps(message))


def announce(clients: Clients, settings: AsyncSettings) -> None:
    """The TestNotification SageMaker publishes to the configured topics when the endpoint is created."""
    for topic in dict.fromkeys(t for t in (settings.success_topic, settings.error_topic) if t):
        publish(clients, topic, creation_notice())
