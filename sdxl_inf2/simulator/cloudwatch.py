"""CloudWatch as the policies see it: datapoints per period, a publication lag, queries, M-of-N alarms.

A series has a period: one minute, or 10, 20 or 30 s for a high-resolution metric (the same metric
may be read at both: the surge alarm reads the demand count per 10 s, the usage rate per minute).
Datapoint k covers [kP, kP + P) and is published at its end; a reader sees it `lag` seconds later.
A query (one metric, or metric math over several of one period) sees a period once every metric it
reads has published it. Alarms follow "Using Amazon CloudWatch alarms" (User Guide):
each evaluation retrieves the last N + 2 periods (the guide's example: 5 for N = 3); with N
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
MINUTE = 60.0
EXTRA_DATAPOINTS = 2  # retrieved beyond EvaluationPeriods (the User Guide's example: 5 for 3)


class State(Enum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass
class Series:
    lag_s: float
    period_s: float = MINUTE
    points: list[float | None] = field(default_factory=list)  # index = period since the start

    def publish(self, index: int, value: float | None) -> None:
        while len(self.points) <= index:
            self.points.append(None)
        self.points[index] = value

    def at(self, index: int) -> float | None:
        return self.points[index] if 0 <= index < len(self.points) else None

    def final(self, index: int) -> bool:
        """Whether datapoint `index` is there for good (published: a period is published once)."""
        return index < len(self.points)


class Derived(Series):
    """A series the run produces as it goes (the instances' heartbeat): datapoint k is computed once
    its period has ended, by `compute(start, end)`, and kept."""

    def __init__(self, lag_s: float, period_s: float, compute: Callable[[float, float], float | None]) -> None:
        super().__init__(lag_s, period_s)
        self.compute = compute
        self.known: dict[int, float | None] = {}

    def at(self, index: int) -> float | None:
        if index < 0:
            return None
        if index not in self.known:
            self.known[index] = self.compute(index * self.period_s, (index + 1) * self.period_s)
        return self.known[index]

    def final(self, index: int) -> bool:
        return index in self.known


class Metrics:
    """Every series the simulated endpoint publishes, by (namespace, metric, statistic) and period."""

    def __init__(self, lags: Mapping[MetricKey, float]) -> None:
        self.series = {(key, MINUTE): Series(lag) for key, lag in lags.items()}

    def add(self, key: MetricKey, lag_s: float, period_s: float, points: list[float | None]) -> None:
        """A series known in advance (the demand counted at arrival does not depend on the fleet)."""
        self.series[key, period_s] = Series(lag_s, period_s, points)

    def derive(
        self, key: MetricKey, lag_s: float, period_s: float, compute: Callable[[float, float], float | None]
    ) -> None:
        """A series that depends on the fleet, computed per period as the run reaches it."""
        self.series[key, period_s] = Derived(lag_s, period_s, compute)

    def publish(self, key: MetricKey, minute: int, value: float | None) -> None:
        self.series[key, MINUTE].publish(minute, value)

    def get(self, key: MetricKey, period_s: float = MINUTE) -> Series:
        if (key, period_s) not in self.series:
            namespace, name, stat = key
            known = "; ".join(f"{n}/{m} ({s}, {p:g} s)" for (n, m, s), p in sorted(self.series))
            raise SimulationError(
                f"the policy reads {namespace}/{name} ({stat}) per {period_s:g} s, which is not modelled "
                f"(known: {known})"
            )
        return self.series[key, period_s]


@dataclass(frozen=True)
class Query:
    """What a policy or alarm reads: one metric, or metric math over several (the ReturnData one)."""

    metrics: Mapping[str, Series]  # id -> series
    expression: Expression | None  # None: the single metric is the value
    # each period's value once every series has it for good: the alarms read the same periods again
    # at every evaluation (N + 2 of them), and an expression is evaluated once per period
    known: dict[int, float | None] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len({series.period_s for series in self.metrics.values()}) != 1:
            raise SimulationError("metric math over metrics of different periods is not modelled")

    @property
    def lag_s(self) -> float:
        return max(series.lag_s for series in self.metrics.values())

    @property
    def period_s(self) -> float:
        return next(iter(self.metrics.values())).period_s

    def latest_index(self, now: float) -> int:
        """The last period whose datapoint every metric has published and readers can see at `now`."""
        return math.floor((now - self.lag_s) / self.period_s + 1e-9) - 1

    def value(self, index: int) -> float | None:
        if index in self.known:
            return self.known[index]
        values = {query_id: series.at(index) for query_id, series in self.metrics.items()}
        found = next(iter(values.values())) if self.expression is None else self.expression.evaluate(values)
        if all(series.final(index) for series in self.metrics.values()):
            self.known[index] = found
        return found


def single_metric(metrics: Metrics, key: MetricKey, period_s: float = MINUTE) -> Query:
    return Query({"m1": metrics.get(key, period_s)}, None)


def metric_math(metrics: Metrics, queries: Sequence[Mapping[str, Any]]) -> Query:
    """A TargetTrackingMetricDataQuery list (one-minute metrics: its MetricStat has no Period) or an
    alarm's MetricDataQuery list (each MetricStat with its Period): the metrics and the one
    expression that returns data."""
    stats = {q["Id"]: q["MetricStat"] for q in queries if "MetricStat" in q}
    returned = [q for q in queries if q.get("ReturnData", True)]
    if len(returned) != 1 or "Expression" not in returned[0]:
        raise SimulationError("metric math: exactly one expression must have ReturnData true")
    series = {
        query_id: metrics.get(metric_key(stat), float(stat.get("Period", MINUTE))) for query_id, stat in stats.items()
    }
    return Query(series, compile_expression(returned[0]["Expression"], set(series)))


def metric_key(stat: Mapping[str, Any]) -> MetricKey:
    """A MetricStat's (namespace, metric name, statistic)."""
    return (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"])


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
        latest = self.query.latest_index(now)
        window = [
            self.query.value(m) for m in range(latest - self.evaluation_periods - EXTRA_DATAPOINTS + 1, latest + 1)
        ]
        return judge([None if v is None else self.breaching(v) for v in window], self)

    def latest_value(self, now: float) -> float | None:
        """The most recent datapoint a triggered target-tracking policy computes with."""
        return self.query.value(self.query.latest_index(now))

    def recent_values(self, now: float) -> list[float]:
        """The datapoints of the last EvaluationPeriods that exist: what a step policy aggregates."""
        latest = self.query.latest_index(now)
        found = (self.query.value(m) for m in range(latest - self.evaluation_periods + 1, latest + 1))
        return [value for value in found if value is not None]


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
