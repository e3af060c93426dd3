"""The async client: upload the JSON request, InvokeEndpointAsync, wait for the result, download it.

With a shared cache tier (SDXL_CACHE_S3_URI) `invoke` submits through the gateway library instead
(deploy/gateway.py `connect`): a hit is saved at once from S3, an identical pending request is
joined, and only a miss is queued (docs/gateway.md).

Waiting watches the output and failure locations in S3, or, when the config has a notification
queue, the SNS messages on that queue (no S3 polling). SageMaker's TestNotification messages are
dropped; messages for other requests are handed back to the queue at once for their own clients.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdxl_inf2.gateway.enqueue import AsyncTarget, enqueue, phase
from sdxl_inf2.gateway.objects import exists, failure_message, split_s3
from sdxl_inf2.gateway.records import Ticket
from sdxl_inf2.gateway.submit import Outcome

from .clients import Clients
from .config import DeployConfig
from .errors import InferenceFailed, WaitTimeout
from .notifications import describe_queue_url
from .progress import wait_for

# First bytes of each format the container can return.
_SIGNATURES = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"RIFF": ".webp", b"{": ".json"}


def request_body(prompt: str | None, request_file: Path | None) -> bytes:
    """The JSON body: the request file's object, with `prompt` set when given."""
    request: dict[str, Any] = json.loads(request_file.read_text()) if request_file else {}
    if prompt is not None:
        request["prompt"] = prompt
    if "prompt" not in request and "inputs" not in request:
        raise InferenceFailed("the request has no prompt: pass --prompt or a --request file with one")
    return json.dumps(request).encode()


def async_target(config: DeployConfig) -> AsyncTarget:
    settings, invoke = config.async_settings("invoke"), config.invoke
    return AsyncTarget(config.name, settings.input_path, invoke.request_ttl_s, invoke.invocation_timeout_s)


def submit(clients: Clients, config: DeployConfig, body: bytes, inference_id: str | None, accept: str) -> Ticket:
    """Uploads the body to the input path and queues it on the endpoint (no gateway: no cache lookup)."""
    target = async_target(config)
    return enqueue(clients.s3, clients.runtime, target, (body, accept), inference_id or uuid.uuid4().hex)


def wait_result(clients: Clients, config: DeployConfig, job: Ticket, timeout_s: float, watch_queue: bool = True) -> str:
    """The S3 location of the result once it is there; InferenceFailed or WaitTimeout otherwise.
    `watch_queue` False polls S3 even with a queue: a joined inference's notification is its owner's."""
    url = describe_queue_url(clients, config) if watch_queue else None
    poll = _queue_poll(clients, url, job, config.invoke.poll_s) if url else _s3_poll(clients, job)
    pause = 0.0 if url else config.invoke.poll_s  # a queue receive already waits up to poll_s
    found: list[str] = []
    with phase(job.timings, "wait"):
        try:
            wait_for(lambda: _record(poll, found), f"inference {job.inference_id}", poll_s=pause, timeout_s=timeout_s)
        except WaitTimeout:
            where = job.output_location
            raise WaitTimeout(
                f"no result for {job.inference_id} after {timeout_s:g}s; it will appear at {where}"
            ) from None
    return found[0]


def _record(poll: Callable[[], str | None], found: list[str]) -> tuple[str, bool]:
    location = poll()
    if location:
        found.append(location)
    return ("done" if location else "waiting"), location is not None


def _s3_poll(clients: Clients, job: Ticket) -> Callable[[], str | None]:
    def poll() -> str | None:
        if exists(clients.s3, job.output_location):
            return job.output_location
        if exists(clients.s3, job.failure_location):
            raise InferenceFailed(
                f"inference {job.inference_id} failed: {failure_message(clients.s3, job.failure_location)}"
            )
        return None

    return poll


def _queue_poll(clients: Clients, url: str, job: Ticket, poll_s: float) -> Callable[[], str | None]:
    def poll() -> str | None:
        wait = min(20, max(1, int(poll_s)))  # long polling: returns as soon as a message arrives
        answer = clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        for message in answer.get("Messages", []):
            location = _handle_message(clients, url, message, job)
            if location:
                return location
        return None

    return poll


def _handle_message(clients: Clients, url: str, message: Any, job: Ticket) -> str | None:
    note = notification(message["Body"])
    if note is not None and note.get("inferenceId") == job.inference_id:
        clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return _outcome(note, job)
    if note is None or note.get("eventName") == "TestNotification":
        clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    else:  # another client's result: make it visible again now
        clients.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return None


def notification(body: str) -> dict[str, Any] | None:
    """SageMaker's JSON from an SQS body that wraps the SNS envelope; None if it is neither."""
    try:
        outer = json.loads(body)
        inner = json.loads(outer["Message"]) if "Message" in outer else outer
    except (ValueError, TypeError, KeyError):
        return None
    return inner if isinstance(inner, dict) else None


def _outcome(note: dict[str, Any], job: Ticket) -> str:
    """The output location of a Completed request; InferenceFailed for Failed and Expired (SageMaker
    marks a request past RequestTTLSeconds or InvocationTimeoutSeconds as expired), naming the failure
    object as the message gives it (`responseParameters.failureLocation`)."""
    response = note.get("responseParameters") or {}
    if note.get("invocationStatus") == "Completed":
        return str(response.get("outputLocation") or job.output_location)
    what = "expired" if note.get("invocationStatus") == "Expired" else "failed"
    reason = note.get("failureReason", "no reason given")
    where = response.get("failureLocation") or job.failure_location
    raise InferenceFailed(f"inference {job.inference_id} {what}: {reason} (details at {where})")


def download(clients: Clients, location: str, job: Ticket, out_dir: Path) -> list[Path]:
    """Saves the result as <inference id>.<format>; a JSON answer's base64 images are saved beside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"{job.inference_id}.download"
    with phase(job.timings, "download"):
        bucket, key = split_s3(location)
        clients.s3.download_file(bucket, key, str(raw))
    saved = raw.rename(raw.with_suffix(_extension(raw.read_bytes()[:16])))
    return [saved, *_decoded_images(saved)] if saved.suffix == ".json" else [saved]


def save_hit(outcome: Outcome, out_dir: Path) -> list[Path]:
    """A cache hit's images, saved as a downloaded result would be: the raw image, or the JSON answer
    with its images decoded beside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if outcome.invocation.plan.as_json:
        answer = out_dir / f"{outcome.inference_id}.json"
        answer.write_text(json.dumps(outcome.body()))
        return [answer, *_decoded_images(answer)]
    image = out_dir / f"{outcome.inference_id}{_extension(outcome.images[0][:16])}"
    image.write_bytes(outcome.images[0])
    return [image]


def _extension(head: bytes) -> str:
    return next((ext for magic, ext in _SIGNATURES.items() if head.startswith(magic)), ".out")


def _decoded_images(answer: Path) -> list[Path]:
    try:
        body = json.loads(answer.read_text())
        images, kind = body["images"], body.get("format", "png")
    except (ValueError, KeyError, TypeError):
        return []
    paths = [answer.with_name(f"{answer.stem}-{index}.{kind}") for index in range(len(images))]
    for path, encoded in zip(paths, images, strict=True):
        path.write_bytes(base64.b64decode(encoded))
    return paths


def describe_timings(timings: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f}s" for name, seconds in timings.items())
