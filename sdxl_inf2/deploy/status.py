"""`status`: the endpoint, its variants' instance counts, the async backlog, scaling policies and alarms,
and the dashboard's console URL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, cast

from sdxl_inf2.core import metrics

from . import dashboard, surge
from .autoscaling import every_alarm_name, usage_rate_metrics
from .clients import Clients
from .config import DeployConfig
from .endpoint import describe_endpoint, endpoint_summary
from .errors import NotDeployed
from .naming import SCALABLE_DIMENSION, SERVICE, resource_id

if TYPE_CHECKING:
    from types_boto3_application_autoscaling.type_defs import TargetTrackingMetricDataQueryTypeDef
    from types_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef, MetricStatTypeDef, MetricTypeDef

BACKLOG_METRICS = (
    metrics.BACKLOG_METRIC,
    metrics.BACKLOG_PER_INSTANCE_METRIC,
    metrics.OLDEST_REQUEST_AGE_METRIC,
    metrics.BACKLOG_WITHOUT_CAPACITY_METRIC,
)


WINDOW = timedelta(minutes=15)


def status_lines(clients: Clients, config: DeployConfig) -> list[str]:
    lines = [*endpoint_lines(clients, config), *backlog_lines(clients, config)]
    if config.autoscaling is not None and config.autoscaling.policy == "usage-rate":
        lines += usage_rate_lines(clients, config)
    return lines + scaling_lines(clients, config) + dashboard.status_lines(clients, config)


def endpoint_lines(clients: Clients, config: DeployConfig) -> list[str]:
    endpoint = describe_endpoint(clients.sagemaker, config.name)
    if endpoint is None:
        raise NotDeployed(f"endpoint {config.name} does not exist (region {clients.region})")
    lines = [f"endpoint {config.name}: {endpoint_summary(endpoint)}", f"  release: {endpoint['EndpointConfigName']}"]
    if endpoint.get("FailureReason"):
        lines.append(f"  failure: {endpoint['FailureReason']}")
    for variant in endpoint.get("ProductionVariants", []):
        current, desired = variant.get("CurrentInstanceCount", 0), variant.get("DesiredInstanceCount", 0)
        lines.append(f"  variant {variant['VariantName']}: {current} running, {desired} desired")
    return lines


def backlog_lines(clients: Clients, config: DeployConfig) -> list[str]:
    """The latest one-minute value of each async queue metric over the last 15 minutes."""
    end = datetime.now(timezone.utc)  # noqa: UP017 - datetime.UTC needs 3.11; the project supports 3.10
    answer = clients.cloudwatch.get_metric_data(
        MetricDataQueries=[_query(index, name, config) for index, name in enumerate(BACKLOG_METRICS)],
        StartTime=end - WINDOW,
        EndTime=end,
        ScanBy="TimestampDescending",
    )
    values = {result["Label"]: result.get("Values", []) for result in answer["MetricDataResults"]}
    return ["backlog (last 15 min):"] + [
        f"  {name}: {values[name][0]:g}" if values.get(name) else f"  {name}: no data" for name in BACKLOG_METRICS
    ]


def _query(index: int, name: str, config: DeployConfig) -> MetricDataQueryTypeDef:
    metric: MetricTypeDef = {
        "Namespace": metrics.SAGEMAKER_NAMESPACE,
        "MetricName": name,
        "Dimensions": [{"Name": metrics.ENDPOINT_DIMENSION, "Value": config.name}],
    }
    stat: MetricStatTypeDef = {"Metric": metric, "Period": 60, "Stat": "Average"}
    return {"Id": f"m{index}", "Label": name, "MetricStat": stat}


def usage_rate_lines(clients: Clients, config: DeployConfig) -> list[str]:
    """The usage-rate policy's value in the latest minute that has one. CloudWatch evaluates the
    policy's metric math; moto stores it and returns no values, so this fetches the policy's own
    metric queries per minute and evaluates its own expression with CloudWatch's
    metric-math rules (deploy/metric_math.py, missing data included), the simulator's too."""
    from .metric_math import compile_expression

    queries = usage_rate_metrics(config)
    stats = [q for q in queries if "MetricStat" in q]
    text = next(q["Expression"] for q in queries if "Expression" in q)
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)  # noqa: UP017
    answer = clients.cloudwatch.get_metric_data(
        MetricDataQueries=[_per_minute(query) for query in stats],
        StartTime=end - WINDOW,
        EndTime=end,
    )
    series = {r["Id"]: dict(zip(r["Timestamps"], r["Values"], strict=True)) for r in answer["MetricDataResults"]}
    expression = compile_expression(text, set(series))
    minutes = sorted(set().union(*series.values()), reverse=True)
    values = ((t, expression.evaluate({name: s.get(t) for name, s in series.items()})) for t in minutes)
    latest = next(((t, v) for t, v in values if v is not None), None)
    target = config.autoscaling.usage_rate.target_value if config.autoscaling else 0
    title = f"usage rate (target {target:g}, last 15 min):"
    if latest is None:
        return [title, "  no data (no minute with a live instance)"]
    minute, value = latest
    inputs = ", ".join(f"{name} {_shown(series[name].get(minute))}" for name in sorted(series))
    return [title, f"  {value:.4g} at {minute:%H:%M} UTC ({inputs}; {text})"]


