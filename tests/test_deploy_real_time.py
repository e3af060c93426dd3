"""A config without `async_inference` is a real-time endpoint: no AsyncInferenceConfig, no topics,
no async S3 grants; `invoke` and autoscaling refuse it in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdxl_inf2.deploy.config import load_config
from sdxl_inf2.deploy.endpoint import build_release
from sdxl_inf2.deploy.iam import execution_role_policy
from sdxl_inf2.deploy.plan import deploy_calls
from tests.aws import Aws, assert_one_line_error, cli, write_config

Capsys = pytest.CaptureFixture[str]


def real_time(tmp_path: Path) -> Path:
    return write_config(tmp_path, async_inference=None, autoscaling=None)


def test_the_release_has_no_async_inference_config(tmp_path: Path) -> None:
    config = load_config(real_time(tmp_path))
    assert "AsyncInferenceConfig" not in build_release(config, "us-east-1").endpoint_config
    assert [c.operation for c in deploy_calls(config, "us-east-1")] == [
        "create_model",
        "create_endpoint_config",
        "create_endpoint",
        "put_dashboard",
    ]
    sids = {s["Sid"] for s in execution_role_policy(config, "us-east-1")["Statement"]}
    assert not {"ReadAsyncRequests", "WriteAsyncResults", "PublishResultNotifications"} & sids


def test_deploy_creates_a_real_time_endpoint(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    run = cli(capsys, "deploy", str(real_time(tmp_path)))
    assert run.code == 0, run.err
    described = aws.client("sagemaker").describe_endpoint_config(EndpointConfigName=run.out.strip())
    assert "AsyncInferenceConfig" not in described
    assert aws.client("sns").list_topics()["Topics"] == []


def test_invoke_refuses_a_real_time_config(tmp_path: Path, capsys: Capsys) -> None:
    run = cli(capsys, "invoke", str(real_time(tmp_path)), "--prompt", "a cat")
    assert_one_line_error(run, "invoke needs an async endpoint", "no async_inference section")


def test_autoscaling_needs_an_async_endpoint(tmp_path: Path, capsys: Capsys) -> None:
    run = cli(capsys, "plan", str(write_config(tmp_path, async_inference=None)))
    assert_one_line_error(run, "autoscaling: needs an async_inference section")
