"""The surge policy: a step scaling policy that sizes the fleet for a spike within seconds of its start.

Target tracking acts on one-minute datapoints after three of them (its managed alarm); a custom or
metric-math target-tracking policy has no shorter period (TargetTrackingMetricStat has none). Step
scaling acts on any alarm. The gateway stores the demand it counts at arrival at high resolution
(core/metrics.py HIGH_RESOLUTION), and each instance its heartbeat (IN_SERVICE_SECONDS, 1 a second
while its workers are ready), so an alarm can read both every 10, 20 or 30 s:

- the alarm: metric math per `period_s` (every metric of an alarm's math at the alarm's period:
  SageMaker's instance count is per minute only, hence the heartbeat). It watches the demand count's
  Sum where it is at least `gate` times what the instances in service render in the period at full
  speed (the gate: a spike, not the growth target tracking follows), else 0; with no instance there
  is no heartbeat, FILL makes it 0, and any demand passes. In ALARM at or above the threshold in
  `datapoints` of `datapoints`; a period with no request is no surge (notBreaching);
- the policy: ExactCapacity, one step adjustment per band, aggregated with Minimum (the smallest of
  those datapoints: one burst of requests neither starts a surge nor enlarges one). Band k covers the
  arrival rates that need more than capacity k-1 and at most capacity k at the surge's
  `target_value`, ceil(rate x seconds_per_image / (workers x target)), and sets capacity k. The
  capacities are geometric from max_capacity down (`band_ratio`, at most `bands`, never below
  min_capacity or 1); the threshold is the rate one band below the lowest. The first jump is sized
  for the whole spike: SageMaker refuses a new capacity while the endpoint is Updating.
- the handover (`Handover`): while the surge has the fleet (short of the demand by the gate, or
  draining the backlog a spike built), the usage-rate policy's metric reads its own target, so
  target tracking neither adds to the surge's capacity nor takes from it; otherwise it works as
  before, and it alone scales in once a spike is over.

The surge cannot take capacity down while a spike's backlog remains: ExactCapacity below the
current capacity is a scale-in, and a step policy's scale-in "is blocked until the cooldown period
has expired" (Application Auto Scaling User Guide, step scaling); `cooldown_s` outlasts a launch and
the heartbeat's lag, while the gate still sees the old fleet, and once the instances are in service
the gate is shut and the policy does nothing. It also ends before target tracking can scale in after
a spike, so a second spike finds the surge free to set its band again. The simulator checks both
(docs/simulator.md, "choosing a policy", where the defaults come from).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sdxl_inf2.core import metrics

from .config import DeployConfig
from .naming import policy_target, surge_alarm_name
from .scaling_config import Surge
from .sizing import EPSILON, demand_metric, in_service_metric, throughput

if TYPE_CHECKING:
    from types_boto3_application_autoscaling.type_defs import PutScalingPolicyRequestTypeDef, StepAdjustmentTypeDef
    from types_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef, MetricStatTypeDef, PutMetricAlarmInputTypeDef

KIND: Final = "surge"  # the policy's name is "<name>-surge", and so is its alarm's
DEMAND_ID, SERVING_ID = "demand", "serving"  # the alarm's metric ids: the demand count, the heartbeat


@dataclass(frozen=True)
class Band:
    lower: float  # requests per alarm period, inclusive
    upper: float | None  # exclusive; None: no upper bound
    capacity: int  # the ExactCapacity it sets


@dataclass(frozen=True)
class Handover:
    """Where the usage-rate policy hands capacity to the surge: in a minute whose demand (m2) reaches
    the surge's threshold (`demand`, per minute), while the instances in service (m1) are short of it
    by the gate or drain the backlog (m3) a spike left, the policy's metric reads its own target
    (`usage`), so target tracking neither scales out nor in; otherwise it works as before. Target
    tracking computes a new capacity from m1 (CPUUtilization's SampleCount, a minute late) and from
    arrivals only: at the end of a launch the surge started it still reads the old fleet and would ask
    for capacity x demand / that fleet, up to max_capacity; and while the spike's backlog drains at
    the surge's target it would add capacity for its own lower one. See `condition`."""

    demand: float  # the surge's threshold, per minute
    gate: float  # the surge's gate
    backlog_minutes: float  # a backlog that long at full speed is a spike's
    usage: float  # the usage-rate policy's target

    def condition(self, capacity: str) -> str:
        """Metric math, true where target tracking waits; `capacity` is what m1 renders per minute.
        Short: the arrivals are `gate` times that or more (the surge's own gate, per minute). Draining:
        the backlog holds `backlog_minutes` of that and the arrivals are below it, so the fleet keeps
        clearing it. A backlog the fleet cannot clear (arrivals above its capacity, below the gate)
        is target tracking's again, as is every minute below the surge's threshold."""
        short = f"m2 >= {self.gate:g} * ({capacity})"
        draining = f"m3 >= {self.backlog_minutes:g} * ({capacity}) AND m2 < {capacity}"
        return f"m2 >= {self.demand:g} AND ({short} OR ({draining}))"


def settings(config: DeployConfig) -> Surge:
    return config.autoscaling.surge if config.autoscaling else Surge()


def capacities(config: DeployConfig) -> list[int]:
    """Each band's capacity, lowest first: max_capacity divided by band_ratio once per band below the top,
    rounded up, distinct, and at least min_capacity and 1."""
    scaling, surge = config.autoscaling, settings(config)
    assert scaling is not None, "the surge policy belongs to an autoscaling section"
    floor = max(1, scaling.min_capacity)
    top, ratio = scaling.max_capacity, surge.band_ratio
    return sorted({max(floor, math.ceil(top / ratio**step - EPSILON)) for step in range(surge.bands)})


def bands(config: DeployConfig) -> list[Band]:
    """The bands in requests per alarm period: band k from what capacity k-1 holds at the surge's
    target (the threshold for the lowest: one band_ratio below it) up to what capacity k holds."""
    scaling = config.autoscaling
    assert scaling is not None, "the surge policy belongs to an autoscaling section"
    surge, sizes = settings(config), capacities(config)
    per_instance = throughput(config).per_second() * surge.target_value * surge.period_s
    edges = [sizes[0] / surge.band_ratio, *sizes[:-1]]
    found = [Band(low * per_instance, high * per_instance, high) for low, high in zip(edges, sizes, strict=True)]
    return [*found[:-1], Band(found[-1].lower, None, found[-1].capacity)]


def threshold(config: DeployConfig) -> float:
    """Requests per alarm period at which the surge starts: the lowest band's lower edge."""
    return bands(config)[0].lower


def policy_request(config: DeployConfig) -> PutScalingPolicyRequestTypeDef:
    start = threshold(config)
    steps: list[StepAdjustmentTypeDef] = []
    for band in bands(config):  # bounds relative to the alarm's threshold, as StepAdjustment takes them
        step: StepAdjustmentTypeDef = {
            "MetricIntervalLowerBound": _bound(band.lower - start),
            "ScalingAdjustment": band.capacity,
        }
        if band.upper is not None:
            step["MetricIntervalUpperBound"] = _bound(band.upper - start)
        steps.append(step)
    return {
        **policy_target(config, KIND),
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {
            "AdjustmentType": "ExactCapacity",
            # the smallest of the datapoints that put the alarm in ALARM: one burst of requests neither
            # starts a surge nor enlarges one (the alarm needs `datapoints` of `datapoints` above it)
            "MetricAggregationType": "Minimum",
            "Cooldown": settings(config).cooldown_s,
            "StepAdjustments": steps,
        },
    }


def _bound(requests: float) -> float:
    """A band edge as written to AWS: rounded to thousandths of a request (no 7.199999999999999)."""
    return round(requests, 3)


def alarm_request(config: DeployConfig, policy_arn: str) -> PutMetricAlarmInputTypeDef:
    surge = settings(config)
    return {
        "AlarmName": surge_alarm_name(config),
        "AlarmDescription": (
            f"Size {config.name} for a spike: demand counted at arrival per {surge.period_s} s, while it is "
            f"{surge.gate:g} x what the instances in service render or more (high resolution)"
        ),
        "Metrics": alarm_metrics(config),
        "EvaluationPeriods": surge.datapoints,
        "DatapointsToAlarm": surge.datapoints,
        "Threshold": _bound(threshold(config)),
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [policy_arn],
    }


def alarm_metrics(config: DeployConfig) -> list[MetricDataQueryTypeDef]:
    """The demand count and the heartbeat per period, and the gated demand the alarm watches."""
    period = settings(config).period_s
    demand: MetricStatTypeDef = {"Metric": demand_metric(config), "Period": period, "Stat": metrics.REQUESTS_STAT}
    alive: MetricStatTypeDef = {"Metric": in_service_metric(config), "Period": period, "Stat": metrics.IN_SERVICE_STAT}
    return [
        {"Id": DEMAND_ID, "MetricStat": demand, "ReturnData": False},
        {"Id": SERVING_ID, "MetricStat": alive, "ReturnData": False},
        {"Id": "surge", "Expression": gated_expression(config), "Label": "demand at a surge", "ReturnData": True},
    ]


def gated_expression(config: DeployConfig) -> str:
    """The demand of a period where it reaches the gate, else 0. With no instance there is no
    heartbeat: FILL makes it 0, so the surge also starts from zero."""
    return f"IF({DEMAND_ID} >= {gate_expression(config, SERVING_ID)}, {DEMAND_ID}, 0)"


def gate_expression(config: DeployConfig, serving: str) -> str:
    """Requests in a period at which the surge engages: `gate` times what the instances in service
    render in it at full speed (their heartbeat's instance-seconds x workers / seconds per image).
    The alarm and the dashboard share it."""
    rendered, gate = throughput(config), settings(config).gate
    return f"{gate:g} * FILL({serving}, 0) * {rendered.workers} / {rendered.seconds_per_image:g}"


def handover(config: DeployConfig) -> Handover:
    scaling = config.autoscaling
    assert scaling is not None, "the surge policy belongs to an autoscaling section"
    surge = settings(config)
    per_minute = threshold(config) * 60 / surge.period_s
    return Handover(round(per_minute, 3), surge.gate, surge.backlog_minutes, scaling.usage_rate.target_value)
