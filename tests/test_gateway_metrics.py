"""Demand counted by the gateway, and nothing counted twice: the usage-rate policy's m2 is found in what
the gateway emits (PutMetricData on moto), and a real container started with deploy's Environment for a
gateway deployment leaves exactly those counts out of its own EMF documents, and writes the heartbeat
the surge alarm's gate reads, once its workers are ready, requests or not."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from sdxl_inf2.core.cache.entry import pack
from sdxl_inf2.core.metrics import COALESCED, DEMAND_COUNTS, HIGH_RESOLUTION, IN_SERVICE_SECONDS
from sdxl_inf2.deploy import surge
from sdxl_inf2.deploy.autoscaling import usage_rate_metrics
from sdxl_inf2.deploy.clients import Clients
from sdxl_inf2.deploy.config import DeployConfig, load_config
from sdxl_inf2.deploy.gateway import connect, gateway_settings
from sdxl_inf2.gateway.demand import DemandMetrics
from tests.aws import Aws, assert_one_line_error, cli, write_config
from tests.conftest import ServerFactory
from tests.emf import datapoints, emf_documents, wait_metrics
from tests.gateway_support import CACHE, CACHE_BUCKET, CACHE_PREFIX, publish_card
from tests.server import FAKE

if TYPE_CHECKING:
    from types_boto3_cloudwatch import CloudWatchClient

GATEWAY = {"role_arn": "arn:aws:iam::123456789012:role/sdxl-inf2-gateway"}


def gateway_config(tmp_path: Path, **changes: Any) -> DeployConfig:
    base = {"gateway": GATEWAY, "environment": {"SDXL_CACHE_S3_URI": CACHE}, "variant_name": "blue"}
    return load_config(write_config(tmp_path, **{**base, **changes}))


def policy_sum(aws: Aws, config: DeployConfig) -> float:
    """The Sum over the last minutes of exactly the metric the usage-rate policy's m2 reads."""
    stat = usage_rate_metrics(config)[1]["MetricStat"]
    end = datetime.now(timezone.utc) + timedelta(minutes=1)  # noqa: UP017 - the project supports 3.10
    answer = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "m2", "MetricStat": {**stat, "Period": 60}}],
        StartTime=end - timedelta(minutes=10),
        EndTime=end,
    )
    return float(sum(answer["MetricDataResults"][0]["Values"]))


@pytest.mark.parametrize(("count_hits", "expected"), [(False, 3), (True, 4)], ids=["misses", "every-request"])
def test_the_policy_reads_what_the_gateway_counts(
    aws: Aws, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count_hits: bool, expected: int
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)  # not in Lambda: PutMetricData
    config = gateway_config(tmp_path, **{"autoscaling.usage_rate.count_cache_hits": count_hits})
    assert config.requests_counted_by == "gateway"
    publish_card(aws, tiny_model)
    gateway = connect(Clients(config.region), config)
    _, key = gateway.read(json.dumps({"prompt": "hit", "seed": 1}).encode(), "image/png")
    aws.client("s3").put_object(Bucket=CACHE_BUCKET, Key=f"{CACHE_PREFIX}{key}", Body=pack([b"png"]))
    bodies = [{"prompt": "hit", "seed": 1}, {"prompt": "a", "seed": 2}, {"prompt": "a", "seed": 2}, {"prompt": "b"}]
    caches = [gateway.submit(json.dumps(body).encode(), "image/png").cache for body in bodies]
    assert caches == ["hit", "miss", "coalesced", "off"]
    assert policy_sum(aws, config) == expected


def test_the_container_leaves_the_counts_to_the_gateway(
    servers: ServerFactory, tiny_model: Path, tmp_path: Path
) -> None:
    config = gateway_config(tmp_path)
    environment = config.container_environment
    assert environment["SDXL_METRICS_REQUEST_COUNTS"] == "off"
    env = {k: v for k, v in environment.items() if k != "SDXL_CACHE_S3_URI"}  # no S3 here: metrics only
    server = servers(tiny_model, env={"SDXL_BACKEND": FAKE.format("ok"), **env})
    server.wait_ping(200)
    for seed in range(2):
        assert server.invoke({"prompt": "p", "seed": seed}).status_code == 200
    documents = wait_metrics(server, 2)
    emitted = {point.name for point in datapoints(documents)}
    assert emitted.isdisjoint(DEMAND_COUNTS) and "ImagesGenerated" in emitted
    read = usage_rate_metrics(config)[1]["MetricStat"]["Metric"]["MetricName"]
    assert read in DEMAND_COUNTS and read not in emitted  # the gateway's alone


