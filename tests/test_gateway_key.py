"""The gateway keys a request exactly as the container does: a real container with an S3 cache tier on
moto publishes its model card at start and writes each result under its key; the gateway, reading
only that card, computes the same object key for the same request in every shape (a single model,
and a variants root whose variants are named or routed by size), and then answers
it from S3 with the container's bytes and no SageMaker call. The `noisy` fake renders random pixels,
so equal bytes can only come from the cache."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from sdxl_inf2.core.cache.card import CARD_NAME, CardModel
from tests.aws import Aws
from tests.conftest import ServerFactory
from tests.gateway_support import CACHE, CACHE_BUCKET, CACHE_PREFIX, new_gateway
from tests.server import FAKE, Server

JSON = {"Accept": "application/json"}


def entry_keys(aws: Aws) -> set[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=CACHE_BUCKET, Prefix=CACHE_PREFIX).get("Contents", [])
    names = {item["Key"].removeprefix(CACHE_PREFIX) for item in listed}
    return {name for name in names if name != CARD_NAME and "/" not in name}


def wait_for_entry(aws: Aws, key: str) -> set[str]:
    deadline = time.monotonic() + 10
    while key not in (found := entry_keys(aws)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the container writes the S3 tier just after its response
    return found


def images_of(response: requests.Response) -> list[bytes]:
    if response.headers["Content-Type"].startswith("application/json"):
        return [base64.b64decode(image) for image in response.json()["images"]]
    return [response.content]


Case = tuple[str, dict[str, Any], str | None]  # (which requests must share a key, body, Accept)


def spelled_out(model: CardModel) -> dict[str, Any]:
    """Every default of `model`, as a client could send it."""
    shape = model.shapes[0]
    return {**model.defaults.model_dump(), "height": shape.height, "width": shape.width, "num_images": 1}


def single_model_cases(model: CardModel) -> list[Case]:
    other = model.shapes[-1]
    another = next(name for name in ("ddim", "heun") if name != model.defaults.scheduler)
    return [
        ("cat", {"prompt": "a cat", "seed": 1}, None),
        ("cat", {"prompt": "a cat", "seed": 1, **spelled_out(model), "output_format": "png"}, "image/png"),
        ("cat", {"inputs": "a cat", "parameters": {"seed": 1}}, None),  # the Hugging Face shape
        ("cat", {"inputs": "a cat", "parameters": {"seed": 1, **spelled_out(model)}}, None),
        ("cat", {"prompt": "a cat", "seed": 1}, "application/json"),  # the answer's kind is not in the key
        ("jpeg", {"prompt": "a cat", "seed": 1, "output_format": "jpeg"}, None),
        ("size", {"prompt": "a cat", "seed": 1, "height": other.height, "width": other.width}, None),
        ("scheduler", {"prompt": "a cat", "seed": 1, "scheduler": another}, None),
        (
            "dogs",
            {"inputs": "a cat", "parameters": {"seed": 2, "guidance_scale": 3.5, "negative_prompt": "dogs"}},
            None,
        ),
    ]


def variant_cases(model: CardModel) -> list[Case]:
    first, other = model.variants  # the default variant first
    size = other.model.shapes[0]
    return [
        ("default", {"prompt": "a cat", "seed": 1}, None),
        ("default", {"prompt": "a cat", "seed": 1, "variant": first.name}, None),
        ("default", {"inputs": "a cat", "parameters": {"seed": 1, **spelled_out(first.model)}}, None),
        ("other", {"prompt": "a cat", "seed": 1, "variant": other.name}, None),
        ("other", {"prompt": "a cat", "seed": 1, "height": size.height, "width": size.width}, None),  # routed by size
        (
            "other",
            {"inputs": "a cat", "parameters": {"seed": 1, "variant": other.name, **spelled_out(other.model)}},
            None,
        ),
        ("jpeg", {"prompt": "a cat", "seed": 1, "output_format": "jpeg"}, "image/jpeg"),
    ]


@pytest.mark.parametrize("artifact", ["tiny_model", "tiny_variants"])
def test_the_gateways_key_is_the_containers(
    aws: Aws, servers: ServerFactory, request: pytest.FixtureRequest, artifact: str
) -> None:
    aws.client("s3").create_bucket(Bucket=CACHE_BUCKET)
    model_dir: Path = request.getfixturevalue(artifact)
    server: Server = servers(model_dir, env={"SDXL_BACKEND": FAKE.format("noisy"), "SDXL_CACHE_S3_URI": CACHE})
    ping = server.wait_ping(200)
    gateway = new_gateway()
    model = gateway.cards.current().model  # the card this container published at start
    assert [{"height": s.height, "width": s.width} for s in model.shapes] == ping["shapes"]
    assert sorted(v.name for v in model.variants) == (sorted(ping["variants"]) if model.variants else [])
    keys: dict[str, str] = {}  # group -> key
    rendered: dict[str, tuple[bytes, dict[str, Any], str | None]] = {}  # key -> the container's image
    for group, body, accept in variant_cases(model) if model.variants else single_model_cases(model):
        _, key = gateway.read(json.dumps(body).encode(), accept)
        assert key is not None and keys.setdefault(group, key) == key, body  # same group, same key
        response = server.invoke(body, headers={"Accept": accept} if accept else None)
        assert response.status_code == 200, response.text
        if key in rendered:  # the container found the entry under the gateway's key
            assert (response.headers["X-Cache"], images_of(response)) == ("hit", [rendered[key][0]]), body
        else:  # the container wrote its entry under the gateway's key
            assert response.headers["X-Cache"] == "miss", body
            assert wait_for_entry(aws, key) == {*rendered, key}, body
            rendered[key] = (images_of(response)[0], body, accept)
    assert len(rendered) == len(keys)  # other groups, other keys
    for image, body, accept in rendered.values():  # the gateway's hits: the container's bytes, no SageMaker
        outcome = gateway.submit(json.dumps(body).encode(), accept)
        assert (outcome.cache, outcome.images) == ("hit", [image])
    assert aws.async_invocations() == 0
