"""Target tracking, the scale-from-zero step policy and scheduled actions, read from deploy's requests.

Every number (target, cooldowns, metric queries, the expression, the alarm's settings) comes from
the request dicts that deploy/autoscaling.py builds and `deploy`/`autoscale` send; nothing here
restates them. Behaviour (Application Auto Scaling User Guide, target tracking and step scaling):

- target tracking owns two alarms on its metric: high (above the target for 3 of 3 minutes) and
  low (below 90% of the target for 15 of 15); while one is in ALARM the policy is invoked every
  minute and asks for ceil(capacity x metric / target) from the latest datapoint;
- scale-out cooldown: during it, capacity added by the last scale-out counts toward the next one,
  so only a higher metric scales out further; scale-in cooldown: no scale-in; a scale-out is never
  held by the scale-in cooldown; no scale-in while the low alarm lacks data;
- from zero capacity target tracking computes with one instance (SageMaker's guide: without the
  step policy an async endpoint leaves zero once the backlog exceeds the target value); with the
  usage rate it never gets a datapoint at zero (the expression's IF), so only the step policy acts;
- a step policy is invoked while its alarm is in ALARM (every minute, or every period of a
  high-resolution alarm); it aggregates the alarm's recent datapoints (its MetricAggregationType over
  the last EvaluationPeriods) and picks the step whose bounds, relative to the threshold, hold the
  result. ChangeInCapacity adds the step (during the cooldown to the capacity before the last
  activity, so a repeat adds nothing); ExactCapacity sets it. During the cooldown a step policy
  scales out only to more than is there, and never in: "scale-in activities are blocked until the
  cooldown period has expired" (Application Auto Scaling User Guide, step scaling). That a policy
  which scaled out is held by the same cooldown before its first scale-in is an assumption: the
  guide describes scale-out and scale-in policies, not one ExactCapacity policy doing both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .capacity import Proposal
from .cloudwatch import Alarm, Metrics, Query, State, metric_math, single_metric
from .errors import SimulationError

EPSILON = 1e-9  # keeps ceil(4 * 0.75 / 0.75) at 4 despite floating point


@dataclass(frozen=True)
class AlarmShape:
    """The managed alarms' shape (not in the policy request: Application Auto Scaling creates them)."""

    high_minutes: int = 3
    low_minutes: int = 15
    low_ratio: float = 0.9


@dataclass
class Cooldown:
    seconds: float
    since: float | None = None
    capacity_before: int = 0

    def active(self, now: float) -> bool:
        return self.since is not None and now - self.since < self.seconds

    def start(self, now: float, capacity_before: int) -> None:
        if not self.active(now):
            self.capacity_before = capacity_before
        self.since = now


def proportional(capacity: int, metric: float, target: float) -> int:
    return max(0, math.ceil(capacity * metric / target - EPSILON))


@dataclass
class TargetTracking:
    name: str
    target: float
    high: Alarm
    low: Alarm
    scale_out: Cooldown
    scale_in: Cooldown
    scale_in_enabled: bool

    def propose(self, now: float, current: int) -> Proposal | None:
        if self.high.state(now) is State.ALARM:
            metric = self.high.latest_value(now)
            base = self.scale_out.capacity_before if self.scale_out.active(now) else current
            wanted = proportional(max(base, 1), metric or 0.0, self.target)
            return Proposal(wanted, self.name) if wanted > current else None
        if self.scale_in_enabled and not self.scale_in.active(now) and self.low.state(now) is State.ALARM:
            wanted = proportional(current, self.low.latest_value(now) or 0.0, self.target)
            return Proposal(wanted, self.name) if wanted < current else None
        return None

    def applied(self, now: float, before: int, after: int) -> None:
        if after > before:
            self.scale_out.start(now, before)
            self.scale_in.since = None  # a scale-out ends the scale-in cooldown
        else:
            self.scale_in.start(now, before)


AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "Average": lambda values: sum(values) / len(values),
    "Minimum": min,
    "Maximum": max,
}


