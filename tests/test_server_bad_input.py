"""Arbitrary bodies and headers against the running server: always a JSON answer, never a dead process."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerFactory
from tests.server import FAKE, Server, request_log

FIELDS = [
    "prompt",
    "inputs",
    "parameters",
    "seed",
    "num_inference_steps",
    "guidance_scale",
    "height",
    "width",
    "num_images",
    "scheduler",
    "output_format",
    "quality",
    "negative_prompt",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=6)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip)


@pytest.fixture(scope="module")
def server(module_servers: ServerFactory, tiny_model: Path) -> Iterator[Server]:
    started = module_servers(tiny_model, env={"SDXL_BACKEND": FAKE.format("ok"), "SDXL_LOG_PROMPTS": "1"})
    started.wait_ping(200)
    yield started


def check(response: requests.Response) -> None:
    assert response.status_code in (200, 400, 406, 413, 415), response.text
    assert int(response.headers["Content-Length"]) == len(response.content)
    if response.status_code != 200:
        error = response.json()["error"]
        assert error["type"] and "\n" not in error["message"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_json_object(server: Server, body: dict[str, object]) -> None:
    check(server.invoke(body, headers={"Accept": "application/json"}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200), content_type=header_text, accept=header_text)
def test_any_bytes_and_headers(server: Server, raw: bytes, content_type: str, accept: str) -> None:
    check(server.invoke(data=raw, headers={"Content-Type": content_type or "application/json", "Accept": accept}))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(min_value=0, max_value=3 * 2**20), byte=st.binary(min_size=1, max_size=1))
def test_any_size(server: Server, size: int, byte: bytes) -> None:
    check(server.invoke(data=byte * size))


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked"
        b"\r\n\r\nzz\r\n",
        b"GARBAGE\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(200)) + b"\r\n",
    ],
    ids=["header-too-large", "bad-chunk", "bad-request-line", "too-many-headers"],
)
def test_malformed_http_gets_a_json_error(server: Server, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, rest = reply.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.startswith(b"Content-Length:")).split()[1])
    assert head.split()[1].startswith(b"4"), head
    assert b"Content-Type: application/json" in head and b"Connection: close" in head
    assert json.loads(rest[:length])["error"]["type"] == "bad_http_request"


def test_server_and_worker_survived(server: Server) -> None:
    body = server.wait_ping(200)
    assert body["slots"][0]["restarts"] == 0
    assert server.invoke({"prompt": "still fine"}).status_code == 200


def test_prompts_are_logged_when_asked(server: Server) -> None:
    server.invoke({"prompt": "log me please", "seed": 1}, headers={"X-Amzn-SageMaker-Inference-Id": "logged-1"})
    [entry] = request_log(server, "logged-1")
    assert entry["parameters"]["prompt"] == "log me please"


def test_chunked_body_over_the_limit(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(2048):
            yield b"x" * 1024
        yield b'"}'

    response = requests.post(
        server.url("/invocations"), data=chunks(), timeout=30, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert json.loads(response.content)["error"]["type"] == "payload_too_large"
