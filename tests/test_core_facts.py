"""The SageMaker and CloudWatch facts of the core, each written once: botocore's model, the backlog
formulas, and no package outside the core writing them again. No server is started."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import botocore.session
import pytest

from sdxl_inf2.core import metrics, sagemaker
from sdxl_inf2.core.cache import CACHE_S3_SETTING
from sdxl_inf2.core.settings import S3_TIMEOUT_S
from sdxl_inf2.deploy.config import DeployConfig, Gateway, Invoke
from sdxl_inf2.gateway.settings import CARD_TTL_S, GatewaySettings
from sdxl_inf2.local_endpoint.stack import Options

PACKAGE = Path(__file__).resolve().parent.parent / "sdxl_inf2"
SESSION = botocore.session.get_session()


def async_member(name: str) -> botocore.model.Shape:
    shape = SESSION.get_service_model("sagemaker-runtime").operation_model("InvokeEndpointAsync").input_shape
    assert shape is not None
    return shape.members[name]


@pytest.mark.parametrize(
    ("member", "limits", "default", "sentence"),
    [
        ("RequestTTLSeconds", sagemaker.REQUEST_TTL, sagemaker.DEFAULT_REQUEST_TTL_S, "6 hours, or {:,} seconds"),
        (
            "InvocationTimeoutSeconds",
            sagemaker.INVOCATION_TIMEOUT,
            sagemaker.DEFAULT_INVOCATION_TIMEOUT_S,
            "15 minutes, or {:,} seconds",
        ),
    ],
)
def test_async_limits_are_botocores_and_defaults_its_documentation(
    member: str, limits: sagemaker.Limits, default: int, sentence: str
) -> None:
    shape = async_member(member)
    assert (limits.low, limits.high) == (shape.metadata["min"], shape.metadata["max"])
    assert f"The default is {sentence.format(default)}." in shape.documentation
    assert limits.low <= default <= limits.high


def test_the_published_ranges() -> None:
    """What sagemaker-contract.md records (botocore 1.43.11); a botocore that changes them fails here."""
    assert (sagemaker.REQUEST_TTL.low, sagemaker.REQUEST_TTL.high) == (60, 21600)
    assert (sagemaker.INVOCATION_TIMEOUT.low, sagemaker.INVOCATION_TIMEOUT.high) == (1, 3600)
    assert (sagemaker.DEFAULT_REQUEST_TTL_S, sagemaker.DEFAULT_INVOCATION_TIMEOUT_S) == (21600, 900)
    assert sagemaker.max_concurrent_invocations() == sagemaker.Limits(1, 1000)
    assert sagemaker.async_output_path().high == 512
    assert sagemaker.production_variant("ContainerStartupHealthCheckTimeoutInSeconds") == sagemaker.Limits(60, 3600)
    assert sagemaker.production_variant("ModelDataDownloadTimeoutInSeconds") == sagemaker.Limits(60, 3600)


def test_every_sagemaker_name_has_the_endpoints_limit() -> None:
    """deploy's EntityName (variants, model package groups) uses the endpoint name's limit."""
    control = SESSION.get_service_model("sagemaker")
    for shape in ("EndpointName", "EntityName", "VariantName"):
        assert control.shape_for(shape).metadata["max"] == sagemaker.ENDPOINT_NAME_MAX == 63


def test_the_modules_that_restated_the_facts_now_read_the_cores() -> None:
    gateway = GatewaySettings.model_fields
    invoke = Invoke.model_fields
    for fields in (gateway, invoke):
        assert fields["request_ttl_s"].default == sagemaker.DEFAULT_REQUEST_TTL_S
        assert fields["invocation_timeout_s"].default == sagemaker.DEFAULT_INVOCATION_TIMEOUT_S
    assert gateway["card_ttl_s"].default == Gateway.model_fields["card_ttl_s"].default == CARD_TTL_S
    assert gateway["s3_timeout_s"].default == S3_TIMEOUT_S
    assert (gateway["metrics_namespace"].default, gateway["metrics_variant_name"].default) == (
        metrics.NAMESPACE,
        metrics.DEFAULT_VARIANT,
    )
    assert DeployConfig.model_fields["variant_name"].default == metrics.DEFAULT_VARIANT
    assert Options(Path(".")).min_ttl_s == sagemaker.REQUEST_TTL.low


@pytest.mark.parametrize(
    ("size", "instances", "per_instance", "without_capacity"),
    [(0, 0, 0.0, 0.0), (3, 0, 3.0, 1.0), (6, 4, 1.5, 0.0), (0, 2, 0.0, 0.0)],
)
def test_backlog_metrics(size: int, instances: int, per_instance: float, without_capacity: float) -> None:
    values = metrics.backlog_metrics(size, instances)
    assert values == {
        metrics.BACKLOG_METRIC: float(size),
        metrics.BACKLOG_PER_INSTANCE_METRIC: per_instance,
        metrics.BACKLOG_WITHOUT_CAPACITY_METRIC: without_capacity,
    }


def test_the_age_of_the_oldest_request_only_where_tracked() -> None:
    values = metrics.backlog_metrics(2, 1, oldest_age_s=12.5)
    assert values[metrics.OLDEST_REQUEST_AGE_METRIC] == 12.5
    assert set(values) == set(metrics.BACKLOG_UNITS)


# Values that only the core writes: package code elsewhere imports them (tests may pin them).
CORE_ONLY: dict[object, str] = {
    metrics.NAMESPACE: "core/metrics.py NAMESPACE",
    metrics.DEFAULT_VARIANT: "core/metrics.py DEFAULT_VARIANT",
    metrics.UNKNOWN_ENDPOINT: "core/metrics.py UNKNOWN_ENDPOINT",
    metrics.SAGEMAKER_NAMESPACE: "core/metrics.py SAGEMAKER_NAMESPACE",
    metrics.INSTANCE_NAMESPACE: "core/metrics.py INSTANCE_NAMESPACE",
    metrics.NAMESPACE_SETTING: "core/metrics.py NAMESPACE_SETTING",
    metrics.ENDPOINT_SETTING: "core/metrics.py ENDPOINT_SETTING",
    metrics.VARIANT_SETTING: "core/metrics.py VARIANT_SETTING",
    metrics.SWITCH_SETTING: "core/metrics.py SWITCH_SETTING",
    metrics.REQUEST_COUNTS_SETTING: "core/metrics.py REQUEST_COUNTS_SETTING",
    CACHE_S3_SETTING: "core/cache CACHE_S3_SETTING",
    sagemaker.DEFAULT_REQUEST_TTL_S: "core/sagemaker.py DEFAULT_REQUEST_TTL_S",
}


def literals_outside_the_core() -> list[str]:
    found = []
    for folder, _, files in os.walk(PACKAGE, followlinks=True):
        if Path(folder).relative_to(PACKAGE).parts[:1] == ("core",):
            continue
        for name in (n for n in files if n.endswith(".py")):
            path = Path(folder) / name
            constants = (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant))
            for node in constants:
                value = node.value
                if value in CORE_ONLY and not isinstance(value, bool):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {value!r}: {CORE_ONLY[value]}")
    return found


def test_no_package_outside_the_core_writes_its_facts() -> None:
    assert literals_outside_the_core() == []


def test_high_resolution_facts_are_botocores() -> None:
    """The alarm periods below a minute and the storage resolution the gateway's counts use, as
    botocore's CloudWatch model documents them (it states both in prose only)."""
    cloudwatch = SESSION.get_service_model("cloudwatch")
    period = cloudwatch.operation_model("PutMetricAlarm").input_shape.members["Period"].documentation
    listed = ", ".join(str(seconds) for seconds in metrics.HIGH_RESOLUTION_PERIODS)
    assert f"Valid values are {listed}, and any multiple of 60." in period
    resolution = cloudwatch.shape_for("MetricDatum").members["StorageResolution"].documentation
    assert (
        "Valid values are 1 and 60. Setting this to 1 specifies this metric as a high-resolution metric" in resolution
    )
    assert metrics.HIGH_RESOLUTION == 1