def _shown(value: float | None) -> str:
    return "no data" if value is None else f"{value:g}"


def _per_minute(query: TargetTrackingMetricDataQueryTypeDef) -> MetricDataQueryTypeDef:
    """A policy's metric query as a GetMetricData query of one-minute datapoints (the policy's own
    stats carry no period: Application Auto Scaling evaluates them per minute)."""
    stat = query["MetricStat"]
    metric = cast("MetricTypeDef", dict(stat["Metric"]))
    return {"Id": query["Id"], "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat["Stat"]}}


def scaling_lines(clients: Clients, config: DeployConfig) -> list[str]:
    aas, resource = clients.autoscaling, resource_id(config)
    targets = aas.describe_scalable_targets(
        ServiceNamespace=SERVICE, ResourceIds=[resource], ScalableDimension=SCALABLE_DIMENSION
    )["ScalableTargets"]
    if not targets:
        return ["autoscaling: not configured"]
    lines = [f"autoscaling: min {targets[0]['MinCapacity']}, max {targets[0]['MaxCapacity']}"]
    policies = aas.describe_scaling_policies(ServiceNamespace=SERVICE, ResourceId=resource)["ScalingPolicies"]
    for policy in policies:
        lines.append(f"  policy {policy['PolicyName']}: {policy['PolicyType']}")
    actions = aas.describe_scheduled_actions(ServiceNamespace=SERVICE, ResourceId=resource)["ScheduledActions"]
    for action in actions:
        tz = action.get("Timezone", "UTC")
        lines.append(f"  schedule {action['ScheduledActionName']}: {action['Schedule']} ({tz})")
    return lines + _surge_lines(config) + _alarm_lines(clients, config)


def _surge_lines(config: DeployConfig) -> list[str]:
    """What the config's surge bands are (the policy stores them as bounds relative to its threshold)."""
    if not config.surge_enabled:
        return []
    found, settings = surge.bands(config), surge.settings(config)
    sizes = ", ".join(str(band.capacity) for band in found)
    start = f"from {found[0].lower:g} requests per {settings.period_s} s"
    gate = f"{settings.gate:g} x what the instances in service render or more"
    return [f"  surge: {start}, where they are {gate}; {len(found)} bands of instances: {sizes}"]


def _alarm_lines(clients: Clients, config: DeployConfig) -> list[str]:
    alarms = clients.cloudwatch.describe_alarms(AlarmNames=every_alarm_name(config))["MetricAlarms"]
    return [
        f"  alarm {a['AlarmName']}: {a.get('StateValue', '?')} -> {', '.join(a.get('AlarmActions', []))}"
        for a in alarms
    ]
