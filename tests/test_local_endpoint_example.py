"""deploy/example.yaml as shipped, its gateway on, under `sdxl-inf2 local-endpoint` (the tiny model, one
instance as the config says): the local account gets the roles the config names, `deploy` creates the
gateway's function with its role; `sdxl-inf2 invoke` renders a seeded request once and answers the
repeat from S3 without uploading it; `sdxl-inf2 gateway serve` queues a miss and answers the hit; and
the gateway's demand counts are in the local CloudWatch, the only request counts there (the container's
are off when the gateway counts); deploy put the surge policy and the dashboard, the instance's heartbeat
that the surge's gate reads is there too, and teardown removes the policy and the dashboard."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from sdxl_inf2.core import metrics
from sdxl_inf2.deploy.config import load_config
from sdxl_inf2.deploy.iam import execution_role_policy, gateway_role_policy
from sdxl_inf2.deploy.naming import dashboard_name, policy_name, surge_alarm_name
from tests.aws import EXAMPLE, cli
from tests.local_stack import LocalStack, boto3_pointed_at
from tests.server import BIN, ROOT

Capsys = pytest.CaptureFixture[str]
CONFIG = load_config(EXAMPLE)
DATA, REGION = "example-sdxl-data", "us-east-1"
INPUTS, CACHE = "sdxl-inf2-prod/requests/", "sdxl-inf2-prod/cache/"


@pytest.fixture(scope="module")
def stack(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("example")
    running = LocalStack(EXAMPLE, tiny_model, folder, "--metrics-period", "1")
    try:
        with boto3_pointed_at(running.wait_ready(timeout=180), folder):
            yield running
    finally:
        running.close()


def keys(prefix: str) -> set[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=DATA, Prefix=prefix)
    return {item["Key"] for item in listed.get("Contents", [])}


def cache_entries() -> set[str]:
    return {key for key in keys(CACHE) if len(key.rsplit("/", 1)[1]) == 64}  # not the card, not gateway state


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def demand(name: str) -> float:
    """The sum of one request count (or the heartbeat) in the local CloudWatch, as the policies read it."""
    now = time.time()
    answer = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=CONFIG.container_metric_namespace,
        MetricName=name,
        Dimensions=[{"Name": "EndpointName", "Value": CONFIG.name}, {"Name": "VariantName", "Value": "AllTraffic"}],
        StartTime=now - 600,
        EndTime=now + 60,
        Period=60,
        Statistics=["Sum"],
    )
    return sum(point["Sum"] for point in answer["Datapoints"])


def test_the_roles_exist_and_deploy_made_the_gateway(stack: LocalStack) -> None:
    assert CONFIG.gateway is not None and CONFIG.gateway_enabled  # the example as shipped
    iam = boto3.client("iam")
    for arn, service, policy in (
        (CONFIG.execution_role_arn, "sagemaker", execution_role_policy(CONFIG, REGION)),
        (CONFIG.gateway.role_arn, "lambda", gateway_role_policy(CONFIG, REGION)),
    ):
        name = arn.rsplit("/", 1)[1]
        role = iam.get_role(RoleName=name)["Role"]
        assert role["Arn"] == arn  # the account and the path the config names
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": f"{service}.amazonaws.com"}
        assert iam.get_role_policy(RoleName=name, PolicyName="sdxl-inf2")["PolicyDocument"] == policy
    function = boto3.client("lambda").get_function(FunctionName="sdxl-inf2-prod-gateway")["Configuration"]
    assert function["Role"] == CONFIG.gateway.role_arn
    assert function["Environment"]["Variables"]["SDXL_GATEWAY_METRICS"] == "on"
    assert any("gateway sdxl-inf2-prod-gateway: created" in line for line in stack.stderr().splitlines())
    assert any("`sdxl-inf2 gateway serve CONFIG` serves it on this machine" in line for line in stack.output())


def test_invoke_answers_the_repeat_from_s3_and_counts_demand(stack: LocalStack, tmp_path: Path, capsys: Capsys) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"prompt": "a photo of a cat", "seed": 42}))
    first = cli(capsys, "invoke", str(EXAMPLE), "--request", str(request), "--out", str(tmp_path / "first"))
    assert first.code == 0, first.err
    wait_for(lambda: len(cache_entries()) == 1)  # the instance writes the S3 tier just after its response
    uploaded = keys(INPUTS)
    second = cli(capsys, "invoke", str(EXAMPLE), "--request", str(request), "--out", str(tmp_path / "second"))
    assert second.code == 0, second.err
    assert "cache hit" in second.err and "cache hit" not in first.err
    assert Path(second.out.strip()).read_bytes() == Path(first.out.strip()).read_bytes()
    assert Path(first.out.strip()).read_bytes().startswith(b"\x89PNG")
    assert keys(INPUTS) == uploaded  # the repeat was never uploaded, never queued
    assert sum(" completed on instance" in line for line in stack.output()) == 1
    time.sleep(2.5)  # two metric periods: any count forwarded from the container would be in by now
    counts = {name: demand(name) for name in (metrics.REQUESTS, metrics.CACHE_HITS, metrics.CACHE_MISSES)}
    assert counts == {metrics.REQUESTS: 2, metrics.CACHE_HITS: 1, metrics.CACHE_MISSES: 1}


def test_gateway_serve_queues_the_miss_and_answers_the_hit(stack: LocalStack) -> None:
    before = {name: demand(name) for name in (metrics.REQUESTS, metrics.CACHE_HITS)}
    entries = len(cache_entries())
    command = [str(BIN / "sdxl-inf2"), "gateway", "serve", str(EXAMPLE), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("gateway for sdxl-inf2-prod: http://127.0.0.1:"), line + process.stderr.read()
        url = line.split()[3]
        body = json.dumps({"prompt": "a photo of a dog", "seed": 3}).encode()
        queued = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert (queued.status_code, queued.json()["status"], queued.json()["cache"]) == (202, "queued", "miss")
        inference_id = queued.json()["inference_id"]
        wait_for(lambda: requests.get(f"{url}/{inference_id}", timeout=30).json()["status"] == "done")
        wait_for(lambda: len(cache_entries()) == entries + 1)
        hit = requests.post(url, data=body, timeout=30)  # no Content-Type: read as the container reads it
        assert (hit.status_code, hit.json()["status"], hit.json()["cache"]) == (200, "done", "hit")
        assert hit.json()["images"] and hit.json()["seed"] == 3
    finally:
        process.terminate()
        process.wait(30)
    assert demand(metrics.REQUESTS) == before[metrics.REQUESTS] + 2
    assert demand(metrics.CACHE_HITS) == before[metrics.CACHE_HITS] + 1


def scaling_policies() -> dict[str, Any]:
    found = boto3.client("application-autoscaling").describe_scaling_policies(ServiceNamespace="sagemaker")
    return {policy["PolicyName"]: policy for policy in found["ScalingPolicies"]}


def alarms() -> dict[str, Any]:
    return {alarm["AlarmName"]: alarm for alarm in boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]}


def dashboards() -> list[str]:
    return [entry["DashboardName"] for entry in boto3.client("cloudwatch").list_dashboards()["DashboardEntries"]]


def test_deploy_made_the_surge_policy_and_the_dashboard(stack: LocalStack) -> None:
    """The example counts demand at its gateway, so deploy puts the surge policy: ExactCapacity bands on
    an alarm of 30 s or less that fires it (metric math over the demand and the instances' heartbeat),
    beside target tracking; and the campaign dashboard."""
    assert CONFIG.surge_enabled
    surge = scaling_policies()[policy_name(CONFIG, "surge")]
    step = surge["StepScalingPolicyConfiguration"]
    assert surge["PolicyType"] == "StepScaling" and step["AdjustmentType"] == "ExactCapacity"
    assert 1 <= len(step["StepAdjustments"]) <= 20
    alarm = alarms()[surge_alarm_name(CONFIG)]
    read = [query["MetricStat"] for query in alarm["Metrics"] if "MetricStat" in query]
    assert read and all(stat["Period"] <= 30 for stat in read) and alarm["AlarmActions"] == [surge["PolicyARN"]]
    assert {stat["Metric"]["MetricName"] for stat in read} == {metrics.CACHE_MISSES, metrics.IN_SERVICE_SECONDS}
    assert {stat["Metric"]["Namespace"] for stat in read} == {CONFIG.container_metric_namespace}
    assert dashboard_name(CONFIG, REGION) in dashboards()


def test_the_instance_heartbeat_the_surge_gate_reads_is_in_cloudwatch(stack: LocalStack) -> None:
    """deploy turned the container's heartbeat on; the instance, in service, writes it whether or not
    requests come, and the local endpoint forwards it as CloudWatch Logs would extract it."""
    assert CONFIG.container_environment[metrics.HEARTBEAT_SETTING] == "on"
    wait_for(lambda: demand(metrics.IN_SERVICE_SECONDS) >= 2)


def test_teardown_removes_the_surge_policy_and_the_dashboard(stack: LocalStack, capsys: Capsys) -> None:
    """Last in this module: it takes the example's deployment down."""
    run = cli(capsys, "teardown", str(EXAMPLE))
    assert run.code == 0, run.err
    assert policy_name(CONFIG, "surge") not in scaling_policies() and surge_alarm_name(CONFIG) not in alarms()
    assert dashboard_name(CONFIG, REGION) not in dashboards()