class RecordedCalls:
    """A CloudWatch client that only records PutMetricData's arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **arguments: Any) -> None:
        self.calls.append(arguments)


def test_the_counts_are_stored_at_high_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The surge alarm reads them per 10 s, which CloudWatch allows only for StorageResolution 1."""
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    config = gateway_config(tmp_path)
    recorded = RecordedCalls()
    DemandMetrics(gateway_settings(config), cast("CloudWatchClient", recorded)).count("miss", "id-1")
    [call] = recorded.calls
    assert {datum["MetricName"]: datum["StorageResolution"] for datum in call["MetricData"]} == {
        name: HIGH_RESOLUTION for name in (*DEMAND_COUNTS, COALESCED)
    }
    periods = [query["MetricStat"]["Period"] for query in surge.alarm_metrics(config) if "MetricStat" in query]
    assert periods and all(period < 60 for period in periods) and config.surge_enabled


def heartbeats(server: Any) -> list[dict[str, Any]]:
    return [document for document in emf_documents(server) if IN_SERVICE_SECONDS in document]


def test_the_container_writes_the_heartbeat_the_surge_gate_reads(
    servers: ServerFactory, tiny_model: Path, tmp_path: Path
) -> None:
    """Deploy's Environment for a surge turns the heartbeat on: 1 a second at high resolution under
    exactly the metric the alarm's `serving` query reads, from the moment /ping answers 200 (not
    while the workers load), with no request at all."""
    config = gateway_config(tmp_path)
    env = {k: v for k, v in config.container_environment.items() if k != "SDXL_CACHE_S3_URI"}
    assert env["SDXL_METRICS_HEARTBEAT"] == "on"
    server = servers(tiny_model, env={"SDXL_BACKEND": FAKE.format("slow_load"), "FAKE_LOAD_S": "2", **env})
    server.wait_ping(503, state="loading")
    loading_until = time.time()
    server.wait_ping(200)
    deadline = time.monotonic() + 10
    while len(found := heartbeats(server)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    seconds = [document["_aws"]["Timestamp"] // 1000 for document in found]
    assert len(seconds) >= 3 and seconds == list(range(seconds[0], seconds[0] + len(seconds)))  # one a second
    assert seconds[0] >= int(loading_until) - 1  # none for the seconds it was loading
    (directive,) = found[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": IN_SERVICE_SECONDS, "Unit": "Count", "StorageResolution": HIGH_RESOLUTION}]
    read = next(q["MetricStat"] for q in surge.alarm_metrics(config) if q["Id"] == surge.SERVING_ID)
    dimensions = {d["Name"]: d["Value"] for d in read["Metric"]["Dimensions"]}
    points = [
        p for p in datapoints(found) if (p.namespace, p.name) == (read["Metric"]["Namespace"], IN_SERVICE_SECONDS)
    ]
    assert {p.value for p in points} == {1} and all(p.dimensions == dimensions for p in points)
    assert len(points) == len(found) and read["Stat"] == "Sum"  # its Sum per period: instance-seconds


def test_who_counts(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path)).requests_counted_by == "container"
    assert gateway_config(tmp_path).requests_counted_by == "gateway"
    container = gateway_config(tmp_path, **{"autoscaling.usage_rate.requests_from": "container"})
    assert container.requests_counted_by == "container"
    assert "SDXL_METRICS_REQUEST_COUNTS" not in container.container_environment
    off = {"environment": {"SDXL_CACHE_S3_URI": CACHE, "SDXL_METRICS": "off"}, "autoscaling.surge.enabled": False}
    metrics_off = gateway_config(tmp_path, **off)
    assert metrics_off.requests_counted_by == "gateway"  # without the surge the container's metrics are not needed
    assert "SDXL_METRICS_HEARTBEAT" not in metrics_off.container_environment


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"autoscaling.usage_rate.requests_from": "gateway"}, ["autoscaling.usage_rate.requests_from: gateway needs"]),
        ({"gateway": GATEWAY}, ["gateway:", "SDXL_CACHE_S3_URI"]),
        (
            {"gateway": GATEWAY, "environment": {"SDXL_CACHE_S3_URI": CACHE, "SDXL_METRICS_REQUEST_COUNTS": "on"}},
            ["SDXL_METRICS_REQUEST_COUNTS=on", "twice"],
        ),
        (  # the surge's gate reads the container's heartbeat
            {"gateway": GATEWAY, "environment": {"SDXL_CACHE_S3_URI": CACHE, "SDXL_METRICS": "off"}},
            ["SDXL_METRICS=off", "heartbeat", "autoscaling.surge.enabled: false"],
        ),
        (
            {"gateway": GATEWAY, "environment": {"SDXL_CACHE_S3_URI": CACHE, "SDXL_METRICS_HEARTBEAT": "off"}},
            ["SDXL_METRICS_HEARTBEAT=off", "heartbeat"],
        ),
    ],
)
def test_config_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, changes: dict[str, Any], words: list[str]
) -> None:
    assert_one_line_error(cli(capsys, "plan", str(write_config(tmp_path, **changes))), *words)
