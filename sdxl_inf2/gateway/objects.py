"""Small S3 reads and writes the gateway and the async client share, by `s3://bucket/key` location.

Missing objects are None/False, never exceptions, so callers read as decisions: a result exists or
not, a record exists or not. Other S3 errors propagate (the caller turns them into one line).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sdxl_inf2.core.cache.s3 import split_s3 as split_s3  # deploy and the local endpoint import it from here

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

MISSING = {"404", "NoSuchKey", "NotFound"}  # S3's error codes for an object that is not there
FAILURE_READ_BYTES = 4096  # enough for the container's one-line JSON error


def join_s3(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}"


def is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in MISSING


def exists(s3: S3Client, location: str) -> bool:
    bucket, key = split_s3(location)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return False
        raise
    return True


def get_json(s3: S3Client, location: str) -> tuple[dict[str, Any], str] | None:
    """(the object as JSON, its ETag), or None when there is no such object."""
    bucket, key = split_s3(location)
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    data = json.loads(answer["Body"].read())
    return (data if isinstance(data, dict) else {}), answer["ETag"]


def put_json(s3: S3Client, location: str, data: dict[str, Any], **condition: str) -> None:
    """Writes `data`; `condition` is IfNoneMatch="*" or IfMatch=<etag> for a conditional write."""
    bucket, key = split_s3(location)
    body = json.dumps(data, sort_keys=True).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition)  # type: ignore[arg-type]


def failure_message(s3: S3Client, location: str) -> str:
    """The container's error message when the failure object is its JSON error, else the text itself."""
    bucket, key = split_s3(location)
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read(FAILURE_READ_BYTES).decode(errors="replace")
    try:
        error = json.loads(text)["error"]
        return f"{error.get('type', 'error')}: {error.get('message', '')} (details at {location})"
    except (ValueError, KeyError, TypeError):
        return f"{text.strip()[:300]} (details at {location})"
