from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.aws import BUCKETS, Aws, moto_server, point_boto3_at
from tests.image.buildah import TIMINGS
from tests.server import Server

ServerFactory = Callable[..., Server]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight SDXL, built once per test run (sizes 64x64 and 96x64)."""
    from sdxl_inf2.compile.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", shapes=((64, 64), (64, 96)))


@pytest.fixture(scope="session")
def tiny_variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-variant artifact: one tiny SDXL at 64x64 (the default) and another at 96x64."""
    from sdxl_inf2.compile.tiny_model import build_tiny_variants

    return build_tiny_variants(tmp_path_factory.mktemp("models") / "variants", shapes=((64, 64), (64, 96)))


@pytest.fixture(scope="module")
def module_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    yield from _servers(tmp_path_factory.mktemp("logs"))


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start real servers (`servers(model_dir, env={...})`); every one is killed after the test."""
    yield from _servers(tmp_path)


def _servers(log_dir: Path) -> Iterator[ServerFactory]:
    started: list[Server] = []

    def start(model_dir: Path | None, env: dict[str, str] | None = None, **kwargs: object) -> Server:
        server = Server(model_dir, log_dir, env, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture(scope="session")
def neuron_parser() -> argparse.ArgumentParser:
    """optimum-neuron 0.4.5's own `optimum-cli export neuron` argument parser."""
    saved = dict(os.environ)  # importing optimum.neuron sets NEURON_PLATFORM_TARGET_OVERRIDE
    try:
        from optimum.commands.export.neuronx import parse_args_neuronx
    finally:
        os.environ.clear()
        os.environ.update(saved)
    parser = argparse.ArgumentParser()
    parse_args_neuronx(parser)
    return parser


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server for the whole run (it starts in milliseconds; state is reset per test)."""
    with moto_server() as url:
        yield url


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Aws:
    """A clean moto account with the example's buckets; boto3 pointed at it by environment only."""
    point_boto3_at(monkeypatch, moto_url, tmp_path)
    account = Aws(moto_url)
    account.reset()
    for bucket in BUCKETS:
        account.client("s3").create_bucket(Bucket=bucket)
    return account


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Measured times of the image test (printed, never asserted)."""
    for line in TIMINGS:
        terminalreporter.write_line(f"[image-test] {line}")
