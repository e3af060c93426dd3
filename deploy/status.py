"""`status`: the endpoint, its variants' instance counts, the async backlog, scaling policies and alarms."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from . import metrics
from .autoscaling import SERVICE
from .clients import Clients
from .config import DeployConfig
from .endpoint import describe_endpoint, endpoint_summary
from .errors import NotDeployed
from .naming import SCALABLE_DIMENSION, alarm_name, resource_id

if TYPE_CHECKING:
    from types_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef, MetricStatTypeDef, MetricTypeDef

BACKLOG_METRICS = (
    metrics.BACKLOG_METRIC,
    metrics.BACKLOG_PER_INSTANCE_METRIC,
    metrics.OLDEST_REQUEST_AGE_METRIC,
    metrics.BACKLOG_WITHOUT_CAPACITY_METRIC,
)


def status_lines(clients: Clients, config: DeployConfig) -> list[str]:
    return [*endpoint_lines(clients, config), *backlog_lines(clients, config), *scaling_lines(clients, config)]


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
        StartTime=end - timedelta(minutes=15),
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
    return lines + _alarm_lines(clients, config)


def _alarm_lines(clients: Clients, config: DeployConfig) -> list[str]:
    alarms = clients.cloudwatch.describe_alarms(AlarmNames=[alarm_name(config)])["MetricAlarms"]
    return [
        f"  alarm {a['AlarmName']}: {a.get('StateValue', '?')} -> {', '.join(a.get('AlarmActions', []))}"
        for a in alarms
    ]
