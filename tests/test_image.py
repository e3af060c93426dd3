"""The real Dockerfile, built with buildah on a local stand-in for the Neuron base, then run.

`docker run IMAGE serve` is reproduced from the built image's own config: its ENTRYPOINT plus the
word `serve`, the tiny model at /opt/ml/model, SDXL_BACKEND=torch. /ping and /invocations are
checked over HTTP from outside the container, then SIGTERM must end the server with status 0.

Skipped (with the reason) where buildah or debootstrap cannot run; SDXL_IMAGE_TEST=require (CI,
`make image-test`) turns that into a failure. Measured times are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.image.buildah import (
    TIMINGS,
    Buildah,
    ToolsMissing,
    build_image,
    check_tools,
    ensure_standin_base,
    store_dir,
)
from tests.image.serving import ContainerServer, parent_pid, proc_argv
from tests.server import free_port

pytestmark = [pytest.mark.image, pytest.mark.timeout(3600)]
TAG = "localhost/sdxl-inf2:image-test"
PNG = b"\x89PNG\r\n\x1a\n"
SHELLS = {"sh", "bash", "dash"}


@dataclass
class Built:
    buildah: Buildah
    base: str
    container: str
    config: dict[str, Any]

    def python(self, code: str) -> str:
        result = self.buildah.exec(self.container, "python", "-c", code)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    buildah = Buildah(store_dir())
    try:
        check_tools()
        buildah.probe()
    except ToolsMissing as exc:
        if os.environ.get("SDXL_IMAGE_TEST") == "require":
            pytest.fail(f"image test required (SDXL_IMAGE_TEST=require) but {exc}")
        pytest.skip(f"image test skipped: {exc}")
    started = time.monotonic()
    base, fresh = ensure_standin_base(buildah)
    TIMINGS.append(f"stand-in base {'built' if fresh else 'cached'}: {time.monotonic() - started:.1f} s ({base})")
    started = time.monotonic()
    build_image(buildah, base, TAG)
    TIMINGS.append(f"image built (buildah, vfs): {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    container = buildah.container(TAG)
    TIMINGS.append(f"container from the image: {time.monotonic() - started:.1f} s")
    try:
        yield Built(buildah, base, container, buildah.config(TAG))
    finally:
        started = time.monotonic()
        buildah.run("rm", container, check=False)
        buildah.run("rmi", "--force", TAG, check=False)  # the cached stand-in base stays
        TIMINGS.append(f"container and image removed: {time.monotonic() - started:.1f} s")


def test_config_follows_the_sagemaker_contract(built: Built) -> None:
    config = built.config
    assert config["Entrypoint"] == ["serve"]  # exec form, replacing the base's dockerd-entrypoint.py
    assert not config.get("Cmd"), "the base's CMD would reach serve as arguments"
    assert {port.split("/")[0] for port in config["ExposedPorts"]} >= {"8080"}
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert config.get("User") in (None, "", "root", "0")
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONUNBUFFERED"] == "1" and env["HF_HUB_OFFLINE"] == "1"
    assert env["NEURON_RT_LOG_LOCATION"] == "console" and "NEURON_RT_LOG_LEVEL" in env
    assert "NEURON_RT_VISIBLE_CORES" not in env  # the server pins each worker itself
    assert env["PATH"].startswith("/opt/conda/bin:"), "the base's Python must stay first on PATH"
    health = config["Healthcheck"]
    assert any("/ping" in part for part in health["Test"])
    assert health["StartPeriod"] >= 600 * 10**9  # loading SDXL onto every chip takes minutes


def test_base_torch_and_neuron_packages_are_kept(built: Built) -> None:
    pins = built.python("print(open('base-constraints.txt').read())").splitlines()
    names = {line.split("==")[0] for line in pins}
    assert {"torch", "numpy", "neuronx-cc"} <= names, pins
    base_torch = next(line.split("==")[1] for line in pins if line.startswith("torch=="))
    assert base_torch == "2.13.0+cpu"  # what the stand-in base was given
    assert built.python("import torch; print(torch.__version__)") == base_torch
    check = built.buildah.exec(built.container, "python", "pins.py", "check", "base-constraints.txt")
    assert check.returncode == 0, check.stderr
    # A dependency asking for another torch makes pip fail loudly instead of swapping it.
    swap = built.buildah.exec(
        built.container, "python", "-m", "pip", "install", "--dry-run", "-c", "base-constraints.txt", "torch==2.12.0"
    )
    assert swap.returncode != 0
    assert "torch==2.12.0" in swap.stdout + swap.stderr and "conflict" in (swap.stdout + swap.stderr).lower()


def test_docker_run_image_serve(built: Built, tiny_model: Path, tmp_path: Path) -> None:
    argv = [*built.config["Entrypoint"], "serve"]  # `docker run IMAGE serve`: serve replaces CMD
    port = free_port()
    server = ContainerServer(built.buildah, built.container, argv, tiny_model, port, tmp_path / "serve.log")
    try:
        started = time.monotonic()
        server.wait_ready()
        TIMINGS.append(f"serve in the image: /ping 200 after {time.monotonic() - started:.1f} s")
        check_http(server, built)
        check_healthcheck(built, port)
        pid = server.server_pid()
        assert Path(proc_argv(parent_pid(pid))[0]).name not in SHELLS, "ENTRYPOINT must exec serve, not a shell"
        started = time.monotonic()
        assert server.terminate() == 0, server.log_text()
        TIMINGS.append(f"SIGTERM to serve: exit 0 after {time.monotonic() - started:.1f} s")
    finally:
        server.close()


def check_http(server: ContainerServer, built: Built) -> None:
    ping = requests.get(server.base + "/ping", timeout=5)
    assert ping.status_code == 200 and ping.json()["backend"] == "torch"
    body = {"prompt": "a photo of a cat", "seed": 42, "num_inference_steps": 2}
    started = time.monotonic()
    response = requests.post(
        server.base + "/invocations", data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=120
    )
    TIMINGS.append(f"first /invocations in the image: {time.monotonic() - started:.2f} s")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png" and response.content.startswith(PNG)
    assert response.headers["X-Seed"] == "42"


def check_healthcheck(built: Built, port: int) -> None:
    """The image's HEALTHCHECK command, run inside the container as Docker would, passes."""
    test = built.config["Healthcheck"]["Test"]
    argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
    result = built.buildah.exec(built.container, *argv, env={"SAGEMAKER_BIND_TO_PORT": str(port)})
    assert result.returncode == 0, result.stdout + result.stderr
