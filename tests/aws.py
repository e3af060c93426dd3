"""An S3/SageMaker emulator for tests: moto's HTTP server on loopback, reached by boto3 through the
standard AWS_ENDPOINT_URL variable (the product code has no test-only endpoint parameter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A clean emulator and the environment that points boto3 (here and in child processes) at it."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    env = {**AWS_ENV, "AWS_ENDPOINT_URL": moto_endpoint}
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
