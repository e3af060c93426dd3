"""The container's CloudWatch metrics (EMF on stdout), read back from a real server's log, and the
proof that the usage-rate policy deploy builds reads exactly what the container emits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sdxl_inf2.container.config import ConfigError, Settings, load_settings
from sdxl_inf2.core import metrics as policy_names
from sdxl_inf2.deploy.autoscaling import usage_rate_metrics
from sdxl_inf2.deploy.config import parse_config
from tests.aws import EXAMPLE
from tests.conftest import ServerFactory
from tests.emf import datapoints, emf_documents, metric_sum, wait_metrics
from tests.server import FAKE, Server, request_log, wait_entries
from tests.test_server_lifecycle import assert_one_line_error, run_serve

JSON = {"Accept": "application/json"}
DIMENSIONS = {"EndpointName": "sdxl-test", "VariantName": "blue"}
ENV = {
    "SDXL_BACKEND": FAKE.format("raises"),  # ok, except for the prompt "raise"
    "SDXL_METRICS_ENDPOINT_NAME": "sdxl-test",
    "SDXL_METRICS_VARIANT_NAME": "blue",
}
UNITS = {
    "NumberOfInferenceRequests": "Count",
    "CacheHits": "Count",
    "CacheMisses": "Count",
    "CoalescedRequests": "Count",
    "ImagesGenerated": "Count",
    "QueueTime": "Milliseconds",
    "InferenceLatency": "Milliseconds",
    "EncodeTime": "Milliseconds",
    "RequestLatency": "Milliseconds",
}


def metric_units(document: dict[str, object]) -> dict[str, str]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    return {m["Name"]: m["Unit"] for m in directive["Metrics"]}


def with_metric(documents: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [d for d in documents if name in d]


@pytest.fixture
def server(servers: ServerFactory, tiny_model: Path, tmp_path: Path) -> Server:
    started = servers(tiny_model, env={**ENV, "SDXL_CACHE_DIR": str(tmp_path / "cache")})
    started.wait_ping(200)
    return started


def test_a_generated_request_carries_every_metric_with_its_unit_and_dimensions(server: Server) -> None:
    assert "AWS_EMF_ENVIRONMENT" not in os.environ  # the server itself picks the stdout sink
    response = server.invoke({"prompt": "a cat", "seed": 1}, headers={**JSON, "X-Amzn-SageMaker-Inference-Id": "m-1"})
    body = response.json()
    (document,) = wait_metrics(server, 1)  # the one request's values (a single value is a number)
    assert metric_units(document) == UNITS
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SdxlInf2"
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["EndpointName", "VariantName"]]
    assert {k: document[k] for k in DIMENSIONS} == DIMENSIONS
    assert (document["NumberOfInferenceRequests"], document["CacheHits"], document["CacheMisses"]) == (1, 0, 1)
    assert document["ImagesGenerated"] == 1
    (logged,) = request_log(server, "m-1")  # the per-request fields live in the request log line
    assert (logged["status"], logged["cache"]) == (200, "miss") and "inference_id" not in document
    timings = body["timings_ms"]
    assert [document[n] for n in ("QueueTime", "InferenceLatency", "EncodeTime", "RequestLatency")] == [
        timings["queue"],
        timings["inference"],
        timings["encode"],
        timings["total"],
    ]


def test_hits_misses_and_uncached_requests_add_up_to_the_request_count(server: Server, tmp_path: Path) -> None:
    states = [
        server.invoke(body, headers=JSON).json()["cache"]
        for body in ({"prompt": "a", "seed": 1}, {"prompt": "b", "seed": 2})
    ]
    wait_entries(tmp_path / "cache", 2)  # entries are written after their responses
    states += [
        server.invoke(body, headers=JSON).json()["cache"] for body in ({"prompt": "a", "seed": 1}, {"prompt": "c"})
    ]
    assert states == ["miss", "miss", "hit", "off"]
    points = [p for p in datapoints(wait_metrics(server, 4)) if p.dimensions == DIMENSIONS]
    assert metric_sum(points, "NumberOfInferenceRequests") == 4
    assert metric_sum(points, "CacheHits") == 1
    assert metric_sum(points, "CacheMisses") == 3  # the two misses and the seedless request
    assert metric_sum(points, "ImagesGenerated") == 3
    counts = {name: sum(p.name == name for p in points) for name in UNITS}  # values, one per request that has it
    assert counts == {**dict.fromkeys(UNITS, 4), "QueueTime": 3, "InferenceLatency": 3, "EncodeTime": 3}  # hit: none


def cache_state(server: Server, body: dict[str, object]) -> str:
    return str(server.invoke(body, headers=JSON).json()["cache"])


def test_errors_are_counted_by_class(server: Server) -> None:
    server.invoke({"prompt": "x", "bogus": 1}, headers={"X-Amzn-SageMaker-Inference-Id": "bad-1"})
    server.invoke({"prompt": "raise", "seed": 5}, headers={"X-Amzn-SageMaker-Inference-Id": "boom-1"})
    documents = wait_metrics(server, 1, errors=2)
    by_class = {d["ErrorClass"]: d for d in with_metric(documents, "Errors")}  # one document per class
    invalid, error = by_class["validation_error"], by_class["internal_error"]
    assert invalid["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["EndpointName", "VariantName"],
        ["EndpointName", "VariantName", "ErrorClass"],
    ]
    assert (invalid["ErrorClass"], invalid["Errors"], metric_units(invalid)) == (
        "validation_error",
        1,
        {"Errors": "Count"},
    )
    (request,) = with_metric(documents, "NumberOfInferenceRequests")  # bad-1 was never an inference request
    assert (request["NumberOfInferenceRequests"], request["CacheMisses"]) == (1, 1)  # a failed generation is one
    assert [e["status"] for e in request_log(server, "boom-1")] == [500]
    assert (error["ErrorClass"], error["Errors"]) == ("internal_error", 1)
    points = datapoints(documents)
    assert metric_sum(points, "Errors", DIMENSIONS) == 2
    assert metric_sum(points, "Errors", {**DIMENSIONS, "ErrorClass": "validation_error"}) == 1


def test_metrics_off_emits_no_emf_but_still_logs_requests(servers: ServerFactory, tiny_model: Path) -> None:
    server = servers(tiny_model, env={**ENV, "SDXL_METRICS": "off"})
    server.wait_ping(200)
    server.invoke({"prompt": "a", "seed": 1}, headers={"X-Amzn-SageMaker-Inference-Id": "quiet-1"})
    server.invoke({"prompt": "x", "bogus": 1}, headers={"X-Amzn-SageMaker-Inference-Id": "quiet-2"})
    assert request_log(server, "quiet-1") and request_log(server, "quiet-2")  # both were finished and logged
    assert emf_documents(server) == []


def test_the_settings_deploy_writes_are_the_ones_the_container_reads() -> None:
    settings = {field.alias: field for field in Settings.model_fields.values()}
    names = (policy_names.NAMESPACE_SETTING, policy_names.ENDPOINT_SETTING, policy_names.VARIANT_SETTING)
    for setting in (*names, policy_names.REQUEST_COUNTS_SETTING):
        assert setting in settings, setting
    assert settings[policy_names.NAMESPACE_SETTING].default == policy_names.NAMESPACE
    assert settings[policy_names.SWITCH_SETTING].default == "on"


@pytest.mark.parametrize("environment", [{}, {"SDXL_METRICS_NAMESPACE": "Imaging/Sdxl"}], ids=["default", "namespace"])
def test_the_usage_rate_policy_reads_exactly_what_the_container_emits(
    servers: ServerFactory, tiny_model: Path, environment: dict[str, str]
) -> None:
    import yaml

    data = yaml.safe_load(EXAMPLE.read_text())
    data.pop("gateway")  # no gateway: the container counts the requests
    config = parse_config({**data, "name": "sdxl-e2e", "variant_name": "blue", "environment": environment})
    # the container gets exactly the Environment deploy gives the model
    server = servers(tiny_model, env={"SDXL_BACKEND": FAKE.format("ok"), **config.container_environment})
    server.wait_ping(200)
    for seed in range(3):
        assert server.invoke({"prompt": "p", "seed": seed}).status_code == 200
    points = datapoints(wait_metrics(server, 3))
    m1, m2, _ = usage_rate_metrics(config)
    stat = m2["MetricStat"]
    read = stat["Metric"]
    dimensions = {d["Name"]: d["Value"] for d in read["Dimensions"]}
    assert dimensions == {"EndpointName": "sdxl-e2e", "VariantName": "blue"}
    matching = [
        p for p in points if (p.namespace, p.name, p.dimensions) == (read["Namespace"], read["MetricName"], dimensions)
    ]
    assert stat["Stat"] == "Sum" and sum(p.value for p in matching) == 3  # one per request
    assert m1["MetricStat"]["Metric"]["Namespace"] == "/aws/sagemaker/Endpoints"  # SageMaker's, not ours


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SDXL_METRICS": "maybe"}, ["SDXL_METRICS=", "'on' or 'off'"]),
        ({"SDXL_METRICS_NAMESPACE": "a b"}, ["SDXL_METRICS_NAMESPACE=", "letters, digits"]),
        ({"SDXL_METRICS_ENDPOINT_NAME": ":x"}, ["SDXL_METRICS_ENDPOINT_NAME=", "not starting with ':'"]),
        ({"SDXL_CACHE_S3_URI": "https://bucket/x"}, ["SDXL_CACHE_S3_URI=", "s3://bucket/prefix/"]),
        ({"SDXL_CACHE_MAX_BYTES": "10"}, ["SDXL_CACHE_MAX_BYTES=", "65536"]),
        ({"SDXL_CACHE_S3_TIMEOUT_S": "0"}, ["SDXL_CACHE_S3_TIMEOUT_S="]),
    ],
)
def test_bad_metric_and_cache_settings_are_one_line_naming_the_variable(env: dict[str, str], words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message


def test_a_bad_setting_stops_serve_in_one_line(tiny_model: Path) -> None:
    result = run_serve("--model-dir", str(tiny_model), env={"SDXL_METRICS_NAMESPACE": "no spaces allowed"})
    assert_one_line_error(result, "SDXL_METRICS_NAMESPACE")
