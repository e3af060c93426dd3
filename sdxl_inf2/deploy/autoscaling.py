"""Autoscaling to and from zero: scalable target, one target-tracking policy, the scale-from-zero
step policy with its HasBacklogWithoutCapacity alarm, and scheduled actions.

Target tracking alone never leaves zero instances (with none running, its metric has no data), so
a step policy adds one instance when the alarm sees queued requests and no capacity. The
target-tracking policy is either the usage-rate metric math (the default, see docs/deploy.md for its
derivation) or AWS's ApproximateBacklogSizePerInstance; switching removes the other one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sdxl_inf2.core import metrics

from . import surge
from .clients import Clients
from .config import DeployConfig
from .errors import DeployConfigError
from .naming import SCALABLE_DIMENSION, SERVICE, alarm_name, policy_name, policy_target, resource_id, surge_alarm_name
from .say import say
from .scaling_config import SCALE_OUT_COOLDOWN_S, Autoscaling, Schedule
from .sizing import demand_metric, throughput

if TYPE_CHECKING:
    from types_boto3_application_autoscaling.type_defs import (
        CustomizedMetricSpecificationTypeDef,
        PutScalingPolicyRequestTypeDef,
        PutScheduledActionRequestTypeDef,
        RegisterScalableTargetRequestTypeDef,
        ScalableTargetActionTypeDef,
        TargetTrackingMetricDataQueryTypeDef,
        TargetTrackingMetricDimensionTypeDef,
        TargetTrackingMetricTypeDef,
    )
    from types_boto3_cloudwatch.type_defs import PutMetricAlarmInputTypeDef

POLICY_KINDS = ("usage-rate", "backlog", "scale-from-zero", surge.KIND)
AlarmRequest = Callable[[str], "PutMetricAlarmInputTypeDef"]  # the alarm that fires a step policy, given its ARN
STEP_POLICY_ARN = "<PolicyARN returned by put_scaling_policy for this step policy>"  # shown by `plan`


def settings(config: DeployConfig) -> Autoscaling:
    if config.autoscaling is None:
        raise DeployConfigError("the config has no autoscaling section")
    return config.autoscaling


def target_request(config: DeployConfig) -> RegisterScalableTargetRequestTypeDef:
    scaling = settings(config)
    return {
        "ServiceNamespace": SERVICE,
        "ResourceId": resource_id(config),
        "ScalableDimension": SCALABLE_DIMENSION,
        "MinCapacity": scaling.min_capacity,
        "MaxCapacity": scaling.max_capacity,
    }


def capacity_expression(instances: str, seconds_per_image: float, workers_per_instance: int) -> str:
    """Images per minute that `instances` (a metric-math id or a number) can render: each worker one
    image per `seconds_per_image`. The policy and the dashboard (dashboard.py) share it."""
    return f"{instances} * 60 / {seconds_per_image:g} * {workers_per_instance}"


def usage_rate_expression(
    seconds_per_image: float, workers_per_instance: int, handover: surge.Handover | None = None
) -> str:
    """Requests per minute over what the live instances can render per minute.

    m1 (instances) * 60 / seconds_per_image * workers = images per minute; m2 = requests that minute.
    With no instance (m1 = 0) the expression yields no datapoint instead of dividing by zero. With
    the surge policy, a minute in which the surge has the fleet (m3, the backlog, tells a spike's
    drain) reads the target itself: target tracking neither adds to the surge's capacity nor takes
    from it (surge.py, `Handover`).
    """
    capacity = capacity_expression("m1", seconds_per_image, workers_per_instance)
    usage = f"m2 / ({capacity})"
    if handover is None:
        return f"IF(m1 != 0, {usage})"
    return f"IF(m1 != 0, IF({handover.condition(capacity)}, {handover.usage:g}, {usage}))"


def usage_rate_metrics(config: DeployConfig) -> list[TargetTrackingMetricDataQueryTypeDef]:
    rendered = throughput(config)
    handover = surge.handover(config) if config.surge_enabled else None
    expression = usage_rate_expression(rendered.seconds_per_image, rendered.workers, handover)
    # m1 is SageMaker's, dimensioned by the real names; m2 the demand count, wherever it is emitted
    dimensions: list[TargetTrackingMetricDimensionTypeDef] = [
        {"Name": metrics.ENDPOINT_DIMENSION, "Value": config.name},
        {"Name": metrics.VARIANT_DIMENSION, "Value": config.variant_name},
    ]
    instances: TargetTrackingMetricTypeDef = {
        "Namespace": metrics.INSTANCE_NAMESPACE,
        "MetricName": metrics.INSTANCE_COUNT_METRIC,
        "Dimensions": dimensions,
    }
    demand = demand_metric(config)
    queries: list[TargetTrackingMetricDataQueryTypeDef] = [
        {"Id": "m1", "MetricStat": {"Metric": instances, "Stat": metrics.INSTANCE_COUNT_STAT}, "ReturnData": False},
        {"Id": "m2", "MetricStat": {"Metric": demand, "Stat": metrics.REQUESTS_STAT}, "ReturnData": False},
    ]
    if handover is not None:  # the handover also reads SageMaker's backlog (EndpointName only)
        backlog: TargetTrackingMetricTypeDef = {
            "Namespace": metrics.SAGEMAKER_NAMESPACE,
            "MetricName": metrics.BACKLOG_METRIC,
            "Dimensions": dimensions[:1],
        }
        queries.append({"Id": "m3", "MetricStat": {"Metric": backlog, "Stat": "Average"}, "ReturnData": False})
    # only the last returns data
    return [*queries, {"Id": "e1", "Expression": expression, "Label": "usage rate", "ReturnData": True}]


def scale_out_cooldown(config: DeployConfig) -> int:
    """The usage-rate policy's: the config's, else the default for whoever counts its demand."""
    asked = settings(config).usage_rate.scale_out_cooldown_s
    return SCALE_OUT_COOLDOWN_S[config.requests_counted_by] if asked is None else asked


def usage_rate_policy(config: DeployConfig) -> PutScalingPolicyRequestTypeDef:
    rate = settings(config).usage_rate
    return {
        **policy_target(config, "usage-rate"),
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "CustomizedMetricSpecification": {"Metrics": usage_rate_metrics(config)},
            "TargetValue": rate.target_value,
            "ScaleOutCooldown": scale_out_cooldown(config),
            "ScaleInCooldown": rate.scale_in_cooldown_s,
            "DisableScaleIn": False,
        },
    }


def backlog_policy(config: DeployConfig) -> PutScalingPolicyRequestTypeDef:
    backlog = settings(config).backlog
    metric: CustomizedMetricSpecificationTypeDef = {
        "MetricName": metrics.BACKLOG_PER_INSTANCE_METRIC,
        "Namespace": metrics.SAGEMAKER_NAMESPACE,
        "Dimensions": [{"Name": metrics.ENDPOINT_DIMENSION, "Value": config.name}],
        "Statistic": "Average",
    }
    return {
        **policy_target(config, "backlog"),
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "CustomizedMetricSpecification": metric,
            "TargetValue": backlog.target_value,
            "ScaleOutCooldown": backlog.scale_out_cooldown_s,
            "ScaleInCooldown": backlog.scale_in_cooldown_s,
        },
    }


def step_policy(config: DeployConfig) -> PutScalingPolicyRequestTypeDef:
    return {
        **policy_target(config, "scale-from-zero"),
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {
            "AdjustmentType": "ChangeInCapacity",
            "MetricAggregationType": "Average",
            "Cooldown": settings(config).scale_from_zero.cooldown_s,
            # From the alarm threshold (1) upwards: add one instance.
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
    }


def alarm_request(config: DeployConfig, step_policy_arn: str) -> PutMetricAlarmInputTypeDef:
    """Two one-minute datapoints of queued requests with zero instances fire the step policy."""
    return {
        "AlarmName": alarm_name(config),
        "AlarmDescription": f"Scale {config.name} out from zero when requests wait with no instance",
        "Namespace": metrics.SAGEMAKER_NAMESPACE,
        "MetricName": metrics.BACKLOG_WITHOUT_CAPACITY_METRIC,
        "Dimensions": [{"Name": metrics.ENDPOINT_DIMENSION, "Value": config.name}],
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 2,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "missing",
        "AlarmActions": [step_policy_arn],
    }


def schedule_requests(config: DeployConfig) -> list[PutScheduledActionRequestTypeDef]:
    return [_schedule_request(config, schedule) for schedule in settings(config).schedules]


def _schedule_request(config: DeployConfig, schedule: Schedule) -> PutScheduledActionRequestTypeDef:
    request: PutScheduledActionRequestTypeDef = {
        "ServiceNamespace": SERVICE,
        "ScheduledActionName": policy_name(config, schedule.name),
        "ResourceId": resource_id(config),
        "ScalableDimension": SCALABLE_DIMENSION,
        "Schedule": schedule.schedule,
        "ScalableTargetAction": _capacity(schedule),
    }
    if schedule.timezone:
        request["Timezone"] = schedule.timezone
    if schedule.start_time:
        request["StartTime"] = schedule.start_time
    if schedule.end_time:
        request["EndTime"] = schedule.end_time
    return request


def _capacity(schedule: Schedule) -> ScalableTargetActionTypeDef:
    action: ScalableTargetActionTypeDef = {}
    if schedule.min_capacity is not None:
        action["MinCapacity"] = schedule.min_capacity
    if schedule.max_capacity is not None:
        action["MaxCapacity"] = schedule.max_capacity
    return action


def target_tracking_policy(config: DeployConfig) -> PutScalingPolicyRequestTypeDef:
    return usage_rate_policy(config) if settings(config).policy == "usage-rate" else backlog_policy(config)


def apply(clients: Clients, config: DeployConfig) -> None:
    """Registers the target and puts every policy, alarm and schedule; removes ones no longer configured."""
    target = target_request(config)
    clients.autoscaling.register_scalable_target(**target)
    say(f"scalable target {target['ResourceId']}: min {target['MinCapacity']}, max {target['MaxCapacity']}")
    policies = _put_policies(clients, config)
    schedules = schedule_requests(config)
    for schedule in schedules:
        clients.autoscaling.put_scheduled_action(**schedule)
    _prune(clients, config, policies, {s["ScheduledActionName"] for s in schedules})


def step_policies(config: DeployConfig) -> list[tuple[PutScalingPolicyRequestTypeDef, AlarmRequest]]:
    """The step policies the config asks for, each with the alarm request that fires it (given its ARN)."""
    found: list[tuple[PutScalingPolicyRequestTypeDef, AlarmRequest]] = []
    if settings(config).scale_from_zero.enabled:
        found.append((step_policy(config), lambda arn: alarm_request(config, arn)))
    if config.surge_enabled:
        found.append((surge.policy_request(config), lambda arn: surge.alarm_request(config, arn)))
    return found


def every_alarm_name(config: DeployConfig) -> list[str]:
    """Every alarm deploy may have created under a name of its own, configured now or not (teardown, prune)."""
    return [alarm_name(config), surge_alarm_name(config)]


def owned_alarm_names(config: DeployConfig) -> list[str]:
    """The alarms deploy creates under names of its own (the managed target-tracking ones are found)."""
    if not config.scaling_enabled:
        return []
    return [alarm(STEP_POLICY_ARN)["AlarmName"] for _, alarm in step_policies(config)]


def _put_policies(clients: Clients, config: DeployConfig) -> set[str]:
    """The target-tracking policy, and each step policy with the alarm that fires it; returns their names."""
    wanted = [target_tracking_policy(config)]
    clients.autoscaling.put_scaling_policy(**wanted[0])
    for policy, alarm in step_policies(config):
        arn = clients.autoscaling.put_scaling_policy(**policy)["PolicyARN"]
        clients.cloudwatch.put_metric_alarm(**alarm(arn))
        wanted.append(policy)
    say(f"policies: {', '.join(p['PolicyName'] for p in wanted)}")
    return {p["PolicyName"] for p in wanted}


def _prune(clients: Clients, config: DeployConfig, policies: set[str], schedules: set[str]) -> None:
    ours = {policy_name(config, kind) for kind in POLICY_KINDS}
    for name in sorted((ours & set(_policy_names(clients, config))) - policies):
        _delete_policy(clients, config, name)
    unwanted = set(every_alarm_name(config)) - set(owned_alarm_names(config))
    if unwanted:
        clients.cloudwatch.delete_alarms(AlarmNames=sorted(unwanted))
    for name in sorted(set(_schedule_names(clients, config)) - schedules):
        _delete_schedule(clients, config, name)


def remove(clients: Clients, config: DeployConfig) -> None:
    """Alarms, policies, schedules, then the scalable target: the reverse of `apply`."""
    clients.cloudwatch.delete_alarms(AlarmNames=every_alarm_name(config))
    for name in _policy_names(clients, config):
        _delete_policy(clients, config, name)
    for name in _schedule_names(clients, config):
        _delete_schedule(clients, config, name)
    if _target_registered(clients, config):
        clients.autoscaling.deregister_scalable_target(
            ServiceNamespace=SERVICE, ResourceId=resource_id(config), ScalableDimension=SCALABLE_DIMENSION
        )
        say(f"scalable target {resource_id(config)}: deregistered")


def _policy_names(clients: Clients, config: DeployConfig) -> list[str]:
    pages = clients.autoscaling.get_paginator("describe_scaling_policies").paginate(
        ServiceNamespace=SERVICE, ResourceId=resource_id(config), ScalableDimension=SCALABLE_DIMENSION
    )
    return [policy["PolicyName"] for page in pages for policy in page["ScalingPolicies"]]


def _schedule_names(clients: Clients, config: DeployConfig) -> list[str]:
    """Scheduled actions on this variant that this tool named (others are left alone)."""
    pages = clients.autoscaling.get_paginator("describe_scheduled_actions").paginate(
        ServiceNamespace=SERVICE, ResourceId=resource_id(config), ScalableDimension=SCALABLE_DIMENSION
    )
    names = [action["ScheduledActionName"] for page in pages for action in page["ScheduledActions"]]
    return [name for name in names if name.startswith(f"{config.name}-")]


def _target_registered(clients: Clients, config: DeployConfig) -> bool:
    found = clients.autoscaling.describe_scalable_targets(
        ServiceNamespace=SERVICE, ResourceIds=[resource_id(config)], ScalableDimension=SCALABLE_DIMENSION
    )
    return bool(found["ScalableTargets"])


def _delete_policy(clients: Clients, config: DeployConfig, name: str) -> None:
    clients.autoscaling.delete_scaling_policy(
        PolicyName=name, ServiceNamespace=SERVICE, ResourceId=resource_id(config), ScalableDimension=SCALABLE_DIMENSION
    )
    say(f"policy {name}: deleted")


def _delete_schedule(clients: Clients, config: DeployConfig, name: str) -> None:
    clients.autoscaling.delete_scheduled_action(
        ServiceNamespace=SERVICE,
        ScheduledActionName=name,
        ResourceId=resource_id(config),
        ScalableDimension=SCALABLE_DIMENSION,
    )
    say(f"scheduled action {name}: deleted")
