"""The deployment config's `autoscaling` section: the target-tracking policies, scale from zero, the
surge policy and scheduled actions (deploy/example.yaml documents every key; config.py holds the rest).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from sdxl_inf2.core import metrics

from .sections import Section

# Step adjustments in one step scaling policy (Application Auto Scaling User Guide, quotas: "Step
# adjustments per step scaling policy: 20"; botocore's model gives the list no bound).
MAX_STEP_ADJUSTMENTS = 20
# The usage-rate policy's scale-out cooldown by who counts its demand (docs/simulator.md, "choosing a
# policy"). Counted at arrival, the metric divides by the instances in service, so a scale-out
# computed before the last one's instances are in service (a 7-minute start, a minute of lag) asks
# again for all of it: 600 s. Counted by the container, the metric cannot exceed what the instances
# do, and a long cooldown only slows its steps: 60 s.
SCALE_OUT_COOLDOWN_S = {"gateway": 600, "container": 60}
# An alarm's evaluation range below an hour's period may span one day (PutMetricAlarm).
MAX_EVALUATION_S = 86_400


class UsageRate(Section):
    seconds_per_image: float = Field(10.0, gt=0, le=3600)
    target_value: float = Field(0.75, gt=0, le=10)
    scale_out_cooldown_s: int | None = Field(None, ge=0, le=86400)  # None: SCALE_OUT_COOLDOWN_S
    scale_in_cooldown_s: int = Field(120, ge=0, le=86400)
    # Who counts the requests the policy reads; None: the gateway when it is enabled, else the container.
    requests_from: Literal["gateway", "container"] | None = None
    # Count cache hits as demand (the reference case's choice)? A hit costs no worker time, so by default not.
    count_cache_hits: bool = False


class Backlog(Section):
    target_value: float = Field(5.0, gt=0)
    scale_out_cooldown_s: int = Field(300, ge=0, le=86400)
    scale_in_cooldown_s: int = Field(600, ge=0, le=86400)


class ScaleFromZero(Section):
    enabled: bool = True
    cooldown_s: int = Field(300, ge=0, le=86400)


class Surge(Section):
    """The step policy on a high-resolution alarm of the demand counted at arrival (deploy/surge.py)."""

    enabled: bool | None = None  # None: on when the gateway counts demand for the usage-rate policy
    period_s: int = 10
    datapoints: int = Field(3, ge=1)
    target_value: float = Field(0.9, gt=0, le=10)
    # Demand over what the instances in service render at full speed, at or above which the surge
    # engages (deploy/surge.py, the gate): a spike, not the growth target tracking follows.
    gate: float = Field(1.0, gt=0, le=100)
    # Target tracking waits while the fleet drains a backlog of at least this many minutes of its work
    # (deploy/surge.py, `Handover`).
    backlog_minutes: float = Field(0.25, gt=0, le=1440)
    bands: int = Field(MAX_STEP_ADJUSTMENTS, ge=1, le=MAX_STEP_ADJUSTMENTS)
    band_ratio: float = Field(1.1111, gt=1, le=10)  # 1 / 0.9
    cooldown_s: int = Field(900, ge=0, le=86400)

    @model_validator(mode="after")
    def _an_alarm_cloudwatch_takes(self) -> Surge:
        periods = metrics.HIGH_RESOLUTION_PERIODS
        if self.period_s not in periods:
            raise ValueError(f"period_s: must be one of {', '.join(map(str, periods))} (got {self.period_s})")
        if self.period_s * self.datapoints > MAX_EVALUATION_S:
            raise ValueError(f"datapoints: at most {MAX_EVALUATION_S // self.period_s} at {self.period_s} s")
        return self


class Schedule(Section):
    name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,200}$")]
    schedule: Annotated[str, StringConstraints(pattern=r"^(cron|at|rate)\(.+\)$")]
    timezone: str | None = None
    min_capacity: int | None = Field(None, ge=0)
    max_capacity: int | None = Field(None, ge=0)
    start_time: datetime | None = None
    end_time: datetime | None = None

    @model_validator(mode="after")
    def _sets_a_bound(self) -> Schedule:
        if self.min_capacity is None and self.max_capacity is None:
            raise ValueError("min_capacity: set min_capacity, max_capacity or both")
        return self


class Autoscaling(Section):
    enabled: bool = True
    min_capacity: int = Field(0, ge=0)
    max_capacity: int = Field(ge=1)
    policy: Literal["usage-rate", "backlog"] = "usage-rate"
    usage_rate: UsageRate = UsageRate()
    backlog: Backlog = Backlog()
    scale_from_zero: ScaleFromZero = ScaleFromZero()
    surge: Surge = Surge()
    schedules: list[Schedule] = Field([])

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity: {self.min_capacity} is above max_capacity {self.max_capacity}")
        return self
