"""The local endpoint on stacks of their own: no instance, and a real-time endpoint.

Starts that must fail are in test_local_endpoint_errors.py; the shared stack's tests in
test_local_endpoint.py.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from tests.aws import assert_one_line_error, cli, write_config
from tests.local_stack import LocalStack, boto3_pointed_at
from tests.test_local_endpoint import ENDPOINT, INPUTS, STACK, client, notifications, s3_object, submit, wait_until

Capsys = pytest.CaptureFixture[str]


def test_with_no_instance_requests_wait_signal_no_capacity_and_expire(tiny_model: Path, tmp_path: Path) -> None:
    args = ("--instances", "0", "--metrics-period", "0.5", "--min-request-ttl", "1")
    empty = LocalStack(write_config(tmp_path, **STACK), tiny_model, tmp_path, *args)
    try:
        with boto3_pointed_at(empty.wait_ready(), tmp_path):
            unchecked = client("sagemaker-runtime", parameter_validation=False)
            answer = submit({"prompt": "a cat"}, runtime=unchecked, RequestTTLSeconds=2)
            wait_until(lambda: 1.0 in metric_values("HasBacklogWithoutCapacity"), timeout=20)
            note = notifications({answer["InferenceId"]})[answer["InferenceId"]][0]
            assert note["invocationStatus"] == "Expired"  # past RequestTTLSeconds: "marked as expired"
            assert note["failureReason"].startswith("Request expired: it waited 2.")
            assert empty.events(answer["InferenceId"]) == ["queued", "expired"]
            failure = s3_object(answer["FailureLocation"])
            assert failure is not None and failure["body"].decode() == note["failureReason"]
            assert note["responseParameters"]["failureLocation"] == answer["FailureLocation"]
            with pytest.raises(ClientError, match=r"greater than or equal to 1 \(lowered by"):
                submit({"prompt": "a cat"}, runtime=unchecked, RequestTTLSeconds=0)
    finally:
        empty.close()


def metric_values(name: str) -> list[float]:
    now = time.time()
    answer = client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=name,
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}],
        StartTime=now - 300,
        EndTime=now + 60,
        Period=60,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in answer["Datapoints"]]


def test_a_real_time_config_is_served_by_invoke_endpoint_only(tiny_model: Path, tmp_path: Path, capsys: Capsys) -> None:
    config = write_config(tmp_path, **{**STACK, "async_inference": None, "autoscaling": None})
    real_time = LocalStack(config, tiny_model, tmp_path, "--instances", "1")
    try:
        with boto3_pointed_at(real_time.wait_ready(), tmp_path):
            runtime = client("sagemaker-runtime")
            body = json.dumps({"prompt": "a cat", "seed": 3})
            answer = runtime.invoke_endpoint(
                EndpointName=ENDPOINT, Body=body, ContentType="application/json", Accept="image/png"
            )
            direct = requests.post(
                f"{real_time.instance_url(0)}/invocations",
                data=body,
                timeout=30,
                headers={"Content-Type": "application/json"},
            )
            assert answer["Body"].read() == direct.content
            assert (answer["ContentType"], answer["InvokedProductionVariant"]) == ("image/png", "AllTraffic")
            assert "seed=3" in answer["CustomAttributes"]
            with pytest.raises(ClientError) as caught:
                runtime.invoke_endpoint(
                    EndpointName=ENDPOINT, Body=b'{"prompt": "x", "height": 640}', ContentType="application/json"
                )
            assert caught.value.response["Error"]["Code"] == "ModelError"
            assert dict(caught.value.response)["OriginalStatusCode"] == 400
            with pytest.raises(ClientError, match="real-time endpoint"):
                runtime.invoke_endpoint_async(EndpointName=ENDPOINT, InputLocation=f"{INPUTS}/x.json")
            assert_one_line_error(
                cli(capsys, "invoke", str(config), "--prompt", "a cat"), "invoke needs an async endpoint"
            )
        assert real_time.stop(signal.SIGINT) == 0
    finally:
        real_time.close()