@dataclass
class StepScaling:
    name: str
    alarm: Alarm
    steps: list[tuple[float, float, int]]  # lower, upper bound on (metric - threshold), adjustment
    cooldown: Cooldown
    exact: bool = False  # ExactCapacity (else ChangeInCapacity)
    aggregation: str = "Average"  # MetricAggregationType
    last_set: int = 0  # the capacity its last activity set

    def propose(self, now: float, current: int) -> Proposal | None:
        if self.alarm.state(now) is not State.ALARM:
            return None
        values = self.alarm.recent_values(now)
        excess = (AGGREGATIONS[self.aggregation](values) if values else 0.0) - self.alarm.threshold
        adjustment = next((step for low, high, step in self.steps if low <= excess < high), None)
        if adjustment is None:  # outside every step: no scaling
            return None
        cooling = self.cooldown.active(now)
        if self.exact:  # in the cooldown only a larger scale-out than the last one, no scale-in
            wanted = adjustment
            blocked = cooling and (wanted < current or wanted <= self.last_set)
        else:
            wanted = (self.cooldown.capacity_before if cooling else current) + adjustment
            blocked = wanted < current
        return Proposal(wanted, self.name) if wanted != current and not blocked else None

    def applied(self, now: float, before: int, after: int) -> None:
        self.cooldown.start(now, before)
        self.last_set = after


Policy = TargetTracking | StepScaling


def target_tracking(request: Mapping[str, Any], metrics: Metrics, shape: AlarmShape) -> TargetTracking:
    """A TargetTrackingScaling PutScalingPolicy request -> the simulated policy and its two alarms."""
    config = request["TargetTrackingScalingPolicyConfiguration"]
    query = _query(config["CustomizedMetricSpecification"], metrics)
    target = float(config["TargetValue"])
    return TargetTracking(
        name=request["PolicyName"],
        target=target,
        high=Alarm(query, target, "GreaterThanThreshold", shape.high_minutes, shape.high_minutes),
        low=Alarm(query, target * shape.low_ratio, "LessThanThreshold", shape.low_minutes, shape.low_minutes),
        scale_out=Cooldown(float(config.get("ScaleOutCooldown", 300))),
        scale_in=Cooldown(float(config.get("ScaleInCooldown", 300))),
        scale_in_enabled=not config.get("DisableScaleIn", False),
    )


def _query(spec: Mapping[str, Any], metrics: Metrics) -> Query:
    if "Metrics" in spec:
        return metric_math(metrics, spec["Metrics"])
    return single_metric(metrics, (spec["Namespace"], spec["MetricName"], spec["Statistic"]))


def alarm_query(alarm_request: Mapping[str, Any], metrics: Metrics) -> Query:
    """What a PutMetricAlarm request watches: metric math over its `Metrics`, or its one metric."""
    if "Metrics" in alarm_request:
        return metric_math(metrics, alarm_request["Metrics"])
    key = (alarm_request["Namespace"], alarm_request["MetricName"], alarm_request["Statistic"])
    return single_metric(metrics, key, float(alarm_request["Period"]))


def step_scaling(request: Mapping[str, Any], alarm_request: Mapping[str, Any], metrics: Metrics) -> StepScaling:
    """The StepScaling policy request and the PutMetricAlarm request whose action fires it."""
    config = request["StepScalingPolicyConfiguration"]
    adjustment_type = config.get("AdjustmentType")
    if adjustment_type not in ("ChangeInCapacity", "ExactCapacity"):
        raise SimulationError(f"step policy AdjustmentType {adjustment_type} is not modelled")
    aggregation = config.get("MetricAggregationType", "Average")
    alarm = Alarm(
        alarm_query(alarm_request, metrics),
        float(alarm_request["Threshold"]),
        alarm_request["ComparisonOperator"],
        int(alarm_request["EvaluationPeriods"]),
        int(alarm_request.get("DatapointsToAlarm", alarm_request["EvaluationPeriods"])),
        alarm_request.get("TreatMissingData", "missing"),
    )
    steps = [
        (
            float(step.get("MetricIntervalLowerBound", -math.inf)),
            float(step.get("MetricIntervalUpperBound", math.inf)),
            int(step["ScalingAdjustment"]),
        )
        for step in config["StepAdjustments"]
    ]
    cooldown = Cooldown(float(config.get("Cooldown", 300)))
    return StepScaling(request["PolicyName"], alarm, steps, cooldown, adjustment_type == "ExactCapacity", aggregation)
