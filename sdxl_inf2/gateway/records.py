"""Where a queued request can be found again: one small JSON record per inference id.

`<cache prefix>gateway/inferences/<inference id>.json` holds the request's input, output and failure
locations (known once InvokeEndpointAsync has answered), its cache key, and when it stops being
worth waiting for. A status read takes the record, then looks for the output and the failure
object: done, failed, or queued (failed as expired once past the request TTL plus the invocation
timeout, when SageMaker will not answer it any more).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sdxl_inf2.core.errors import NotFound

from .objects import exists, failure_message, get_json, join_s3, put_json

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # InferenceId is 1-64 characters; ours are safe in a key


@dataclass(frozen=True)
class Ticket:
    """One request queued on the endpoint."""

    inference_id: str
    input_location: str
    output_location: str
    failure_location: str
    key: str | None = None  # the cache key (None: the request gave no seed)
    submitted_at: float = 0.0
    expires_at: float = 0.0  # epoch seconds after which SageMaker will not answer it
    timings: dict[str, float] = field(default_factory=dict, compare=False)  # this process only, not stored

    def stored(self) -> dict[str, Any]:
        record = asdict(self)
        record.pop("timings")
        return record

    @classmethod
    def from_stored(cls, record: dict[str, Any]) -> Ticket:
        return cls(**{k: record[k] for k in cls.__dataclass_fields__ if k in record and k != "timings"})


@dataclass(frozen=True)
class Status:
    state: Literal["queued", "done", "failed"]
    ticket: Ticket
    error: str | None = None


class Records:
    def __init__(self, s3: S3Client, cache_uri: str) -> None:
        self.s3 = s3
        self.prefix = join_s3(cache_uri, "gateway/inferences")

    def location(self, inference_id: str) -> str:
        return join_s3(self.prefix, f"{inference_id}.json")

    def put(self, ticket: Ticket) -> None:
        put_json(self.s3, self.location(ticket.inference_id), ticket.stored())

    def get(self, inference_id: str) -> Ticket | None:
        if not VALID_ID.fullmatch(inference_id):
            return None
        found = get_json(self.s3, self.location(inference_id))
        return Ticket.from_stored(found[0]) if found else None

    def find(self, inference_id: str) -> Ticket:
        ticket = self.get(inference_id)
        if ticket is None:
            raise NotFound(f"no inference {inference_id[:64]!r} was queued through this gateway")
        return ticket

    def status(self, ticket: Ticket, now: float) -> Status:
        if exists(self.s3, ticket.output_location):
            return Status("done", ticket)
        if exists(self.s3, ticket.failure_location):
            return Status("failed", ticket, failure_message(self.s3, ticket.failure_location))
        if now > ticket.expires_at:
            return Status("failed", ticket, "expired: no result within the request TTL plus the invocation timeout")
        return Status("queued", ticket)
