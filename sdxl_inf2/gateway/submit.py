"""`Gateway.submit`: one request read and keyed as the container would, then answered from the shared
cache, joined to an identical pending request, or queued on the async endpoint; and its demand counted.

    card  = the container's model card (card.py)
    read  = container/invocation.read_invocation against card.model_info()   (400/406/413 as the container)
    key   = container/cache/key.cacheable_key(params, seeded, card.fingerprint)   (None without a seed)
    hit   -> the S3 entry, checksums verified (core/cache/entry.py): status done, the images
    miss  -> claim the key (pending.py) and queue (enqueue.py) + record (records.py): status queued
             or join the claim's inference: status queued (or done, if its output is there), cache coalesced

A hit costs one S3 GET and no SageMaker call. A seeded miss costs a GET, the claim (a conditional
PUT), the body upload (PUT), InvokeEndpointAsync and the record (PUT); a request without a seed skips
the lookup and the claim.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from sdxl_inf2.core.cache.entry import CorruptEntry, unpack
from sdxl_inf2.core.cache.key import cacheable_key
from sdxl_inf2.core.cache.s3 import S3Store
from sdxl_inf2.core.errors import PayloadTooLarge
from sdxl_inf2.core.invocation import Invocation, parse_body, read_invocation
from sdxl_inf2.core.negotiation import JSON
from sdxl_inf2.core.throttle import ThrottledWarnings

from .card import CardReader
from .demand import DemandMetrics
from .enqueue import AsyncTarget, enqueue
from .errors import StillQueueing, UpstreamError
from .pending import Claim, PendingTable
from .records import Records, Status, Ticket
from .settings import GatewaySettings

if TYPE_CHECKING:
    from types_boto3_cloudwatch import CloudWatchClient
    from types_boto3_s3 import S3Client
    from types_boto3_sagemaker_runtime import SageMakerRuntimeClient

log = logging.getLogger("sdxl.gateway")
T = TypeVar("T")
CLAIM_ATTEMPTS = 3  # claim, or take over a stale claim, at most this often before "retry"
RECORD_WAIT_S = 5.0  # how long a joiner waits for the claimer's record (written ~0.1 s after the claim)
CLAIM_GRACE_S = 60.0  # a claim this old without a record: its writer died before queueing


@dataclass(frozen=True)
class GatewayClients:
    s3: S3Client
    runtime: SageMakerRuntimeClient
    cloudwatch: CloudWatchClient | None = None  # None: metrics as EMF on stdout (Lambda)


@dataclass(frozen=True)
class Outcome:
    """What one submission came to."""

    status: Literal["done", "queued"]
    cache: Literal["hit", "miss", "coalesced", "off"]
    inference_id: str
    invocation: Invocation
    images: list[bytes] = field(default_factory=list)  # a hit
    ticket: Ticket | None = None  # the inference that renders (or rendered) it

    def body(self) -> dict[str, Any]:
        """The JSON answer of the gateway's HTTP front ends."""
        answer: dict[str, Any] = {"status": self.status, "inference_id": self.inference_id, "cache": self.cache}
        if self.images:
            params = self.invocation.params
            answer["images"] = [base64.b64encode(image).decode("ascii") for image in self.images]
            answer.update(format=params.output_format, seed=params.seed, parameters=params.echo())
        if self.ticket is not None:
            answer["output_location"] = self.ticket.output_location
            answer["failure_location"] = self.ticket.failure_location
        return answer


