"""`sdxl-inf2 local-endpoint` starts that must fail, each in one line: a model folder that does not
serve, a port in use, an AWS_ENDPOINT_URL that is unreachable or refuses the instance type, a role
outside the local account."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from tests.aws import write_config
from tests.server import BIN, ROOT, free_port
from tests.test_local_endpoint import STACK, wait_until

CACHED = {"SDXL_CACHE_S3_URI": "s3://example-sdxl-data/sdxl-inf2-prod/cache/"}


def run_local_endpoint(config: Path, model_dir: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update({"PYTHONPATH": str(ROOT), **(env or {})})
    command = [str(BIN / "sdxl-inf2"), "local-endpoint", str(config), "--model-dir", str(model_dir), *args]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, check=False)


def one_line_error(result: Any, *words: str) -> None:
    errors = [line for line in result.stderr.splitlines() if line.startswith("sdxl-inf2: error:")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in errors[0], errors[0]


def test_a_model_dir_that_does_not_serve_is_one_line(tiny_model: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_local_endpoint(write_config(tmp_path, **STACK), tmp_path / "empty")
    one_line_error(result, "instance 0 did not start: exited with status 2: serve: error:", str(tmp_path / "empty"))


def test_a_port_in_use_is_one_line(tiny_model: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        result = run_local_endpoint(write_config(tmp_path, **STACK), tiny_model, "--port", port)
    one_line_error(result, f"port {port} is not free", "--port")


def test_an_unreachable_aws_endpoint_url_is_one_line(tiny_model: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_local_endpoint(write_config(tmp_path, **STACK), tiny_model, env={"AWS_ENDPOINT_URL": url})
    one_line_error(result, f"AWS_ENDPOINT_URL={url} is not reachable", "unset AWS_ENDPOINT_URL")


def test_an_external_moto_that_refuses_inf2_is_one_line(tiny_model: Path, tmp_path: Path) -> None:
    port = free_port()
    moto = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _listening(port), timeout=30)
        url = f"http://127.0.0.1:{port}"
        result = run_local_endpoint(write_config(tmp_path, **STACK), tiny_model, env={"AWS_ENDPOINT_URL": url})
        one_line_error(
            result, f"the AWS endpoint at {url} refuses instance type ml.inf2.48xlarge", "unset AWS_ENDPOINT_URL"
        )
    finally:
        moto.terminate()
        moto.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_role_outside_the_local_account_is_one_line(tiny_model: Path, tmp_path: Path) -> None:
    elsewhere = "arn:aws:iam::999999999999:role/sdxl-inf2-gateway"
    config = write_config(tmp_path, **{**STACK, "gateway": {"role_arn": elsewhere}, "environment": CACHED})
    result = run_local_endpoint(config, tiny_model)
    one_line_error(result, f"gateway.role_arn: {elsewhere} is in account 999999999999", "account 123456789012")
