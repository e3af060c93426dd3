"""The gateway in `deploy`, `teardown`, `plan` and `iam-policy --gateway`, against moto (whose Lambda
creates, updates and deletes functions and URLs; invoking one would need Docker, see
test_gateway_lambda.py and test_gateway_package.py for the handler and the zip)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sdxl_inf2.deploy.config import load_config
from sdxl_inf2.deploy.gateway import gateway_settings
from sdxl_inf2.gateway.package import HANDLER, build_zip
from tests.aws import Aws, cli, write_config
from tests.gateway_support import CACHE

Capsys = pytest.CaptureFixture[str]
ROLE = "arn:aws:iam::123456789012:role/sdxl-inf2-gateway"
FUNCTION = "sdxl-inf2-prod-gateway"
LAMBDA = {"Service": "lambda.amazonaws.com"}
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": LAMBDA, "Action": "sts:AssumeRole"}]}


def config_with_gateway(tmp_path: Path, **gateway: Any) -> Path:
    section = {"role_arn": ROLE, **gateway}
    return write_config(tmp_path, gateway=section, environment={"SDXL_CACHE_S3_URI": CACHE}, autoscaling=None)


def deploy(capsys: Capsys, config: Path) -> str:
    run = cli(capsys, "deploy", str(config))
    assert run.code == 0, run.err
    return run.err


def test_deploy_creates_updates_and_teardown_removes_the_gateway(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    aws.client("iam").create_role(RoleName="sdxl-inf2-gateway", AssumeRolePolicyDocument=json.dumps(TRUST))
    lam = aws.client("lambda")
    config = config_with_gateway(tmp_path)
    assert f"gateway {FUNCTION}: created" in deploy(capsys, config)
    live = lam.get_function(FunctionName=FUNCTION)["Configuration"]
    code = build_zip()
    assert (live["Handler"], live["Runtime"], live["Role"]) == (HANDLER, code.runtime, ROLE)
    assert (live["MemorySize"], live["Timeout"], live["Architectures"]) == (512, 30, [code.architecture])
    assert live["CodeSha256"] == code.code_sha256
    assert live["Environment"]["Variables"] == gateway_settings(load_config(config)).environment()
    assert live["Environment"]["Variables"]["SDXL_GATEWAY_METRICS"] == "on"  # it counts the requests
    assert lam.get_function_url_config(FunctionName=FUNCTION)["AuthType"] == "AWS_IAM"

    assert f"gateway {FUNCTION}: unchanged" in deploy(capsys, config)
    assert f"gateway {FUNCTION}: configuration updated" in deploy(capsys, config_with_gateway(tmp_path, memory_mb=1024))
    assert lam.get_function(FunctionName=FUNCTION)["Configuration"]["MemorySize"] == 1024

    deploy(capsys, config_with_gateway(tmp_path, memory_mb=1024, auth_type="NONE"))
    assert lam.get_function_url_config(FunctionName=FUNCTION)["AuthType"] == "NONE"
    statements = json.loads(lam.get_policy(FunctionName=FUNCTION)["Policy"])["Statement"]
    assert sorted(s["Action"] for s in statements) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]

    run = cli(capsys, "teardown", str(config))
    assert run.code == 0, run.err
    assert f"gateway {FUNCTION}: deleted" in run.err
    assert FUNCTION not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]


def test_plan_shows_the_gateway(tmp_path: Path, capsys: Capsys) -> None:
    run = cli(capsys, "plan", str(config_with_gateway(tmp_path, auth_type="NONE")))
    assert run.code == 0, run.err
    assert "lambda create_function" in run.out and "<the gateway zip, built from the installed package" in run.out
    assert "lambda create_function_url_config" in run.out and run.out.count("lambda add_permission") == 2
    assert "lambda" not in cli(capsys, "plan", str(write_config(tmp_path))).out


def test_iam_policy_for_the_gateway(tmp_path: Path, capsys: Capsys) -> None:
    run = cli(capsys, "iam-policy", str(config_with_gateway(tmp_path)), "--gateway")
    assert run.code == 0, run.err
    statements = {s["Sid"]: s for s in json.loads(run.out)["Statement"]}
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/sdxl-inf2-prod"
    assert statements["QueueOnTheEndpoint"]["Action"] == ["sagemaker:InvokeEndpointAsync"]
    assert statements["QueueOnTheEndpoint"]["Resource"] == arn
    assert statements["WritePendingClaimsAndRecords"]["Resource"] == "arn:aws:s3:::sdxl-cache/results/gateway/*"
    assert statements["ReadCacheEntriesAndModelCard"]["Resource"] == "arn:aws:s3:::sdxl-cache/results/*"
    assert statements["UploadRequests"]["Resource"] == "arn:aws:s3:::example-sdxl-data/sdxl-inf2-prod/requests/*"
    namespaces = statements["CountDemand"]["Condition"]["StringEquals"]["cloudwatch:namespace"]
    assert namespaces == ["SdxlInf2"] and statements["CountDemand"]["Resource"] == "*"
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/sdxl-inf2-prod-gateway"
    assert statements["FunctionLogEvents"]["Resource"] == f"{group}:log-stream:*"
    writes = [s for s in statements.values() if "s3:PutObject" in s["Action"]]
    assert all(s["Resource"].endswith(("/gateway/*", "/requests/*")) for s in writes)  # never the entries
    assert "DecryptResults" in statements  # the example encrypts results with a KMS key
