"""One policy over one workload: the endpoint plus a per-minute control loop (a SimPy process).

At every minute boundary, in this order: the minute that ended is published to the simulated
CloudWatch (SageMaker samples the backlog and the instances in service at its end); scheduled
actions due this minute move the bounds; every policy is asked what it wants from what its alarms
can see (the lag hides the newest minutes), the largest capacity wins and the endpoint resizes;
idle slots take the new minute's arrivals. The run ends at the first boundary after the trace's
horizon at which every request has a result or has expired.

A step policy on a high-resolution alarm (the surge) is also asked between minutes, at each of its
alarm's evaluations (every period) that can find the alarm in ALARM. It watches the demand counted
at arrival where its gate on the instances' heartbeat is open, and 0 elsewhere: the heartbeat
depends on the fleet, the demand on no policy, so the evaluations at which the alarm on the demand
alone is in ALARM are known before the run and hold every one at which the gated alarm can be
(`evaluations`). The loop gets one event per such evaluation, none per arrival, and the gate is read
there from the heartbeat so far (endpoint.py records each change of the instances in service). A
request that an instance took for later in the minute (endpoint.py) stays with it if such a decision
then drains that instance, as it would with any free slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import numpy as np
import simpy

from sdxl_inf2.core import metrics as names

from .capacity import Activity, Proposal, ScalableTarget, winner
from .cloudwatch import MINUTE, MetricKey, Metrics, State, metric_key, single_metric
from .endpoint import DRAINING, IN_SERVICE, PENDING, Endpoint, Instance
from .policies import Policy, StepScaling, step_scaling, target_tracking
from .scenario import Fleet, Observation, PolicySpec, Workload
from .traffic import Seconds

INSTANCES: MetricKey = (names.INSTANCE_NAMESPACE, names.INSTANCE_COUNT_METRIC, names.INSTANCE_COUNT_STAT)
BACKLOG: MetricKey = (names.SAGEMAKER_NAMESPACE, names.BACKLOG_METRIC, "Average")
BACKLOG_PER_INSTANCE: MetricKey = (names.SAGEMAKER_NAMESPACE, names.BACKLOG_PER_INSTANCE_METRIC, "Average")
WITHOUT_CAPACITY: MetricKey = (names.SAGEMAKER_NAMESPACE, names.BACKLOG_WITHOUT_CAPACITY_METRIC, "Average")


@dataclass
class Minutes:
    """Sampled at each minute boundary (index = minutes since the start)."""

    backlog: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    in_service: list[int] = field(default_factory=list)


@dataclass
class Outcome:
    policy: str
    workload: Workload
    start: Seconds  # per request that reached the queue: when a worker started it (nan: expired)
    done: Seconds
    expired: int
    instances: list[Instance]
    minutes: Minutes
    activities: list[Activity]
    refused: int  # capacity changes refused while the endpoint was updating
    scheduled: list[tuple[float, str]]  # (time, name) of each scheduled action that fired
    end_s: float
    workers: int


def simulate(workload: Workload, fleet: Fleet, observation: Observation, spec: PolicySpec) -> Outcome:
    env = simpy.Environment()
    endpoint = Endpoint(env, workload.misses.tolist(), workload.service.tolist(), fleet.shape)
    target = ScalableTarget(
        fleet.min_capacity, fleet.max_capacity, 0, fleet.serial_updates, endpoint.updating, endpoint.resize
    )
    target.desired = target.clamp(fleet.initial)
    endpoint.start_with(target.desired)
    metrics = Metrics(_lags(spec, observation))
    _add_high_resolution(metrics, spec, observation, workload, endpoint)
    policies = _policies(spec, metrics, observation)
    loop = _Control(env, endpoint, target, metrics, policies, spec, observation, workload)
    finished = env.event()
    env.process(loop.run(finished))
    for policy in policies:
        if isinstance(policy, StepScaling) and policy.alarm.query.period_s < MINUTE:
            times = evaluations(policy, requests_key(spec), metrics, workload, observation)
            env.process(loop.between_minutes(policy, times))
    env.run(until=finished)
    return Outcome(
        policy=spec.name,
        workload=workload,
        start=np.asarray(endpoint.start),
        done=np.asarray(endpoint.done),
        expired=endpoint.expired,
        instances=endpoint.instances,
        minutes=loop.minutes,
        activities=target.activities,
        refused=target.refused,
        scheduled=loop.scheduled,
        end_s=env.now,
        workers=fleet.workers,
    )


def requests_key(spec: PolicySpec) -> MetricKey:
    return (spec.requests_namespace, spec.requests_metric, names.REQUESTS_STAT)


def _lags(spec: PolicySpec, observation: Observation) -> dict[MetricKey, float]:
    sagemaker = observation.sagemaker_lag_s
    keys = (INSTANCES, BACKLOG, BACKLOG_PER_INSTANCE, WITHOUT_CAPACITY)
    return {**dict.fromkeys(keys, sagemaker), requests_key(spec): observation.custom_lag_s}


def _policies(spec: PolicySpec, metrics: Metrics, observation: Observation) -> list[Policy]:
    found: list[Policy] = []
    if spec.target_tracking is not None:
        found.append(target_tracking(spec.target_tracking, metrics, observation.alarms))
    found += [step_scaling(step, alarm, metrics) for step, alarm in spec.steps]
    return found


def demand_per_period(workload: Workload, count_cache_hits: bool, period_s: float = MINUTE) -> list[int]:
    counted = workload.arrivals if count_cache_hits else workload.misses
    return np.bincount((counted // period_s).astype(np.int64)).tolist() if counted.size else []


def _add_high_resolution(
    metrics: Metrics, spec: PolicySpec, observation: Observation, load: Workload, endpoint: Endpoint
) -> None:
    """Each high-resolution alarm's metrics per its period: the gateway's demand count, known in advance,
    and the instances' heartbeat, computed from the fleet as the run goes. Only these two are high
    resolution (gateway/demand.py, container/metrics.py); any other metric an alarm reads below a
    minute is left out, and reading it fails as not modelled."""
    heartbeat = (spec.requests_namespace, names.IN_SERVICE_SECONDS, names.IN_SERVICE_STAT)
    for key, period in {found for _, alarm in spec.steps for found in _alarm_metrics(alarm)}:
        lag = observation.high_resolution_lag_s
        if period >= MINUTE or (key, period) in metrics.series:
            continue
        if key == requests_key(spec) and spec.request_count.source == "gateway":
            counts = demand_per_period(load, spec.request_count.count_cache_hits, period)
            metrics.add(key, lag, period, [float(c) if c else None for c in counts])
        elif key == heartbeat:
            metrics.derive(key, lag, period, endpoint.heartbeat.datapoint)


def _alarm_metrics(alarm: Mapping[str, Any]) -> list[tuple[MetricKey, float]]:
    """The (metric, period) pairs a PutMetricAlarm request reads."""
    if "Metrics" in alarm:
        return [
            (metric_key(q["MetricStat"]), float(q["MetricStat"]["Period"]))
            for q in alarm["Metrics"]
            if "MetricStat" in q
        ]
    return [((alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]), float(alarm["Period"]))]


def evaluations(
    policy: StepScaling, demand: MetricKey, metrics: Metrics, load: Workload, observation: Observation
) -> list[float]:
    """The alarm's evaluations (one per period) that can find it in ALARM, minute boundaries left to
    the loop. The surge's alarm watches the demand where its gate is open and 0 elsewhere
    (deploy/surge.py), never more than the demand, and treats missing data as not breaching: it can
    be in ALARM only at an evaluation where the same alarm on the demand alone is, and those are
    known before the run (the demand counted at arrival depends on no policy). Only they are
    evaluated with the heartbeat; an alarm not of that shape is evaluated every period."""
    alarm, period = policy.alarm, policy.alarm.query.period_s
    last = load.horizon_s + observation.high_resolution_lag_s + period * (alarm.evaluation_periods + 3)
    times = [index * period for index in range(1, int(last // period) + 1) if (index * period) % MINUTE]
    counted = metrics.series.get((demand, period))
    reads_it = any(series is counted for series in alarm.query.metrics.values())
    if not (reads_it and alarm.treat_missing == "notBreaching" and alarm.comparison.startswith("Greater")):
        return times
    on_demand = replace(alarm, query=single_metric(metrics, demand, period))
    return [t for t in times if on_demand.state(t) is State.ALARM]


class _Control:
    def __init__(
        self,
        env: simpy.Environment,
        endpoint: Endpoint,
        target: ScalableTarget,
        metrics: Metrics,
        policies: list[Policy],
        spec: PolicySpec,
        observation: Observation,
        workload: Workload,
    ) -> None:
        self.env, self.endpoint, self.target, self.metrics = env, endpoint, target, metrics
        self.policies, self.spec, self.observation, self.workload = policies, spec, observation, workload
        count = spec.request_count
        self.demand = demand_per_period(workload, count.count_cache_hits) if count.source == "gateway" else None
        self.minutes = Minutes()
        self.scheduled: list[tuple[float, str]] = []

    def run(self, finished: simpy.Event) -> simpy.events.ProcessGenerator:
        minute = 0
        while True:
            if minute:
                self.publish(minute - 1)
            self.schedule()
            self.scale()
            self.endpoint.refill()
            self.sample()
            if self.env.now >= self.workload.horizon_s and self.endpoint.resolved():
                finished.succeed()
                return
            yield self.env.timeout(60)
            minute += 1

    def publish(self, minute: int) -> None:
        now, endpoint = self.env.now, self.endpoint
        serving = endpoint.count(IN_SERVICE, DRAINING)
        backlog = endpoint.backlog(now)
        self.metrics.publish(INSTANCES, minute, float(serving) if serving else None)  # SampleCount: none at 0
        values = names.backlog_metrics(backlog, serving)
        for key in (BACKLOG, BACKLOG_PER_INSTANCE, WITHOUT_CAPACITY):
            self.metrics.publish(key, minute, values[key[1]])
        counts = self.demand if self.demand is not None else endpoint.finished_per_minute
        requests = counts[minute] if minute < len(counts) else 0
        self.metrics.publish(requests_key(self.spec), minute, float(requests) if requests else None)

    def schedule(self) -> None:
        moment = self.observation.start + timedelta(seconds=self.env.now)
        for action in self.spec.schedules:
            if action.fires.at(moment):
                self.target.set_bounds(action.min_capacity, action.max_capacity)
                self.scheduled.append((self.env.now, action.name))

    def between_minutes(self, policy: StepScaling, times: list[float]) -> simpy.events.ProcessGenerator:
        """The high-resolution alarm's evaluations in ALARM: the policy alone is asked (the others' alarms
        change state only on a minute's datapoint)."""
        for moment in times:
            yield self.env.timeout(moment - self.env.now)
            self.scale([policy])

    def scale(self, policies: list[Policy] | None = None) -> None:
        now, target = self.env.now, self.target
        current = target.desired
        asked = self.policies if policies is None else policies
        proposals = [p for p in (policy.propose(now, current) for policy in asked) if p is not None]
        if target.clamp(current) != current:
            proposals.append(Proposal(target.clamp(current), "bounds"))
        chosen = winner(current, proposals)
        if chosen is None or not target.apply(chosen, now):
            return
        for policy in asked:
            if policy.name == chosen.cause:
                policy.applied(now, current, target.desired)

    def sample(self) -> None:
        endpoint = self.endpoint
        self.minutes.backlog.append(endpoint.backlog(self.env.now))
        self.minutes.pending.append(endpoint.count(PENDING))
        self.minutes.in_service.append(endpoint.count(IN_SERVICE, DRAINING))