class Gateway:
    def __init__(self, settings: GatewaySettings, clients: GatewayClients) -> None:
        self.settings, self.clients = settings, clients
        self.cache = S3Store(settings.cache_s3_uri, settings.s3_timeout_s, clients.s3)
        self.cards = CardReader(self.cache, settings.card_ttl_s)
        self.pending = PendingTable(clients.s3, settings.cache_s3_uri)
        self.records = Records(clients.s3, settings.cache_s3_uri)
        self.demand = DemandMetrics(settings, clients.cloudwatch)
        self.target = AsyncTarget(
            settings.endpoint_name, settings.input_path, settings.request_ttl_s, settings.invocation_timeout_s
        )
        self.warnings = ThrottledWarnings()

    def read(self, body: bytes, accept: str | None, content_type: str | None = JSON) -> tuple[Invocation, str | None]:
        """The request as the container will read it (with the same Content-Type rule), and its cache
        key (None: not cacheable)."""
        card = _upstream("read the model card", self.cards.current)
        if len(body) > card.max_body_bytes:
            raise PayloadTooLarge(f"body over the container's SDXL_MAX_BODY_BYTES={card.max_body_bytes}")
        invocation = read_invocation(parse_body(body, content_type), accept, card.model_info())
        return invocation, cacheable_key(invocation.params, invocation.seeded, card.fingerprint)

    def submit(
        self, body: bytes, accept: str | None = None, inference_id: str | None = None, content_type: str | None = JSON
    ) -> Outcome:
        invocation, key = self.read(body, accept, content_type)
        request = Request(body, accept, invocation, key, inference_id or uuid.uuid4().hex)
        outcome = _upstream("queue the request", lambda: self._answer(request))
        self.demand.count(outcome.cache, outcome.inference_id)
        return outcome

    def status(self, inference_id: str) -> Status:
        ticket = _upstream("read the record", lambda: self.records.find(inference_id))
        return _upstream("look for the result", lambda: self.records.status(ticket, time.time()))

    def _answer(self, request: Request) -> Outcome:
        if request.key is None:
            return self._queue(request, "off")
        images = self._lookup(request.key)
        if images is not None:
            return Outcome("done", "hit", request.inference_id, request.invocation, images=images)
        location = self.pending.location(request.key, request.invocation.plan.as_json)
        for _ in range(CLAIM_ATTEMPTS):
            if self.pending.claim(location, request.inference_id):
                return self._queue(request, "miss")
            theirs = self.pending.read(location)
            if theirs is None:  # gone between the two calls: claim again
                continue
            joined = self._join(theirs, request)
            if joined is not None:
                return joined
            if self.pending.take_over(location, theirs, request.inference_id):
                return self._queue(request, "miss")
        raise StillQueueing("an identical request is being queued right now; retry in a few seconds")

    def _lookup(self, key: str) -> list[bytes] | None:
        try:
            blob = self.cache.get(key)
            return None if blob is None else unpack(blob)
        except CorruptEntry as exc:  # the container drops it on its own next lookup and renders again
            log.warning("cache entry %s is corrupt (%s): treated as a miss", key, exc)
        except (ClientError, BotoCoreError) as exc:
            self.warnings.warn("s3 read", str(exc))
        return None

    def _join(self, claim: Claim, request: Request) -> Outcome | None:
        """The claim's inference, if it can still answer this request; None when the claim is stale."""
        ticket = self._wait_for_record(claim)
        if ticket is None:
            if claim.age_s() > CLAIM_GRACE_S:
                return None
            raise StillQueueing("an identical request is being queued right now; retry in a few seconds")
        status = self.records.status(ticket, time.time())
        if status.state == "failed":
            return None
        state: Literal["done", "queued"] = "done" if status.state == "done" else "queued"
        return Outcome(state, "coalesced", ticket.inference_id, request.invocation, ticket=ticket)

    def _wait_for_record(self, claim: Claim) -> Ticket | None:
        deadline = time.monotonic() + (RECORD_WAIT_S if claim.age_s() < CLAIM_GRACE_S else 0)
        while (ticket := self.records.get(claim.inference_id)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return ticket

    def _queue(self, request: Request, cache: Literal["miss", "off"]) -> Outcome:
        ticket = enqueue(
            self.clients.s3,
            self.clients.runtime,
            self.target,
            (request.body, request.accept),
            request.inference_id,
            request.key,
        )
        self.records.put(ticket)
        return Outcome("queued", cache, ticket.inference_id, request.invocation, ticket=ticket)


@dataclass(frozen=True)
class Request:
    body: bytes
    accept: str | None
    invocation: Invocation
    key: str | None
    inference_id: str


def _upstream(what: str, call: Callable[[], T]) -> T:
    """`call()`, with S3 and SageMaker failures as one-line UpstreamErrors naming what failed."""
    try:
        return call()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UpstreamError(f"could not {what}: {error.get('Code', '?')}: {error.get('Message', '')}") from None
    except BotoCoreError as exc:
        raise UpstreamError(f"could not {what}: {exc}") from None
