"""What the scaling policies size capacity with: one instance's throughput, and the demand they read.

`throughput` is the one place that says how many images an instance renders: the usage-rate
policy's capacity, the surge policy's bands, the dashboard and the simulator's fleet all read it, so
a new way of deriving workers or seconds per image changes them together. `demand_metric` is where
the demand count lives (the container's or the gateway's: the same namespace and dimensions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sdxl_inf2.core import metrics

from .config import DeployConfig
from .scaling_config import UsageRate

if TYPE_CHECKING:
    from types_boto3_application_autoscaling.type_defs import TargetTrackingMetricTypeDef

EPSILON = 1e-9  # keeps ceil(4 x 0.75 / 0.75) at 4 despite floating point


@dataclass(frozen=True)
class Throughput:
    seconds_per_image: float  # one worker, one image
    workers: int  # per instance

    def per_second(self, instances: float = 1.0) -> float:
        """Images a second that `instances` render with every worker busy."""
        return instances * self.workers / self.seconds_per_image

    def instances_for(self, requests_per_s: float, target: float) -> int:
        """The fewest instances that hold `requests_per_s` at the usage rate `target`."""
        return max(0, math.ceil(requests_per_s / (self.per_second() * target) - EPSILON))


def throughput(config: DeployConfig) -> Throughput:
    rate = config.autoscaling.usage_rate if config.autoscaling else UsageRate()
    return Throughput(rate.seconds_per_image, config.workers)


def requests_metric(config: DeployConfig) -> str:
    """Every request (the reference case's choice), or only those that need a render (hits cost no
    worker time). The same name whoever counts it (the container, or the gateway: `requests_counted_by`)."""
    counts_hits = config.autoscaling.usage_rate.count_cache_hits if config.autoscaling else False
    return metrics.REQUESTS if counts_hits else metrics.CACHE_MISSES


def demand_metric(config: DeployConfig) -> TargetTrackingMetricTypeDef:
    """The demand count the policies read, dimensioned by whatever the container (and the gateway,
    given the same values) was told to emit."""
    return _container_metric(config, requests_metric(config))


def in_service_metric(config: DeployConfig) -> TargetTrackingMetricTypeDef:
    """The instances' heartbeat (core/metrics.py IN_SERVICE_SECONDS): beside the demand count, under the
    same namespace and dimensions, so one alarm reads both."""
    return _container_metric(config, metrics.IN_SERVICE_SECONDS)


def _container_metric(config: DeployConfig, name: str) -> TargetTrackingMetricTypeDef:
    env = config.container_environment
    return {
        "Namespace": config.container_metric_namespace,
        "MetricName": name,
        "Dimensions": [
            {"Name": metrics.ENDPOINT_DIMENSION, "Value": env[metrics.ENDPOINT_SETTING]},
            {"Name": metrics.VARIANT_DIMENSION, "Value": env[metrics.VARIANT_SETTING]},
        ],
    }
