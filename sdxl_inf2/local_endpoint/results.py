"""A finished request: its output or failure object in S3, its notification, its log line.

A 2xx body goes to the output location with the container's Content-Type; a failure's or an
expiry's body (the container's error, else the failure reason as text) goes to the failure location
when the endpoint has an S3FailurePath. With a KmsKeyId the objects are written with SSE-KMS, as
SageMaker does.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sdxl_inf2.deploy.clients import Clients
from sdxl_inf2.gateway.objects import split_s3

from .events import EventLog
from .notifications import Stored, inference_result, publish, topic_for
from .request import AsyncRequest, Outcome
from .served_endpoint import AsyncSettings, ServedEndpoint

BINARY, TEXT = "application/octet-stream", "text/plain"  # S3's default type; a failure reason's


class Results:
    def __init__(self, clients: Clients, endpoint: ServedEndpoint, settings: AsyncSettings, events: EventLog):
        self.clients, self.endpoint, self.settings, self.events = clients, endpoint, settings, events

    def finish(self, request: AsyncRequest, outcome: Outcome) -> None:
        stored = self._store(request, outcome)
        if stored is None and outcome.status == "completed":
            outcome = Outcome("failed", reason=f"ResponseUploadFailure: could not write {request.output_location}")
        message = inference_result(self.clients.region, self.endpoint, request, outcome, stored)
        try:
            publish(self.clients, topic_for(self.settings, outcome), message)
        except (ClientError, BotoCoreError) as exc:
            self.events.request(request.inference_id, f"notification not published: {exc}")
        self.events.request(request.inference_id, describe(request, outcome, stored))

    def _store(self, request: AsyncRequest, outcome: Outcome) -> Stored | None:
        if outcome.status == "completed":
            location: str | None = request.output_location
            body, content_type = outcome.body, outcome.content_type or BINARY
        else:
            location = request.failure_location
            body = outcome.body or str(outcome.reason).encode()
            content_type = (outcome.content_type or BINARY) if outcome.body else TEXT
        if location is None:
            return None
        try:
            self._put(location, body, content_type)
        except (ClientError, BotoCoreError) as exc:
            self.events.request(request.inference_id, f"could not write {location}: {exc}")
            return None
        return Stored(location, content_type)

    def _put(self, location: str, body: bytes, content_type: str) -> None:
        bucket, key = split_s3(location)
        extra: dict[str, Any] = {"ContentType": content_type}
        if self.settings.kms_key_id:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.settings.kms_key_id)
        self.clients.s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)


def describe(request: AsyncRequest, outcome: Outcome, stored: Stored | None) -> str:
    """`completed on instance 1: 0.012s in queue, 0.213s in container -> s3://...` and the like
    (`failed` or `expired` with the reason, or what the endpoint's log says instead)."""
    where = f" on instance {outcome.instance}" if outcome.instance is not None else ""
    times = f"{request.queue_s():.3f}s in queue"
    if outcome.instance is not None:
        times += f", {outcome.container_s:.3f}s in container"
    if outcome.status == "completed":
        return f"completed{where}: {times} -> {stored.location if stored else None}"
    said = outcome.detail or outcome.reason
    return f"{outcome.status}{where}: {times}: {said}" + (f" -> {stored.location}" if stored else "")
