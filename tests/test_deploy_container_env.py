"""The container Environment deploy sets: the metric dimension values the usage-rate policy reads,
the user's own values winning, the Model Registry's 16 entries, and the S3 result cache's IAM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdxl_inf2.deploy.autoscaling import usage_rate_metrics
from sdxl_inf2.deploy.config import load_config
from sdxl_inf2.deploy.registry import inference_specification
from tests.aws import Aws, assert_one_line_error, cli, write_config

Capsys = pytest.CaptureFixture[str]
METRIC_ENV = {"SDXL_METRICS_ENDPOINT_NAME": "sdxl-inf2-prod", "SDXL_METRICS_VARIANT_NAME": "AllTraffic"}


def m2_metric(config_path: Path) -> dict[str, object]:
    _, m2, _ = usage_rate_metrics(load_config(config_path))
    metric = m2["MetricStat"]["Metric"]
    dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
    return {"namespace": metric["Namespace"], **dimensions}


def test_the_model_gets_the_endpoint_and_variant_as_metric_dimensions(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    run = cli(capsys, "deploy", str(write_config(tmp_path)))
    assert run.code == 0, run.err
    model = aws.client("sagemaker").describe_model(ModelName=run.out.strip())
    assert model["PrimaryContainer"]["Environment"] == {**METRIC_ENV, "SDXL_LOG_LEVEL": "info"}
    config = load_config(write_config(tmp_path))
    assert inference_specification(config)["Containers"][0]["Environment"] == model["PrimaryContainer"]["Environment"]


def test_the_users_values_win_and_the_policy_follows_them(tmp_path: Path) -> None:
    own = {"SDXL_METRICS_ENDPOINT_NAME": "shared-name", "SDXL_METRICS_NAMESPACE": "Imaging/Sdxl"}
    path = write_config(tmp_path, environment=own)
    environment = load_config(path).container_environment
    assert environment == {**own, "SDXL_METRICS_VARIANT_NAME": "AllTraffic"}
    assert m2_metric(path) == {"namespace": "Imaging/Sdxl", "EndpointName": "shared-name", "VariantName": "AllTraffic"}
    assert m2_metric(write_config(tmp_path)) == {
        "namespace": "SdxlInf2",
        "EndpointName": "sdxl-inf2-prod",
        "VariantName": "AllTraffic",
    }


def test_metrics_off_is_refused_with_the_usage_rate_policy(tmp_path: Path, capsys: Capsys) -> None:
    off = {"SDXL_METRICS": "off"}
    run = cli(capsys, "plan", str(write_config(tmp_path, environment=off)))
    assert_one_line_error(run, "environment", "SDXL_METRICS=off", "usage-rate")
    assert (
        cli(capsys, "plan", str(write_config(tmp_path, environment=off, **{"autoscaling.policy": "backlog"}))).code == 0
    )


def test_the_environment_fits_the_model_registry(tmp_path: Path, capsys: Capsys) -> None:
    fifteen = {f"SDXL_X{i}": "1" for i in range(15)}
    run = cli(capsys, "plan", str(write_config(tmp_path, environment=fifteen)))
    assert_one_line_error(run, "environment", "at most 14", "SDXL_METRICS_ENDPOINT_NAME")
    fourteen = {f"SDXL_X{i}": "1" for i in range(14)}
    assert cli(capsys, "plan", str(write_config(tmp_path, environment=fourteen))).code == 0
    own_names = {**{f"SDXL_X{i}": "1" for i in range(14)}, **METRIC_ENV}  # 16, nothing added
    assert cli(capsys, "plan", str(write_config(tmp_path, environment=own_names))).code == 0


def test_iam_grants_the_s3_cache_prefix_and_the_metric_namespace(tmp_path: Path, capsys: Capsys) -> None:
    environment = {"SDXL_CACHE_S3_URI": "s3://example-sdxl-cache/results/", "SDXL_METRICS_NAMESPACE": "Imaging/Sdxl"}
    run = cli(capsys, "iam-policy", str(write_config(tmp_path, environment=environment)))
    statements = {s["Sid"]: s for s in json.loads(run.out)["Statement"]}
    assert statements["ResultCacheEntries"]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    assert statements["ResultCacheEntries"]["Resource"] == "arn:aws:s3:::example-sdxl-cache/results/*"
    assert statements["ResultCacheList"]["Resource"] == "arn:aws:s3:::example-sdxl-cache"
    assert statements["ResultCacheList"]["Condition"] == {"StringLike": {"s3:prefix": ["results/*"]}}
    namespaces = statements["EndpointMetrics"]["Condition"]["StringEquals"]["cloudwatch:namespace"]
    assert namespaces == ["/aws/sagemaker/Endpoints", "Imaging/Sdxl"]
    plain = {s["Sid"] for s in json.loads(cli(capsys, "iam-policy", str(write_config(tmp_path))).out)["Statement"]}
    assert not plain & {"ResultCacheEntries", "ResultCacheList"}
