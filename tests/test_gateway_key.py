"""The gateway keys a request exactly as the container does: a real container with an S3 cache tier on
moto publishes its model card at start and writes each result under its key; the gateway, reading
only that card, computes the same object key for the same request in every shape, and then answers
it from S3 with the container's bytes and no SageMaker call. The `noisy` fake renders random pixels,
so equal bytes can only come from the cache."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import requests

from container.cache.card import CARD_NAME
from container.manifest import Shape
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


def cases(shapes: tuple[Shape, ...], defaults: dict[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    """(body, Accept): runs of requests that must share a key, then ones that must not."""
    first, other = shapes[0], shapes[-1]
    another = next(name for name in ("ddim", "heun") if name != defaults["scheduler"])
    explicit = {**defaults, "height": first.height, "width": first.width, "num_images": 1, "output_format": "png"}
    return [
        ({"prompt": "a cat", "seed": 1}, None),
        ({"prompt": "a cat", "seed": 1, **explicit}, "image/png"),  # every default spelled out
        ({"inputs": "a cat", "parameters": {"seed": 1}}, None),  # the Hugging Face shape
        ({"inputs": "a cat", "parameters": {"seed": 1, "num_images_per_prompt": 1, **defaults}}, None),
        ({"prompt": "a cat", "seed": 1}, "application/json"),  # the answer's kind is not in the key
        ({"prompt": "a cat", "seed": 1, "output_format": "jpeg"}, None),
        ({"prompt": "a cat", "seed": 1, "height": other.height, "width": other.width}, None),
        ({"prompt": "a cat", "seed": 1, "scheduler": another}, None),
        ({"inputs": "a cat", "parameters": {"seed": 2, "guidance_scale": 3.5, "negative_prompt": "dogs"}}, None),
    ]


def test_the_gateways_key_is_the_containers(aws: Aws, servers: ServerFactory, tiny_model: Path) -> None:
    aws.client("s3").create_bucket(Bucket=CACHE_BUCKET)
    server: Server = servers(tiny_model, env={"SDXL_BACKEND": FAKE.format("noisy"), "SDXL_CACHE_S3_URI": CACHE})
    ping = server.wait_ping(200)
    gateway = new_gateway()
    card = gateway.cards.current()  # the card this container published at start
    assert [{"height": s.height, "width": s.width} for s in card.shapes] == ping["shapes"]
    assert (card.max_images, len(card.shapes)) == (ping["max_images"], 2)
    defaults = card.defaults.model_dump()
    rendered: dict[str, tuple[bytes, dict[str, Any], str | None]] = {}
    for body, accept in cases(card.shapes, defaults):
        _, key = gateway.read(json.dumps(body).encode(), accept)
        assert key is not None
        response = server.invoke(body, headers={"Accept": accept} if accept else None)
        assert response.status_code == 200, response.text
        if key in rendered:  # the container found the entry under the gateway's key
            assert (response.headers["X-Cache"], images_of(response)) == ("hit", [rendered[key][0]]), body
        else:  # the container wrote its entry under the gateway's key
            assert response.headers["X-Cache"] == "miss", body
            assert wait_for_entry(aws, key) == {*rendered, key}, body
            rendered[key] = (images_of(response)[0], body, accept)
    assert len(rendered) == 5
    for image, body, accept in rendered.values():  # the gateway's hits: the container's bytes, no SageMaker
        outcome = gateway.submit(json.dumps(body).encode(), accept)
        assert (outcome.cache, outcome.images) == ("hit", [image])
    assert aws.async_invocations() == 0
