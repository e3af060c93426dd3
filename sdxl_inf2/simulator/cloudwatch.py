"""CloudWatch as the policies see it: one-minute datapoints, a publication lag, queries, M-of-N alarms.

A datapoint for minute k covers [60k, 60k + 60) and is published at its end; a reader sees it
`lag` seconds later. A query (one metric, or metric math over several) sees a minute once every
metric it reads has published it. Alarms follow "Using Amazon CloudWatch alarms" (User Guide):
each evaluation retrieves the last N + 2 minutes (the guide's example: 5 for N = 3); with N
datapoints or more it judges the N most recent; with fewer, missing data is treated as the alarm
says (`missing`: any non-breaching datapoint means OK, M breaching ones mean ALARM, otherwise
INSUFFICIENT_DATA). Not modelled: the guide's re-evaluation of a metric that stopped flowing
(its table row `X - - - -` -> ALARM).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sdxl_inf2.deploy.metric_math import Expression, compile_expression

from .errors import SimulationError

MetricKey = tuple[str, str, str]  # namespace, metric name, statistic
EXTRA_DATAPOINTS = 2  # retrieved beyond EvaluationPeriods (the User Guide's example: 5 for 3)


class State(Enum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass
class Series:
    lag_s: float
    points: list[float | None] = field(default_factory=list)  # index = minute

    def publish(self, minute: int, value: float | None) -> None:
        while len(self.points) <= minute:
            self.points.append(None)
        self.points[minute] = value

    def at(self, minute: int) -> float | None:
        return self.points[minute] if 0 <= minute < len(self.points) else None


class Metrics:
    """Every series the simulated endpoint publishes, by (namespace, metric, statistic)."""

    def __init__(self, lags: Mapping[MetricKey, float]) -> None:
        self.series = {key: Series(lag) for key, lag in lags.items()}

    def publish(self, key: MetricKey, minute: int, value: float | None) -> None:
        self.series[key].publish(minute, value)

    def get(self, key: MetricKey) -> Series:
        if key not in self.series:
            namespace, name, stat = key
            known = "; ".join(f"{n}/{m} ({s})" for n, m, s in sorted(self.series))
            raise SimulationError(
                f"the policy reads {namespace}/{name} ({stat}), which is not modelled (known: {known})"
            )
        return self.series[key]


@dataclass(frozen=True)
class Query:
    """What a policy or alarm reads: one metric, or metric math over several (the ReturnData one)."""

    metrics: Mapping[str, Series]  # id -> series
    expression: Expression | None  # None: the single metric is the value

    @property
    def lag_s(self) -> float:
        return max(series.lag_s for series in self.metrics.values())

    def latest_minute(self, now: float) -> int:
        """The last minute whose datapoint every metric has published and readers can see at `now`."""
        return math.floor((now - self.lag_s) / 60 + 1e-9) - 1

    def value(self, minute: int) -> float | None:
        values = {query_id: series.at(minute) for query_id, series in self.metrics.items()}
        if self.expression is None:
            return next(iter(values.values()))
        return self.expression.evaluate(values)


def single_metric(metrics: Metrics, key: MetricKey) -> Query:
    return Query({"m1": metrics.get(key)}, None)


def metric_math(metrics: Metrics, queries: Sequence[Mapping[str, Any]]) -> Query:
    """A TargetTrackingMetricDataQuery list: MetricStat entries and the one expression that returns data."""
    stats = {q["Id"]: q["MetricStat"] for q in queries if "MetricStat" in q}
    returned = [q for q in queries if q.get("ReturnData", True)]
    if len(returned) != 1 or "Expression" not in returned[0]:
        raise SimulationError("metric math: exactly one expression must have ReturnData true")
    series = {
        query_id: metrics.get((stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"]))
        for query_id, stat in stats.items()
    }
    return Query(series, compile_expression(returned[0]["Expression"], set(series)))


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass(frozen=True)
class Alarm:
    query: Query
    threshold: float
    comparison: str  # a PutMetricAlarm ComparisonOperator
    evaluation_periods: int  # N
    datapoints_to_alarm: int  # M
    treat_missing: str = "missing"

    def __post_init__(self) -> None:
        if self.comparison not in _COMPARE:
            raise SimulationError(f"alarm ComparisonOperator {self.comparison} is not modelled")
        if self.treat_missing not in ("missing", "breaching", "notBreaching"):
            raise SimulationError(f"alarm TreatMissingData {self.treat_missing} is not modelled")

    def breaching(self, value: float) -> bool:
        return _COMPARE[self.comparison](value, self.threshold)

    def state(self, now: float) -> State:
        latest = self.query.latest_minute(now)
        window = [
            self.query.value(m) for m in range(latest - self.evaluation_periods - EXTRA_DATAPOINTS + 1, latest + 1)
        ]
        return judge([None if v is None else self.breaching(v) for v in window], self)

    def latest_value(self, now: float) -> float | None:
        """The most recent datapoint a triggered policy computes with."""
        return self.query.value(self.query.latest_minute(now))


def judge(window: Sequence[bool | None], alarm: Alarm) -> State:
    """CloudWatch's decision over the retrieved datapoints (True breaching, False not, None missing)."""
    existing = [point for point in window if point is not None]
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    if len(existing) >= n:
        return State.ALARM if sum(existing[-n:]) >= m else State.OK
    if alarm.treat_missing != "missing":  # every real datapoint counts; the rest are filled
        filled = existing + [alarm.treat_missing == "breaching"] * (n - len(existing))
        return State.ALARM if sum(filled) >= m else State.OK
    if not existing:
        return State.INSUFFICIENT_DATA
    if not all(existing):
        return State.OK
    return State.ALARM if len(existing) >= m else State.INSUFFICIENT_DATA
