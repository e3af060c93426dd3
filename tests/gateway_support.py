"""The gateway against the moto server: its settings, clients and model card for the tests.

The card is the container's own (core/cache/card.py `model_card`) for the tiny model, written
where a container started with SDXL_CACHE_S3_URI=CACHE would write it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from sdxl_inf2.container.config import load_settings
from sdxl_inf2.core.cache.card import CARD_NAME, ModelCard, model_card
from sdxl_inf2.core.cache.key import model_fingerprint
from sdxl_inf2.core.modeldir import inspect_model_dir
from sdxl_inf2.gateway.settings import GatewaySettings
from sdxl_inf2.gateway.submit import Gateway, GatewayClients
from tests.aws import REGION, Aws

CACHE_BUCKET, CACHE_PREFIX = "sdxl-cache", "results/"
CACHE = f"s3://{CACHE_BUCKET}/{CACHE_PREFIX}"
INPUT_PATH = "s3://example-sdxl-data/sdxl-inf2-prod/requests/"
ENDPOINT = "sdxl-inf2-prod"


def gateway_settings(**changes: Any) -> GatewaySettings:
    return GatewaySettings(endpoint_name=ENDPOINT, cache_s3_uri=CACHE, input_path=INPUT_PATH, **changes)


def gateway_clients(cloudwatch: bool = True) -> GatewayClients:
    """Fresh boto3 clients (each gateway its own, as separate Lambda instances would have)."""
    make = boto3.session.Session(region_name=REGION).client
    return GatewayClients(make("s3"), make("sagemaker-runtime"), make("cloudwatch") if cloudwatch else None)


def new_gateway(**changes: Any) -> Gateway:
    return Gateway(gateway_settings(**changes), gateway_clients())


def publish_card(aws: Aws, model_dir: Path, model: dict[str, Any] | None = None, **fields: Any) -> ModelCard:
    """The card the container would publish for `model_dir` (torch on the CPU), `fields` of the card and
    `model` of its model description changed."""
    s3 = aws.client("s3")
    if CACHE_BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=CACHE_BUCKET)
    info = inspect_model_dir(model_dir)
    assert info.manifest is not None
    fingerprint = model_fingerprint(info.manifest, "torch", "cpu", load_settings({}))
    card = model_card(info, fingerprint, 1024 * 1024)
    card = card.model_copy(update={"model": card.model.model_copy(update=model or {}), **fields})
    s3.put_object(Bucket=CACHE_BUCKET, Key=CACHE_PREFIX + CARD_NAME, Body=card.to_bytes())
    return card


def s3_text(aws: Aws, location: str) -> bytes:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    body: bytes = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body
