"""The surge policy (deploy/surge.py): when it is on, its bands against the capacity formula, its requests
against botocore's model and Application Auto Scaling's step rules (moto stores any AdjustmentType, any
alarm Period and any metric-math expression unread), its gate, the usage-rate handover, and its life in
autoscale, plan, status and teardown."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from sdxl_inf2.core import metrics
from sdxl_inf2.deploy import status, surge
from sdxl_inf2.deploy.autoscaling import STEP_POLICY_ARN, usage_rate_metrics, usage_rate_policy
from sdxl_inf2.deploy.clients import Clients
from sdxl_inf2.deploy.config import DeployConfig, load_config
from sdxl_inf2.deploy.iam import gateway_role_policy
from sdxl_inf2.deploy.metric_math import compile_expression
from sdxl_inf2.deploy.plan import deploy_calls
from sdxl_inf2.deploy.scaling_config import MAX_STEP_ADJUSTMENTS
from sdxl_inf2.deploy.sizing import throughput
from tests.aws import EXAMPLE, REGION, Aws, assert_one_line_error, cli, write_config
from tests.gateway_support import CACHE

Capsys = pytest.CaptureFixture[str]
SESSION = botocore.session.get_session()
GATEWAY = {"gateway.enabled": True, "environment": {"SDXL_CACHE_S3_URI": CACHE}}
POLICY, ALARM = "sdxl-inf2-prod-surge", "sdxl-inf2-prod-surge"


def config_of(tmp_path: Path, **changes: Any) -> DeployConfig:
    return load_config(write_config(tmp_path, **{**GATEWAY, **changes}))


def input_shape(service: str, operation: str) -> Any:
    return SESSION.get_service_model(service).operation_model(operation).input_shape


def test_on_where_the_gateway_counts_demand(tmp_path: Path) -> None:
    assert load_config(EXAMPLE).surge_enabled  # the example as shipped
    assert config_of(tmp_path).surge_enabled
    assert not load_config(write_config(tmp_path)).surge_enabled  # the container counts: per minute only
    assert not config_of(tmp_path, **{"autoscaling.surge.enabled": False}).surge_enabled
    assert not config_of(tmp_path, **{"autoscaling.usage_rate.requests_from": "container"}).surge_enabled
    assert not config_of(tmp_path, **{"autoscaling.policy": "backlog"}).surge_enabled
    assert not config_of(tmp_path, **{"autoscaling.enabled": False}).surge_enabled


@pytest.mark.parametrize("maximum", [4, 40, 100, 250])
def test_each_band_holds_its_rates_at_the_surge_target(tmp_path: Path, maximum: int) -> None:
    config = config_of(tmp_path, **{"autoscaling.max_capacity": maximum})
    settings, rendered, found = surge.settings(config), throughput(config), surge.bands(config)
    for below, band in zip([None, *found], found, strict=False):
        top = band.upper if band.upper is not None else band.lower * 3
        for count in (band.lower, (band.lower + top) / 2, top - 1e-6):
            needed = rendered.instances_for(count / settings.period_s, settings.target_value)
            assert band.capacity >= min(needed, maximum)  # enough for every rate in it
            if below is not None and count > band.lower:
                assert below.capacity < needed  # and the band below would not be
    assert found[-1].upper is None and found[-1].capacity == maximum


def test_the_capacities_are_geometric_within_the_bounds(tmp_path: Path) -> None:
    config = config_of(tmp_path, **{"autoscaling.max_capacity": 250})
    sizes = surge.capacities(config)
    assert len(sizes) == MAX_STEP_ADJUSTMENTS and sizes == sorted(set(sizes)) and sizes[-1] == 250
    ratio = surge.settings(config).band_ratio  # max_capacity over ratio once per band below the top, rounded up
    assert sizes == [math.ceil(round(250 / ratio**step, 6)) for step in reversed(range(MAX_STEP_ADJUSTMENTS))]
    assert surge.capacities(config_of(tmp_path)) == [1, 2, 3, 4]  # the example's max_capacity 4: one band each
    floor = config_of(tmp_path, **{"autoscaling.max_capacity": 250, "autoscaling.min_capacity": 50})
    assert min(surge.capacities(floor)) == 50 and len(surge.capacities(floor)) < MAX_STEP_ADJUSTMENTS
    assert len(surge.capacities(config_of(tmp_path, **{"autoscaling.surge.bands": 5}))) <= 5


def test_the_requests_are_what_botocore_and_the_step_rules_accept(tmp_path: Path) -> None:
    config = config_of(tmp_path, **{"autoscaling.max_capacity": 250})
    policy, alarm = surge.policy_request(config), surge.alarm_request(config, STEP_POLICY_ARN)
    validate_parameters(policy, input_shape("application-autoscaling", "PutScalingPolicy"))
    validate_parameters(alarm, input_shape("cloudwatch", "PutMetricAlarm"))
    alone = {"Namespace", "MetricName", "Dimensions", "Period", "Statistic", "ExtendedStatistic", "Unit"}
    assert alone.isdisjoint(alarm)  # PutMetricAlarm: with Metrics, none of these
    step = policy["StepScalingPolicyConfiguration"]
    members = input_shape("application-autoscaling", "PutScalingPolicy").members
    enums = members["StepScalingPolicyConfiguration"].members
    assert step["AdjustmentType"] == "ExactCapacity" and step["AdjustmentType"] in enums["AdjustmentType"].enum
    assert step["MetricAggregationType"] in enums["MetricAggregationType"].enum
    adjustments = step["StepAdjustments"]
    assert 1 <= len(adjustments) <= MAX_STEP_ADJUSTMENTS
    # Application Auto Scaling's rules: no gap, no overlap, one open upper bound; above the threshold only
    assert adjustments[0]["MetricIntervalLowerBound"] == 0 and "MetricIntervalUpperBound" not in adjustments[-1]
    for lower, upper in itertools.pairwise(adjustments):
        assert lower["MetricIntervalUpperBound"] == upper["MetricIntervalLowerBound"]
    sizes = [a["ScalingAdjustment"] for a in adjustments]
    assert sizes == surge.capacities(config) and all(size >= 0 for size in sizes)
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == surge.settings(config).datapoints
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == ("GreaterThanOrEqualToThreshold", "notBreaching")
    assert alarm["Threshold"] == pytest.approx(surge.threshold(config), abs=1e-3)
    *stats, watched = alarm["Metrics"]
    assert [q["ReturnData"] for q in alarm["Metrics"]] == [False, False, True] and "Expression" in watched
    (period,) = {q["MetricStat"]["Period"] for q in stats}  # metric math over one period
    assert period == surge.settings(config).period_s and period in metrics.HIGH_RESOLUTION_PERIODS
    read = {q["Id"]: q["MetricStat"] for q in stats}
    demand = usage_rate_metrics(config)[1]["MetricStat"]  # the usage-rate policy's m2, read per period
    assert (read[surge.DEMAND_ID]["Metric"], read[surge.DEMAND_ID]["Stat"]) == (demand["Metric"], demand["Stat"])
    serving = read[surge.SERVING_ID]
    assert (serving["Metric"]["MetricName"], serving["Stat"]) == (metrics.IN_SERVICE_SECONDS, metrics.IN_SERVICE_STAT)
    assert {k: v for k, v in serving["Metric"].items() if k != "MetricName"} == {
        k: v for k, v in demand["Metric"].items() if k != "MetricName"
    }  # the same namespace and dimensions: the container writes it beside the gateway's counts
    compile_expression(watched["Expression"], set(read))  # only the ids above, in the modelled subset
    assert alarm["AlarmActions"] == [STEP_POLICY_ARN]


@pytest.mark.parametrize("gate", [1.0, 2.0])
def test_the_alarm_watches_the_demand_only_where_the_instances_in_service_fall_short(
    tmp_path: Path, gate: float
) -> None:
    config = config_of(tmp_path, **{"autoscaling.max_capacity": 100, "autoscaling.surge.gate": gate})
    expression = compile_expression(surge.gated_expression(config), {surge.DEMAND_ID, surge.SERVING_ID})
    per_instance = throughput(config).per_second() * 10  # images one instance renders in a 10 s period

    def watched(demand: float | None, instances: float | None) -> float | None:
        serving = None if instances is None else instances * 10  # instance-seconds in the period
        return expression.evaluate({surge.DEMAND_ID: demand, surge.SERVING_ID: serving})

    short = gate * 5 * per_instance  # the gate's demand for 5 instances
    assert watched(short, 5) == short and watched(short - 1, 5) == 0  # at the gate, and just under it
    assert watched(short, None) == short  # no instance in service: no heartbeat, any demand passes
    assert watched(None, 5) == 0 and watched(None, None) == 0  # no request: never over the threshold


def usage_rate_expression(config: DeployConfig) -> Any:
    queries = usage_rate_metrics(config)
    return compile_expression(queries[-1]["Expression"], {q["Id"] for q in queries if "MetricStat" in q})


def test_the_usage_rate_hands_over_while_the_surge_has_the_fleet(tmp_path: Path) -> None:
    config = config_of(tmp_path, **{"autoscaling.max_capacity": 100})
    handover, expression = surge.handover(config), usage_rate_expression(config)
    assert handover.demand == pytest.approx(surge.threshold(config) * 60 / 10, abs=1e-3)
    backlog = usage_rate_metrics(config)[2]  # m3: SageMaker's backlog, per endpoint
    assert backlog["Id"] == "m3" and backlog["MetricStat"]["Metric"]["MetricName"] == metrics.BACKLOG_METRIC
    busy, per_minute = handover.demand, 72  # one instance renders 72 images a minute
    assert expression.evaluate({"m1": 1, "m2": busy * 4, "m3": 0}) == 0.75  # short of it: the surge sizes
    fleet = math.ceil(busy * 4 / per_minute / 0.85)  # the surge's fleet in service, at 0.85
    usage = busy * 4 / (fleet * per_minute)
    assert expression.evaluate({"m1": fleet, "m2": busy * 4, "m3": 0}) == pytest.approx(usage)  # no backlog: tracked
    drain = handover.backlog_minutes * fleet * per_minute
    assert expression.evaluate({"m1": fleet, "m2": busy * 4, "m3": drain}) == 0.75  # it drains the spike's backlog
    assert expression.evaluate({"m1": fleet, "m2": busy * 4, "m3": drain * 0.99}) == pytest.approx(usage)
    assert expression.evaluate({"m1": 1, "m2": busy - 1, "m3": 1e6}) == pytest.approx((busy - 1) / 72)  # below
    assert expression.evaluate({"m1": None, "m2": busy, "m3": 0}) is None  # no instance: no datapoint, as before
    plain = config_of(tmp_path, **{"autoscaling.surge.enabled": False})
    assert [q["Id"] for q in usage_rate_metrics(plain)] == ["m1", "m2", "e1"]
    assert usage_rate_expression(plain).evaluate({"m1": 1, "m2": busy * 4}) == pytest.approx(busy * 4 / 72)


def test_a_backlog_the_fleet_cannot_clear_below_the_gate_is_target_trackings(tmp_path: Path) -> None:
    """With a gate above 1, arrivals between the fleet's speed and the gate: the surge does not engage,
    so target tracking must not wait, however long the backlog."""
    config = config_of(tmp_path, **{"autoscaling.max_capacity": 100, "autoscaling.surge.gate": 2.0})
    expression, fleet = usage_rate_expression(config), 20
    over = 1.5 * fleet * 72  # 1.5 x what 20 instances render a minute, above the surge's threshold
    assert over >= surge.handover(config).demand
    assert expression.evaluate({"m1": fleet, "m2": over, "m3": 1e6}) == pytest.approx(1.5)
    assert expression.evaluate({"m1": fleet, "m2": 2 * fleet * 72, "m3": 0}) == 0.75  # at the gate: the surge's


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"gateway.enabled": False, "autoscaling.surge.enabled": True}, ["autoscaling.surge.enabled", "arrival"]),
        ({"autoscaling.surge.enabled": True, "autoscaling.policy": "backlog"}, ["autoscaling.surge.enabled"]),
        ({"autoscaling.surge.period_s": 15}, ["autoscaling.surge.period_s", "10, 20, 30"]),
        ({"autoscaling.surge.bands": 21}, ["autoscaling.surge.bands", "20"]),
        ({"autoscaling.surge.band_ratio": 1}, ["autoscaling.surge.band_ratio"]),
        ({"autoscaling.surge.datapoints": 9000}, ["autoscaling.surge.datapoints", "8640"]),
    ],
)
def test_config_errors_are_one_line(capsys: Capsys, tmp_path: Path, changes: dict[str, Any], words: list[str]) -> None:
    assert_one_line_error(cli(capsys, "plan", str(write_config(tmp_path, **{**GATEWAY, **changes}))), *words)


def policies(aws: Aws) -> dict[str, dict[str, Any]]:
    found = aws.client("application-autoscaling").describe_scaling_policies(ServiceNamespace="sagemaker")
    return {policy["PolicyName"]: policy for policy in found["ScalingPolicies"]}


def alarms(aws: Aws) -> dict[str, dict[str, Any]]:
    return {alarm["AlarmName"]: alarm for alarm in aws.client("cloudwatch").describe_alarms()["MetricAlarms"]}


def test_autoscale_puts_it_and_teardown_removes_it(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    path = write_config(tmp_path, **GATEWAY)
    assert cli(capsys, "autoscale", str(path)).code == 0
    policy = policies(aws)[POLICY]
    assert policy["PolicyType"] == "StepScaling"
    assert policy["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ExactCapacity"
    alarm = alarms(aws)[ALARM]
    periods = {query["MetricStat"]["Period"] for query in alarm["Metrics"] if "MetricStat" in query}
    assert periods and max(periods) <= 30 and alarm["AlarmActions"] == [policy["PolicyARN"]]
    lines = status.scaling_lines(Clients(REGION), load_config(path))
    assert f"  policy {POLICY}: StepScaling" in lines and any(line.startswith("  surge: from ") for line in lines)
    assert any(line.startswith(f"  alarm {ALARM}: ") for line in lines)
    assert cli(capsys, "teardown", str(path)).code == 0
    assert POLICY not in policies(aws) and ALARM not in alarms(aws)


def test_turning_it_off_removes_the_policy_and_its_alarm(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    assert cli(capsys, "autoscale", str(write_config(tmp_path, **GATEWAY))).code == 0
    off = write_config(tmp_path, **{**GATEWAY, "autoscaling.surge.enabled": False})
    assert cli(capsys, "autoscale", str(off)).code == 0
    assert POLICY not in policies(aws) and ALARM not in alarms(aws)
    assert "sdxl-inf2-prod-has-backlog-without-capacity" in alarms(aws)  # the other step policy's stays


def test_plan_lists_the_policy_then_its_alarm(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    calls = [(call.operation, call.params) for call in deploy_calls(config, REGION)]
    position = calls.index(("put_scaling_policy", surge.policy_request(config)))
    assert calls[position + 1] == ("put_metric_alarm", surge.alarm_request(config, STEP_POLICY_ARN))


def test_the_gateway_role_may_publish_what_the_alarm_reads(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    statements = {s["Sid"]: s for s in gateway_role_policy(config, REGION)["Statement"]}
    count = statements["CountDemand"]
    assert count["Action"] == ["cloudwatch:PutMetricData"]
    demand = next(q for q in surge.alarm_metrics(config) if q["Id"] == surge.DEMAND_ID)
    assert demand["MetricStat"]["Metric"]["Namespace"] in count["Condition"]["StringEquals"]["cloudwatch:namespace"]


def test_the_scale_out_cooldown_follows_who_counts(tmp_path: Path) -> None:
    def cooldown(config: DeployConfig) -> int:
        return int(usage_rate_policy(config)["TargetTrackingScalingPolicyConfiguration"]["ScaleOutCooldown"])

    assert cooldown(config_of(tmp_path)) == 600  # demand at arrival: longer than a start and the metric lag
    assert cooldown(load_config(write_config(tmp_path))) == 60  # the container's count cannot overshoot
    assert cooldown(config_of(tmp_path, **{"autoscaling.usage_rate.scale_out_cooldown_s": 90})) == 90
