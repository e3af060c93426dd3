"""Identical seeded misses in flight, fleet-wide: one S3 object per pending request, claimed atomically.

`<cache prefix>gateway/pending/<cache key>.<raw|json>` names the inference that is rendering that
request (the suffix: raw image or JSON answer, as the Accept header asked; the same key with the other
answer kind is a different output object). The first miss writes it with `If-None-Match: *`, which S3
lets exactly one writer win (412 for the others, 409 while a write is in progress); the losers read it
and join that inference. A claim whose inference failed, expired or was never queued (its writer died
in between) is taken over with `If-Match: <the ETag read>`, so two gateways replacing the same stale
claim still queue the request once. The gateway never deletes claims: a done one keeps pointing at
its output, which is also what a later identical request gets when the cache entry is missing.

Cost per miss: one conditional PUT (the claim). Per joining request: that PUT answered 412, a GET of
the claim, a GET of the inference's record and one or two HEADs (output, failure).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from .objects import get_json, join_s3, put_json

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

LOST = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


@dataclass(frozen=True)
class Claim:
    """Another request's claim on a pending key, as read."""

    inference_id: str
    claimed_at: float
    etag: str

    def age_s(self) -> float:
        return time.time() - self.claimed_at


class PendingTable:
    def __init__(self, s3: S3Client, cache_uri: str) -> None:
        self.s3 = s3
        self.prefix = join_s3(cache_uri, "gateway/pending")

    def location(self, key: str, as_json: bool) -> str:
        return join_s3(self.prefix, f"{key}.{'json' if as_json else 'raw'}")

    def claim(self, location: str, inference_id: str) -> bool:
        """True: this inference now owns the key; False: another one does (`read` it)."""
        return self._write(location, inference_id, IfNoneMatch="*")

    def take_over(self, location: str, stale: Claim, inference_id: str) -> bool:
        """Replaces `stale` unless someone changed the claim since it was read."""
        return self._write(location, inference_id, IfMatch=stale.etag)

    def read(self, location: str) -> Claim | None:
        found = get_json(self.s3, location)
        if found is None:
            return None
        data, etag = found
        return Claim(str(data.get("inference_id", "")), float(data.get("claimed_at", 0)), etag)

    def _write(self, location: str, inference_id: str, **condition: str) -> bool:
        try:
            put_json(self.s3, location, {"inference_id": inference_id, "claimed_at": time.time()}, **condition)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in LOST:
                return False
            raise
        return True
