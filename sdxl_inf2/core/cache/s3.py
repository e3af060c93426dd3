"""The shared tier: one S3 object per entry under SDXL_CACHE_S3_URI, seen by every instance.

Short timeouts and one retry: a lookup runs before the request is queued, so a slow or unreachable
S3 must cost at most a few seconds once and then read as a miss (the caller logs it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


class S3Store:
    name = "s3"
    local = False

    def __init__(self, uri: str, timeout_s: float, client: S3Client | None = None) -> None:
        """`client`: the caller's own (the gateway's, with its session); default: one with short timeouts."""
        self.bucket, prefix = split_s3(uri)
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self._s3: S3Client = client or boto3.client("s3", config=short_timeouts(timeout_s))

    def object_key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def get(self, key: str) -> bytes | None:
        try:
            answer: Any = self._s3.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except self._s3.exceptions.NoSuchKey:
            return None
        body: bytes = answer["Body"].read()
        return body

    def put(self, key: str, blob: bytes) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=blob)

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def close(self) -> None:
        self._s3.close()


def split_s3(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def short_timeouts(timeout_s: float) -> Config:
    return Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": 2, "mode": "standard"},
        max_pool_connections=32,  # lookups come from many request threads at once
    )
