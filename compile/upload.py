"""Upload an archive to S3 with boto3's managed (multipart, parallel) transfer and a progress bar, and
its worker plan file beside it (the key deploy reads: core/plan_file.py)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from tqdm import tqdm

from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.plan_file import plan_name

DEFAULT_PART_MB = 64


class UploadError(SdxlError):
    """Bad S3 URI; one line."""


def s3_key_for(uri: str, filename: str) -> tuple[str, str]:
    """(bucket, key): `s3://bucket/prefix/` puts the file under the prefix; `s3://bucket/key.tar.gz` is used as is."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UploadError(f"--upload {uri!r}: expected s3://bucket/prefix/")
    key = parsed.path.lstrip("/")
    if not key or key.endswith("/"):
        key += filename
    return parsed.netloc, key


def upload(archive: Path, uri: str, sha256: str, part_size_mb: int = DEFAULT_PART_MB, progress: bool = True) -> str:
    """Upload `archive`; returns its s3:// URI. The sha256 is stored as object metadata."""
    import boto3
    from boto3.exceptions import S3UploadFailedError
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = s3_key_for(uri, archive.name)
    part = part_size_mb * 1024 * 1024
    config = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=8)
    size = archive.stat().st_size
    target = f"s3://{bucket}/{key}"
    try:
        with tqdm(total=size, unit="B", unit_scale=True, desc=f"upload {target}", disable=not progress) as bar:
            boto3.client("s3").upload_file(
                str(archive),
                bucket,
                key,
                Config=config,
                Callback=bar.update,
                ExtraArgs={"Metadata": {"sha256": sha256}},
            )
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        raise UploadError(f"upload to {target} failed: {exc}") from None
    return target


def upload_plan(plan_path: Path, archive_uri: str) -> str:
    """Put the worker plan file beside the uploaded archive; returns its s3:// URI."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = s3_key_for(archive_uri, "")
    target = f"s3://{bucket}/{plan_name(key)}"
    try:
        body = plan_path.read_bytes()
        boto3.client("s3").put_object(Bucket=bucket, Key=plan_name(key), Body=body, ContentType="application/json")
    except (BotoCoreError, ClientError) as exc:
        raise UploadError(f"upload to {target} failed: {exc}") from None
    return target
