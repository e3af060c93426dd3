"""What one run simulates: the fleet's constants, how CloudWatch is observed, the workload, the policies.

The policies are the requests deploy/autoscaling.py and deploy/surge.py build from the deployment
config (the same functions `deploy` and `autoscale` call); the simulator adds only what those
requests do not say: which request count feeds the usage rate's `m2` (the container's, or the
demand counted at arrival), and the managed alarms' shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sdxl_inf2.core import metrics as names
from sdxl_inf2.deploy import autoscaling
from sdxl_inf2.deploy.config import DeployConfig
from sdxl_inf2.deploy.sizing import requests_metric

from .endpoint import Shape
from .policies import AlarmShape
from .schedule import UTC, Fires, firing_rule
from .traffic import Seconds, Trace

POLICY_NAMES = ("usage-rate-container", "usage-rate-demand", "surge", "backlog", "none")
DEFAULT_POLICIES = POLICY_NAMES[:4]
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)  # t = 0 for scheduled actions: a Monday, 00:00 UTC


@dataclass(frozen=True)
class Fleet:
    workers: int  # per instance (the config's workers_per_instance)
    max_concurrency: int  # MaxConcurrentInvocationsPerInstance
    seconds_per_image: float  # one worker, one image (the mean, for exp)
    service_time: Literal["fixed", "exp"]
    launch_s: float  # instance provisioning and image pull
    download_s: float  # model artifact download and extraction
    load_s: float  # every worker loads its model and renders one warm-up image
    ttl_s: float  # RequestTTLSeconds
    min_capacity: int
    max_capacity: int
    initial: int  # in service at t = 0
    serial_updates: bool = True  # no capacity change while instances start (see capacity.py)

    @property
    def shape(self) -> Shape:
        return Shape(self.workers, self.max_concurrency, self.launch_s + self.download_s + self.load_s, self.ttl_s)


@dataclass(frozen=True)
class Observation:
    sagemaker_lag_s: float = 60.0  # SageMaker's metrics: instances (CPUUtilization), backlog
    custom_lag_s: float = 0.0  # the request count per minute (EMF, or the gateway's metrics)
    high_resolution_lag_s: float = 10.0  # the gateway's high-resolution demand count, per 10-30 s
    alarms: AlarmShape = field(default_factory=AlarmShape)
    start: datetime = MONDAY


@dataclass(frozen=True)
class Workload:
    arrivals: Seconds  # every request, sorted, seconds
    hit: NDArray[np.bool_]  # answered from the cache before the queue
    service: Seconds  # worker seconds of each request that reaches the queue
    horizon_s: float

    @property
    def misses(self) -> Seconds:
        return self.arrivals[~self.hit]


def workload(trace: Trace, cache_hit_rate: float, fleet: Fleet, seed: int) -> Workload:
    """Hits and service times from their own streams of the seed, so a policy never changes them."""
    hit = np.random.default_rng([seed, 1]).uniform(size=trace.arrivals.size) < cache_hit_rate
    misses = int((~hit).sum())
    service_rng = np.random.default_rng([seed, 2])
    if fleet.service_time == "exp":
        service = service_rng.exponential(fleet.seconds_per_image, misses)
    else:
        service = np.full(misses, fleet.seconds_per_image)
    return Workload(trace.arrivals, hit, service, trace.horizon_s)


@dataclass(frozen=True)
class RequestCount:
    """Which count is the usage rate's m2: the container's (at completion) or the demand at arrival."""

    source: Literal["container", "gateway"]
    count_cache_hits: bool = False


def demand_count(config: DeployConfig, count_cache_hits: bool | None) -> RequestCount:
    """The demand-side count; the config's `autoscaling.usage_rate.count_cache_hits` unless overridden."""
    configured = config.autoscaling.usage_rate.count_cache_hits if config.autoscaling else False
    return RequestCount("gateway", configured if count_cache_hits is None else count_cache_hits)


@dataclass(frozen=True)
class ScheduledAction:
    name: str
    fires: Fires
    min_capacity: int | None
    max_capacity: int | None


@dataclass(frozen=True)
class PolicySpec:
    name: str
    requests_namespace: str  # where the container's (or gateway's) request count lives
    requests_metric: str = names.REQUESTS  # which count the usage rate's m2 reads (deploy decides)
    target_tracking: Mapping[str, Any] | None = None  # a PutScalingPolicy request
    # each step policy request (scale from zero, the surge) with the PutMetricAlarm request that fires it
    steps: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]] = ()
    schedules: Sequence[ScheduledAction] = ()
    request_count: RequestCount = RequestCount("container")


def policy_spec(config: DeployConfig, name: str, demand: RequestCount, origin: datetime) -> PolicySpec:
    """One named policy as deploy builds it: `surge` is usage-rate-demand plus the surge policy."""
    namespace = config.container_metric_namespace
    if name == "none":
        return PolicySpec(name, namespace)
    config = with_counting(config, "container" if name == "usage-rate-container" else "gateway", name == "surge")
    tracking = autoscaling.backlog_policy(config) if name == "backlog" else autoscaling.usage_rate_policy(config)
    steps = [(step, alarm(autoscaling.STEP_POLICY_ARN)) for step, alarm in autoscaling.step_policies(config)]
    schedules = [scheduled_action(request, origin) for request in autoscaling.schedule_requests(config)]
    count = demand if name in ("usage-rate-demand", "surge") else RequestCount("container")
    return PolicySpec(name, namespace, requests_metric(config), tracking, steps, schedules, count)


def with_counting(config: DeployConfig, counted_by: str, surge: bool) -> DeployConfig:
    """The config as deploy would build it with the demand counted by `counted_by` (which the simulator
    models whatever the config says) and the surge policy on or off."""
    scaling = autoscaling.settings(config)
    usage_rate = scaling.usage_rate.model_copy(update={"requests_from": counted_by})
    changed = {"surge": scaling.surge.model_copy(update={"enabled": surge}), "usage_rate": usage_rate}
    return config.model_copy(update={"autoscaling": scaling.model_copy(update=changed)})


def scheduled_action(request: Mapping[str, Any], origin: datetime) -> ScheduledAction:
    name = request["ScheduledActionName"]
    where = f"scheduled action {name}"
    action = request["ScalableTargetAction"]
    fires = firing_rule(
        request["Schedule"],
        request.get("Timezone"),
        _utc(request.get("StartTime")),
        _utc(request.get("EndTime")),
        origin,
        where,
    )
    return ScheduledAction(name, fires, action.get("MinCapacity"), action.get("MaxCapacity"))


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def capacity_bounds(config: DeployConfig) -> tuple[int, int]:
    """The scalable target's MinCapacity and MaxCapacity as deploy registers them (fixed without autoscaling)."""
    if config.autoscaling is None:
        return config.initial_instance_count, config.initial_instance_count
    target = autoscaling.target_request(config)
    return target["MinCapacity"], target["MaxCapacity"]
