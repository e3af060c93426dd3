"""Bodies the JSON parser cannot take (issue 14): deep nesting, huge numbers, long strings, odd
encodings and byte order marks, lone surrogates. Each is a 4xx (400 `validation_error` naming the
body or the field), never a 5xx; /ping stays 200 throughout; the front's CPU and memory stay bounded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerFactory
from tests.server import FAKE, Server

LIMIT = 1024 * 1024  # SDXL_MAX_BODY_BYTES's default
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "latin-1"]


class PingProbe:
    """/ping every 50 ms on its own connection while the module runs; records every status."""

    def __init__(self, server: Server) -> None:
        self.server, self.stop = server, threading.Event()
        self.statuses: list[int | str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self.stop.wait(0.05):
                try:
                    self.statuses.append(session.get(self.server.url("/ping"), timeout=2).status_code)
                except requests.RequestException as exc:
                    self.statuses.append(repr(exc))


@pytest.fixture(scope="module")
def server(module_servers: ServerFactory, tiny_model: Path) -> Iterator[Server]:
    started = module_servers(tiny_model, env={"SDXL_BACKEND": FAKE.format("ok"), "SDXL_LOG_PROMPTS": "1"})
    started.wait_ping(200)
    yield started


@pytest.fixture(scope="module")
def front(server: Server) -> psutil.Process:
    (process,) = psutil.Process(server.proc.pid).children()  # gunicorn's one worker: the front
    return process


@pytest.fixture(scope="module")
def probe(server: Server) -> Iterator[PingProbe]:
    started = PingProbe(server)
    started.thread.start()
    yield started
    started.stop.set()
    started.thread.join(5)


@pytest.fixture(scope="module")
def baseline(front: psutil.Process, probe: PingProbe) -> tuple[float, int]:
    """The front's CPU seconds and RSS before the first pathological body."""
    cpu = front.cpu_times()
    return cpu.user + cpu.system, front.memory_info().rss


def send(server: Server, data: bytes) -> requests.Response:
    response = server.invoke(data=data, headers={"Accept": "application/json"}, timeout=60)
    assert response.status_code < 500, response.text[:500]
    return response


def assert_rejected(response: requests.Response, field: str | None = "(body)") -> str:
    assert response.status_code == 400, response.text[:500]
    error = response.json()["error"]
    assert error["type"] == "validation_error" and "\n" not in error["message"]
    if field is not None:
        assert error["field"] == field, error
    return str(error["message"])


def nested(depth: int, kind: str) -> bytes:
    opening, closing = {"array": ("[", "]"), "object": ('{"a":', "}"), "mixed": ('[{"a":', "}]")}[kind]
    return (opening * depth + "1" + closing * depth).encode()


@EXAMPLES
@given(
    depth=st.integers(1000, 120_000),  # up to ~1 MB (the mixed form costs 8 bytes a level)
    kind=st.sampled_from(["array", "object", "mixed"]),
    where=st.sampled_from(["top", "prompt", "parameters"]),
)
def test_nesting_deeper_than_the_parser_takes(
    server: Server, baseline: tuple[float, int], depth: int, kind: str, where: str
) -> None:
    inner = nested(depth, kind)
    body = {
        "top": inner,
        "prompt": b'{"prompt": ' + inner + b"}",
        "parameters": b'{"inputs": "x", "parameters": ' + inner + b"}",
    }[where]
    assert "nested too deeply" in assert_rejected(send(server, body))


@EXAMPLES
@given(
    digits=st.integers(4301, 200_000),
    field=st.sampled_from(["seed", "num_inference_steps", "guidance_scale", "height", "quality"]),
    sign=st.sampled_from(["", "-"]),
)
def test_integers_with_more_digits_than_python_converts(
    server: Server, baseline: tuple[float, int], digits: int, field: str, sign: str
) -> None:
    body = f'{{"prompt": "x", "{field}": {sign}{"7" * digits}}}'.encode()
    assert_rejected(send(server, body))


@EXAMPLES
@given(exponent=st.integers(309, 10**9), field=st.sampled_from(["guidance_scale", "seed", "width"]))
def test_floats_beyond_the_double_range(server: Server, baseline: tuple[float, int], exponent: int, field: str) -> None:
    assert_rejected(send(server, f'{{"prompt": "x", "{field}": 1e{exponent}}}'.encode()), field=field)


@EXAMPLES
@given(size=st.integers(4001, LIMIT // 2 - 100), field=st.sampled_from(["prompt", "negative_prompt", "key"]))
def test_long_strings(server: Server, baseline: tuple[float, int], size: int, field: str) -> None:
    text = "ä" * size  # characters over the 4000 limit, two bytes each in UTF-8
    body = {"prompt": "x", text: 1} if field == "key" else {"prompt": "x", field: text}
    message = assert_rejected(send(server, json.dumps(body, ensure_ascii=False).encode()), field=None)
    assert len(message) < 300  # the offending key is not echoed in full


@EXAMPLES
@given(
    encoding=st.sampled_from(ENCODINGS),
    prompt=st.text(st.characters(codec="latin-1", exclude_categories=["Cs"]), min_size=1, max_size=30),
    damage=st.sampled_from(["none", "truncate", "flip"]),
)
def test_odd_encodings_and_byte_order_marks(
    server: Server, baseline: tuple[float, int], encoding: str, prompt: str, damage: str
) -> None:
    data = json.dumps({"prompt": prompt, "seed": 1}, ensure_ascii=False).encode(encoding)
    if damage == "truncate":
        data = data[: len(data) // 2 + 1]
    elif damage == "flip":
        data = data[:2] + bytes([data[2] ^ 0xFF]) + data[3:]
    response = send(server, data)
    if response.status_code != 200:
        assert_rejected(response, field=None)


@EXAMPLES
@given(
    surrogate=st.integers(0xD800, 0xDFFF),
    field=st.sampled_from(["prompt", "prompt_2", "negative_prompt", "negative_prompt_2"]),
)
def test_lone_surrogate_escapes(server: Server, baseline: tuple[float, int], surrogate: int, field: str) -> None:
    body = f'{{"prompt": "x", "{field}": "cat \\u{surrogate:04x}"}}'.encode()
    assert_rejected(send(server, body), field=field)
    hf = f'{{"inputs": "dog \\u{surrogate:04x}"}}'.encode()
    assert_rejected(send(server, hf), field="inputs")


def test_ping_stayed_up_and_the_front_stayed_bounded(
    server: Server, front: psutil.Process, probe: PingProbe, baseline: tuple[float, int]
) -> None:
    time.sleep(0.2)
    assert probe.statuses and set(probe.statuses) == {200}, probe.statuses[-5:]
    cpu_before, rss_before = baseline
    cpu = front.cpu_times()
    requests_sent = 6 * 40 + 40  # the examples above (the surrogate test sends two per example)
    assert (cpu.user + cpu.system - cpu_before) / requests_sent < 0.1  # seconds of front CPU per body
    assert front.memory_info().rss - rss_before < 64 * 2**20
    assert server.invoke({"prompt": "still fine", "seed": 1}).status_code == 200
