"""SageMaker's SNS messages for an async endpoint: the TestNotification at creation, and one
InferenceResult per request on the success or the error topic.

Fields as the developer guide documents them (async-inference-check-predictions,
async-inference-create-endpoint); `failureReason` and `failureLocation` on errors as consumers of
real notifications read them. The response embedded by IncludeInferenceResponseIn is not sent: its
field name is not documented anywhere found.
"""

from __future__ import annotations

import json
from typing import Any

from sdxl_inf2.deploy.clients import Clients

from .events import utc_now
from .request import AsyncRequest, Outcome
from .served_endpoint import AsyncSettings, ServedEndpoint

EVENT = {"eventVersion": "1.0", "eventSource": "aws:sagemaker"}


def _timestamp(value: Any) -> str:
    return str(value.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def creation_notice() -> dict[str, Any]:
    return {**EVENT, "eventName": "TestNotification"}


def inference_result(
    region: str, endpoint: ServedEndpoint, request: AsyncRequest, outcome: Outcome, location: str | None
) -> dict[str, Any]:
    """The message for a finished request; `location` is where its output or failure object went."""
    request_parameters: dict[str, Any] = {"endpointName": endpoint.name}
    if request.content_type:
        request_parameters["contentType"] = request.content_type
    if request.input_location:
        request_parameters["inputLocation"] = request.input_location
    message: dict[str, Any] = {
        "awsRegion": region,
        "eventTime": _timestamp(utc_now()),
        "receivedTime": _timestamp(request.received_at),
        "invocationStatus": "Completed" if outcome.status == "completed" else "Failed",
        "requestParameters": request_parameters,
        "inferenceId": request.inference_id,
        **EVENT,
        "eventName": "InferenceResult",
    }
    if outcome.status == "completed":
        message["responseParameters"] = {"contentType": outcome.content_type, "outputLocation": location}
    else:
        message["failureReason"] = outcome.reason
        if location:
            message["failureLocation"] = location
    return message


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
