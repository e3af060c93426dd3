"""A real moto server on loopback for the deploy tests, and helpers to run the CLI against it.

boto3 reaches the server only through its standard configuration (AWS_ENDPOINT_URL, dummy
credentials, a region), exactly as the product code runs against AWS. Two changes to moto, made by
local_endpoint/moto_stack.py (`sdxl-inf2 local-endpoint` needs them too): its SageMaker list of
instance types predates Inferentia2, so the server accepts `ml.inf2.*` too; and its conditional
PutObject is decided atomically, as S3 decides it (the gateway's pending claims rely on that).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import yaml

from sdxl_inf2.cli import main
from sdxl_inf2.local_endpoint.moto_stack import accept_neuron_instance_types, atomic_conditional_puts

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "example.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account (the example config's role is in it)
BUCKETS = ("example-sdxl-models", "example-sdxl-data")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with accept_neuron_instance_types(), atomic_conditional_puts():  # the product's own patches
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def point_boto3_at(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> None:
    """boto3's standard configuration only: no profile or config file of the machine leaks in."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # moto answers unimplemented calls with 500s: fail at once


@dataclass
class Aws:
    """The server's URL and plain boto3 clients for the tests' own checks."""

    url: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def async_invocations(self, endpoint: str = "sdxl-inf2-prod") -> int:
        """InvokeEndpointAsync calls moto has answered for `endpoint` (one per distinct input location,
        which every queued request has: `<input path>/<inference id>.json`). Read from moto itself."""
        from moto.sagemakerruntime.models import sagemakerruntime_backends

        return len(sagemakerruntime_backends[ACCOUNT][REGION].async_results.get(endpoint, {}))

    def queue_async_results(self, *results: dict[str, Any]) -> None:
        """What moto's InvokeEndpointAsync writes next (moto runs no container)."""
        body: dict[str, Any] = {"results": list(results), "region": REGION}
        url = f"{self.url}/moto-api/static/sagemaker/async-endpoint-results"
        requests.post(url, json=body, timeout=10).raise_for_status()


# The example ships with its gateway on, and so with the shared cache tier the gateway needs. Most tests
# are about the endpoint alone: write_config starts from the example without the two (a test asks for
# them back with its own `gateway` section and environment); test_local_endpoint_example.py runs the
# example as shipped.
ENDPOINT_ONLY: dict[str, Any] = {"gateway.enabled": False, "environment.SDXL_CACHE_S3_URI": None}


def write_config(tmp_path: Path, **changes: Any) -> Path:
    """The checked-in example with fast waits, ENDPOINT_ONLY, and `changes` merged in (dotted keys reach
    sections; None removes a key)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["wait"] = {"poll_s": 0.05, "timeout_s": 10}
    data["invoke"].update(poll_s=0.05, timeout_s=10)
    for dotted, value in {**ENDPOINT_ONLY, **changes}.items():
        *sections, key = dotted.split(".")
        target = data
        for section in sections:
            target = target.setdefault(section, {})
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("sdxl-inf2: error:")]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """Runs `sdxl-inf2 ARGS` in this process (so the test's environment applies)."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def assert_one_line_error(run: Run, *words: str) -> str:
    assert run.code == 2, run.err
    assert len(run.error_lines) == 1, run.err
    assert "Traceback" not in run.err
    for word in words:
        assert word in run.error_lines[0], run.error_lines[0]
    return run.error_lines[0]


class ConnectionCounter:
    """A listening socket that counts every connection attempt made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def connections(self) -> int:
        count = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                conn, _ = self.sock.accept()
                conn.close()
                count += 1
        return count

    def close(self) -> None:
        self.sock.close()
