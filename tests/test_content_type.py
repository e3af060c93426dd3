"""The Content-Type rule, one table for both readers of a request: the real container (gunicorn, its
workers, the tiny model) and the gateway (its Lambda handler against moto). A JSON body declared JSON,
or not declared at all (no Content-Type, as the SageMaker Python SDK's AsyncPredictor sends it; or
application/octet-stream), is served; an undeclared body that is not JSON is a 415 naming the body;
declared JSON that does not parse is a 400; any other declared type is a 415 before the body is read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sdxl_inf2.gateway.lambda_handler import handler, shared_gateway
from tests.aws import Aws
from tests.conftest import ServerFactory
from tests.gateway_support import gateway_settings, publish_card
from tests.server import Server

CAT = json.dumps({"prompt": "a photo of a cat", "seed": 7}).encode()
TRUNCATED = CAT[:-4]

Verdict = tuple[int, str | None, str | None]  # status (200: served), error type, error field

# (Content-Type, None for none; body) -> its verdict
CASES: list[tuple[str | None, bytes, Verdict]] = [
    ("application/json", CAT, (200, None, None)),
    ("application/json; charset=utf-8", CAT, (200, None, None)),
    (None, CAT, (200, None, None)),
    ("application/octet-stream", CAT, (200, None, None)),
    ("Application/Octet-Stream; charset=binary", CAT, (200, None, None)),
    ("application/json", TRUNCATED, (400, "validation_error", "(body)")),
    (None, TRUNCATED, (415, "unsupported_media_type", "(body)")),
    ("application/octet-stream", b"prompt=a+cat", (415, "unsupported_media_type", "(body)")),
    ("text/plain", CAT, (415, "unsupported_media_type", None)),
    ("application/x-www-form-urlencoded", CAT, (415, "unsupported_media_type", None)),
]
IDS = [
    "json",
    "json-charset",
    "none",
    "octet-stream",
    "octet-stream-params",
    "json-truncated",
    "none-truncated",
    "octet-stream-form",
    "text-plain",
    "form",
]


@pytest.fixture(scope="module")
def server(module_servers: ServerFactory, tiny_model: Path) -> Iterator[Server]:
    started = module_servers(tiny_model)
    started.wait_ping(200)
    yield started


@pytest.fixture
def lambda_gateway(aws: Aws, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    publish_card(aws, tiny_model)
    for name, value in gateway_settings().environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "sdxl-inf2-prod-gateway")
    shared_gateway.cache_clear()
    yield aws
    shared_gateway.cache_clear()


def verdict(status: int, body: dict[str, Any]) -> Verdict:
    if status < 300:  # the container's image (200), the gateway's queued miss (202)
        return 200, None, None
    error = body["error"]
    assert "\n" not in error["message"]
    return status, error["type"], error.get("field")


@pytest.mark.parametrize(("content_type", "body", "expected"), CASES, ids=IDS)
def test_the_container(server: Server, content_type: str | None, body: bytes, expected: Verdict) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(server.url("/invocations"), data=body, headers=headers, timeout=60)
    assert verdict(response.status_code, {} if response.ok else response.json()) == expected, response.text
    if response.ok:
        assert response.content.startswith(b"\x89PNG")
    if expected[0] == 415:
        assert "application/json" in response.json()["error"]["message"]


@pytest.mark.parametrize(("content_type", "body", "expected"), CASES, ids=IDS)
def test_the_gateway(lambda_gateway: Aws, content_type: str | None, body: bytes, expected: Verdict) -> None:
    headers = {"content-type": content_type} if content_type else {}
    event = {"rawPath": "/invocations", "requestContext": {"http": {"method": "POST"}}, "headers": headers}
    answer = handler({**event, "body": body.decode(), "isBase64Encoded": False}, None)
    assert verdict(answer["statusCode"], json.loads(answer["body"])) == expected, answer["body"]
    assert lambda_gateway.async_invocations() == (1 if expected[0] == 200 else 0)


def test_an_undeclared_body_is_the_same_request(server: Server) -> None:
    """Not only accepted: read exactly as the declared one (same seed, same bytes)."""
    declared = requests.post(server.url("/invocations"), data=CAT, headers={"Content-Type": "application/json"})
    undeclared = requests.post(server.url("/invocations"), data=CAT, timeout=60)
    assert undeclared.status_code == declared.status_code == 200
    assert undeclared.content == declared.content


def test_the_415_for_an_undeclared_body_says_why(server: Server) -> None:
    error = requests.post(server.url("/invocations"), data=TRUNCATED, timeout=60).json()["error"]
    assert error["message"].startswith("the body came with no Content-Type and is not JSON (Expecting")
    assert error["message"].endswith("send a JSON body, with Content-Type: application/json")
