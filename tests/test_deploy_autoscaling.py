"""`autoscale` against moto, and the exact policy documents it sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdxl_inf2.core import metrics
from sdxl_inf2.deploy.autoscaling import usage_rate_expression, usage_rate_metrics
from sdxl_inf2.deploy.config import load_config
from tests.aws import Aws, assert_one_line_error, cli, write_config

Capsys = pytest.CaptureFixture[str]
RESOURCE = "endpoint/sdxl-inf2-prod/variant/AllTraffic"


@pytest.mark.parametrize(
    ("seconds", "workers", "expected"),
    [
        (10, 12, "IF(m1 != 0, m2 / (m1 * 60 / 10 * 12))"),  # the reference case: 10 s per image, inf2.48xlarge
        (9.7, 6, "IF(m1 != 0, m2 / (m1 * 60 / 9.7 * 6))"),
        (2.5, 1, "IF(m1 != 0, m2 / (m1 * 60 / 2.5 * 1))"),
    ],
)
def test_usage_rate_expression(seconds: float, workers: int, expected: str) -> None:
    assert usage_rate_expression(seconds, workers) == expected


def test_usage_rate_metrics_follow_the_metric_math_rules(tmp_path: Path) -> None:
    queries = usage_rate_metrics(load_config(write_config(tmp_path, **{"autoscaling.usage_rate.seconds_per_image": 8})))
    assert [q.get("ReturnData") for q in queries] == [False, False, True]  # only the final expression
    m1, m2, e1 = queries
    assert e1["Expression"] == "IF(m1 != 0, m2 / (m1 * 60 / 8 * 12))"
    assert m1["MetricStat"] == {
        "Metric": {
            "Namespace": "/aws/sagemaker/Endpoints",
            "MetricName": "CPUUtilization",
            "Dimensions": [
                {"Name": "EndpointName", "Value": "sdxl-inf2-prod"},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
        },
        "Stat": "SampleCount",  # no Period: TargetTrackingMetricStat has none
    }
    metric = m2["MetricStat"]["Metric"]  # hits cost no worker time: by default only misses are demand
    assert (metric["Namespace"], metric["MetricName"]) == (metrics.NAMESPACE, metrics.CACHE_MISSES)
    assert [d["Name"] for d in metric["Dimensions"]] == [metrics.ENDPOINT_DIMENSION, metrics.VARIANT_DIMENSION]
    reference_choice = load_config(write_config(tmp_path, **{"autoscaling.usage_rate.count_cache_hits": True}))
    assert usage_rate_metrics(reference_choice)[1]["MetricStat"]["Metric"]["MetricName"] == metrics.REQUESTS


def autoscale(capsys: Capsys, aws: Aws, config: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    run = cli(capsys, "autoscale", str(config))
    assert run.code == 0, run.err
    found = aws.client("application-autoscaling").describe_scaling_policies(ServiceNamespace="sagemaker")
    return {policy["PolicyName"]: policy for policy in found["ScalingPolicies"]}


def test_scalable_target_goes_to_zero(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    autoscale(capsys, aws, write_config(tmp_path, **{"autoscaling.max_capacity": 7}))
    target = aws.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    [found] = target["ScalableTargets"]
    assert (found["ResourceId"], found["ScalableDimension"]) == (RESOURCE, "sagemaker:variant:DesiredInstanceCount")
    assert (found["MinCapacity"], found["MaxCapacity"]) == (0, 7)


def test_usage_rate_policy_as_configured(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    changes = {"autoscaling.usage_rate": {"seconds_per_image": 12, "target_value": 0.6, "scale_in_cooldown_s": 300}}
    policies = autoscale(capsys, aws, write_config(tmp_path, **changes))
    assert set(policies) == {"sdxl-inf2-prod-usage-rate", "sdxl-inf2-prod-scale-from-zero"}
    configuration = policies["sdxl-inf2-prod-usage-rate"]["TargetTrackingScalingPolicyConfiguration"]
    assert (configuration["TargetValue"], configuration["ScaleOutCooldown"], configuration["ScaleInCooldown"]) == (
        0.6,
        60,  # the default when the container counts (600 when the gateway does: docs/simulator.md)
        300,
    )
    expression = configuration["CustomizedMetricSpecification"]["Metrics"][2]["Expression"]
    assert expression == "IF(m1 != 0, m2 / (m1 * 60 / 12 * 12))"


def test_backlog_policy_replaces_the_usage_rate_policy(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    autoscale(capsys, aws, write_config(tmp_path))
    policies = autoscale(capsys, aws, write_config(tmp_path, **{"autoscaling.policy": "backlog"}))
    assert set(policies) == {"sdxl-inf2-prod-backlog", "sdxl-inf2-prod-scale-from-zero"}
    configuration = policies["sdxl-inf2-prod-backlog"]["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["CustomizedMetricSpecification"] == {
        "MetricName": "ApproximateBacklogSizePerInstance",
        "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": "sdxl-inf2-prod"}],
        "Statistic": "Average",
    }
    assert (configuration["TargetValue"], configuration["ScaleOutCooldown"], configuration["ScaleInCooldown"]) == (
        5.0,
        300,
        600,
    )


def test_scale_from_zero_alarm_fires_the_step_policy(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    policies = autoscale(capsys, aws, write_config(tmp_path, **{"autoscaling.scale_from_zero.cooldown_s": 240}))
    step = policies["sdxl-inf2-prod-scale-from-zero"]
    assert step["PolicyType"] == "StepScaling"
    assert step["StepScalingPolicyConfiguration"] == {
        "AdjustmentType": "ChangeInCapacity",
        "MetricAggregationType": "Average",
        "Cooldown": 240,
        "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
    }
    [alarm] = aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert alarm["AlarmActions"] == [step["PolicyARN"]]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SageMaker", "HasBacklogWithoutCapacity")
    assert alarm["Dimensions"] == [{"Name": "EndpointName", "Value": "sdxl-inf2-prod"}]
    settings = {k: alarm[k] for k in ("Statistic", "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold")}
    assert settings == {
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 2,
        "Threshold": 1,
    }
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == ("GreaterThanOrEqualToThreshold", "missing")


def test_disabling_scale_from_zero_removes_its_alarm_and_policy(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    autoscale(capsys, aws, write_config(tmp_path))
    policies = autoscale(capsys, aws, write_config(tmp_path, **{"autoscaling.scale_from_zero.enabled": False}))
    assert set(policies) == {"sdxl-inf2-prod-usage-rate"}
    assert aws.client("cloudwatch").describe_alarms()["MetricAlarms"] == []


def test_schedules_with_time_zones(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    autoscale(capsys, aws, write_config(tmp_path))
    found = aws.client("application-autoscaling").describe_scheduled_actions(ServiceNamespace="sagemaker")
    actions = {a["ScheduledActionName"]: a for a in found["ScheduledActions"]}
    morning = actions["sdxl-inf2-prod-weekday-morning"]
    assert (morning["Schedule"], morning["Timezone"], morning["ResourceId"]) == (
        "cron(0 8 ? * MON-FRI *)",
        "Europe/London",
        RESOURCE,
    )
    assert morning["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 4}
    assert morning["StartTime"].year == 2026 and morning["EndTime"].year == 2027
    assert actions["sdxl-inf2-prod-weekday-evening"]["ScalableTargetAction"] == {"MinCapacity": 0}


def test_a_removed_schedule_is_deleted(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    autoscale(capsys, aws, write_config(tmp_path))
    one = [{"name": "weekday-evening", "schedule": "cron(0 20 ? * MON-FRI *)", "min_capacity": 0}]
    autoscale(capsys, aws, write_config(tmp_path, **{"autoscaling.schedules": one}))
    found = aws.client("application-autoscaling").describe_scheduled_actions(ServiceNamespace="sagemaker")
    assert [a["ScheduledActionName"] for a in found["ScheduledActions"]] == ["sdxl-inf2-prod-weekday-evening"]


def test_autoscale_without_a_section_is_one_line(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    assert_one_line_error(cli(capsys, "autoscale", str(write_config(tmp_path, autoscaling=None))), "autoscaling")
