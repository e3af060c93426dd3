"""One policy over one workload: the endpoint plus a per-minute control loop (a SimPy process).

At every minute boundary, in this order: the minute that ended is published to the simulated
CloudWatch (SageMaker samples the backlog and the instances in service at its end); scheduled
actions due this minute move the bounds; every policy is asked what it wants from what its alarms
can see (the lag hides the newest minutes), the largest capacity wins and the endpoint resizes;
idle slots take the new minute's arrivals. The run ends at the first boundary after the trace's
horizon at which every request has a result or has expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import simpy

from sdxl_inf2.core import metrics as names

from .capacity import Activity, Proposal, ScalableTarget, winner
from .cloudwatch import MetricKey, Metrics
from .endpoint import DRAINING, IN_SERVICE, PENDING, Endpoint, Instance
from .policies import Policy, step_scaling, target_tracking
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
    policies = _policies(spec, metrics, observation)
    loop = _Control(env, endpoint, target, metrics, policies, spec, observation, workload)
    finished = env.event()
    env.process(loop.run(finished))
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
    if spec.step is not None and spec.alarm is not None:
        found.append(step_scaling(spec.step, spec.alarm, metrics))
    return found


def demand_per_minute(workload: Workload, count_cache_hits: bool) -> list[int]:
    counted = workload.arrivals if count_cache_hits else workload.misses
    return np.bincount((counted // 60).astype(np.int64)).tolist() if counted.size else []


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
        self.demand = demand_per_minute(workload, count.count_cache_hits) if count.source == "gateway" else None
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

    def scale(self) -> None:
        now, target = self.env.now, self.target
        current = target.desired
        proposals = [p for p in (policy.propose(now, current) for policy in self.policies) if p is not None]
        if target.clamp(current) != current:
            proposals.append(Proposal(target.clamp(current), "bounds"))
        chosen = winner(current, proposals)
        if chosen is None or not target.apply(chosen, now):
            return
        for policy in self.policies:
            if policy.name == chosen.cause:
                policy.applied(now, current, target.desired)

    def sample(self) -> None:
        endpoint = self.endpoint
        self.minutes.backlog.append(endpoint.backlog(self.env.now))
        self.minutes.pending.append(endpoint.count(PENDING))
        self.minutes.in_service.append(endpoint.count(IN_SERVICE, DRAINING))
