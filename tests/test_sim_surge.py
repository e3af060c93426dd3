"""The surge policy in the simulator: high-resolution datapoints, its gate on the instances' heartbeat,
ExactCapacity step scaling with its cooldown, the surge's decisions between minutes, the bands never
taking capacity down while a backlog remains, and an ordinary day left to target tracking."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from sdxl_inf2.deploy import autoscaling, surge
from sdxl_inf2.deploy.config import DeployConfig, load_config
from sdxl_inf2.deploy.sizing import throughput
from sdxl_inf2.simulator import traffic
from sdxl_inf2.simulator.capacity import Proposal
from sdxl_inf2.simulator.cli import with_bounds
from sdxl_inf2.simulator.cloudwatch import MINUTE, Metrics, State, single_metric
from sdxl_inf2.simulator.errors import SimulationError
from sdxl_inf2.simulator.heartbeat import InService
from sdxl_inf2.simulator.policies import StepScaling, step_scaling
from sdxl_inf2.simulator.run import Outcome, demand_per_period, evaluations, simulate
from sdxl_inf2.simulator.scenario import MONDAY, Observation, RequestCount, Workload, policy_spec, workload
from tests.aws import EXAMPLE
from tests.test_sim_model import fleet

DEMAND = ("SdxlInf2", "CacheMisses", "Sum")
HEARTBEAT = ("SdxlInf2", "InServiceSeconds", "Sum")
SPIKE_START_S = 1800.0
PERIOD_S = 10.0


def example(maximum: int) -> DeployConfig:
    return with_bounds(load_config(EXAMPLE), None, maximum)


def surge_policy(config: DeployConfig, counts: list[float | None], serving: int = 1) -> StepScaling:
    """deploy's surge requests over a demand series known in advance (one count per 10 s), with
    `serving` instances in service throughout (their heartbeat: instance-seconds per period)."""
    metrics = Metrics({})
    metrics.add(DEMAND, 0.0, PERIOD_S, list(counts))
    metrics.add(HEARTBEAT, 0.0, PERIOD_S, [serving * PERIOD_S or None] * len(counts))
    return step_scaling(surge.policy_request(config), surge.alarm_request(config, autoscaling.STEP_POLICY_ARN), metrics)


def test_a_high_resolution_series_is_read_per_period_after_its_lag() -> None:
    metrics = Metrics({})
    metrics.add(DEMAND, 10.0, 10.0, [1.0, 2.0, 3.0])
    query = single_metric(metrics, DEMAND, 10.0)
    assert (query.latest_index(19.0), query.latest_index(20.0), query.latest_index(35.0)) == (-1, 0, 1)
    assert query.value(1) == 2.0
    with pytest.raises(SimulationError, match="per 60 s, which is not modelled"):
        single_metric(metrics, DEMAND)  # the same metric per minute was not published


def test_exact_capacity_scales_out_at_once_and_in_only_after_its_cooldown() -> None:
    config = example(100)
    bands = surge.bands(config)
    high, low = bands[-3], bands[-6]  # counts per 10 s inside two bands
    counts: list[float | None] = [high.lower + 1] * 3 + [low.lower + 1] * 400
    policy = surge_policy(config, counts)
    assert policy.propose(20.0, 1) is None  # two of the three datapoints: not yet in ALARM
    assert policy.propose(30.0, 1) == Proposal(high.capacity, policy.name)
    policy.applied(30.0, 1, high.capacity)
    cooldown = float(surge.settings(config).cooldown_s)
    assert policy.propose(60.0, high.capacity) is None  # a lower band during the cooldown: no scale-in
    assert policy.propose(30.0 + cooldown, high.capacity) == Proposal(low.capacity, policy.name)


def test_the_gate_leaves_a_demand_the_instances_in_service_render_alone() -> None:
    config = example(100)
    band = surge.bands(config)[3]
    counts: list[float | None] = [band.lower + 1] * 3  # about 11 instances' worth at the surge's target
    rendered = throughput(config).per_second() * PERIOD_S  # one instance, one period, full speed
    enough = math.ceil(counts[0] / rendered)  # instances that render it: the gate at 1 stays shut
    assert surge_policy(config, counts, serving=enough).propose(30.0, enough) is None
    assert surge_policy(config, counts, serving=enough - 1).propose(30.0, enough - 1) == Proposal(
        band.capacity, "sdxl-inf2-prod-surge"
    )
    assert surge_policy(config, counts, serving=0).propose(30.0, 0) == Proposal(band.capacity, "sdxl-inf2-prod-surge")


def test_a_single_burst_neither_starts_nor_enlarges_a_surge() -> None:
    config = example(100)
    bands = surge.bands(config)
    burst = [bands[2].lower + 1, bands[-1].lower + 1, bands[2].lower + 1]  # the smallest of the three counts
    policy = surge_policy(config, burst)
    assert policy.propose(30.0, 1) == Proposal(bands[2].capacity, policy.name)
    quiet = surge_policy(config, [None, bands[-1].lower * 2, None])  # no request: no datapoint, not breaching
    assert quiet.propose(30.0, 1) is None


def load_of(spec: str, maximum: int, seed: int = 1) -> Workload:
    shape = fleet(max_capacity=maximum, min_capacity=0, max_concurrency=13)
    return workload(traffic.merged(spec.split("+"), seed), 0.0, shape, seed)


def run(config: DeployConfig, spec: str, name: str, maximum: int, seed: int = 1) -> Outcome:
    shape = fleet(max_capacity=maximum, min_capacity=0, max_concurrency=13)
    policy = replace(policy_spec(config, name, RequestCount("gateway"), MONDAY), schedules=())
    return simulate(load_of(spec, maximum, seed), shape, Observation(), policy)


def surge_steps(outcome: Outcome) -> list[Any]:
    return [a for a in outcome.activities if a.cause.endswith(surge.KIND)]


def test_the_surge_sizes_the_spike_within_seconds() -> None:
    config = example(250)
    outcome = run(config, "spike:60:12000:30:30:180", "surge", 250)
    first = surge_steps(outcome)[0]
    settings = surge.settings(config)
    detected = settings.period_s * settings.datapoints + Observation().high_resolution_lag_s
    assert SPIKE_START_S < first.time_s <= SPIKE_START_S + detected + settings.period_s
    assert first.time_s % 60  # between two minutes: the loop's one-minute grid did not wait for it
    needed = throughput(config).instances_for(200.0, settings.target_value)  # 12,000 a minute
    assert needed <= first.after < 250  # the whole spike at once, and not the maximum


@pytest.mark.parametrize(
    ("spec", "maximum"),
    [
        ("spike:60:12000:30:30:180", 250),
        ("spike:30:6000:10:20:120+spike:30:6000:10:40:120", 250),  # demand halves at minute 30, still surging
        ("spike:30:3000:60:20:240", 100),
    ],
    ids=["campaign", "step-down", "seed-7-spike"],
)
def test_the_bands_never_take_capacity_down_while_a_backlog_remains(spec: str, maximum: int) -> None:
    outcome = run(example(maximum), spec, "surge", maximum, seed=7)
    downs = [a for a in surge_steps(outcome) if a.after < a.before]
    for step in downs:
        assert outcome.minutes.backlog[int(step.time_s // 60)] == 0, step
    assert all(a.after < maximum for a in outcome.activities)  # no overshoot to a maximum nobody needs


def test_target_tracking_leaves_a_surge_alone() -> None:
    """The handover: no target-tracking scale-out while the instances in service are short of the spike
    (before the surge's start, and in the minute SageMaker's instance count still lags behind) or drain
    the backlog it built."""
    outcome = run(example(100), "spike:30:3000:60:20:240", "surge", 100, seed=7)
    during = [a for a in outcome.activities if 3600 <= a.time_s < 4800 and a.after > a.before]
    assert during and all(a.cause.endswith(surge.KIND) for a in during)
    alone = run(example(100), "spike:30:3000:60:20:240", "usage-rate-demand", 100, seed=7)
    assert not surge_steps(alone)  # usage-rate-demand is the same policy without the surge


def test_its_alarm_is_evaluated_only_where_it_can_fire() -> None:
    """Events between minutes only for evaluations that find the alarm in ALARM: none on a flat trace."""
    outcome = run(example(250), "steady:30:120", "surge", 250)
    assert not surge_steps(outcome)
    assert outcome.end_s == pytest.approx(120 * 60, abs=60)


def test_an_ordinary_day_is_target_trackings_alone() -> None:
    """Half a day above the surge's threshold, never above what the instances in service render: the
    gate stays shut, target tracking never waits, and the day is usage-rate-demand's to the request."""
    config = example(40)
    assert max(demand_per_period(load_of("diurnal:700:1", 40), False)) > surge.handover(config).demand
    day = run(config, "diurnal:700:1", "surge", 40)
    alone = run(config, "diurnal:700:1", "usage-rate-demand", 40)
    assert not surge_steps(day)
    assert [(a.time_s, a.after) for a in day.activities] == [(a.time_s, a.after) for a in alone.activities]
    assert day.done.tolist() == alone.done.tolist()


def test_a_second_spike_before_the_first_surges_cooldown_would_end_is_sized_again() -> None:
    """Two campaign spikes 45 minutes apart: target tracking scales in between them, and the second
    is the surge's again (with an hour's cooldown its band would be held back while target tracking
    waits for it: hours of backlog)."""
    spec = "spike:15:12000:30:15:180+spike:15:12000:75:15:180"
    outcome = run(example(250), spec, "surge", 250)
    starts = [step.time_s for step in surge_steps(outcome) if step.after > step.before]
    assert any(1800 < t <= 1860 for t in starts) and any(4500 < t <= 4560 for t in starts), starts
    assert outcome.minutes.backlog[-1] == 0 and outcome.end_s < 200 * 60  # both drained within the trace


def heartbeat_of(outcome: Outcome) -> InService:
    """The instances' heartbeat, rebuilt from when each was in service."""
    changes = [(i.ready_s, 1) for i in outcome.instances if not math.isnan(i.ready_s)]
    changes += [(i.ended_s, -1) for i in outcome.instances if not math.isnan(i.ready_s) and not math.isnan(i.ended_s)]
    beat = InService()
    for moment, delta in sorted(changes):
        beat.change(moment, delta)
    return beat


def test_the_evaluations_left_out_never_find_the_gated_alarm_in_alarm() -> None:
    """The run evaluates the surge's alarm only where the same alarm on the demand alone is in ALARM
    (known before the run); afterwards, with the fleet's whole heartbeat known, every period shows
    that nothing was left out."""
    config, spec = example(250), "spike:60:12000:30:30:180+spike:600:600:10:100:180"
    outcome = run(config, spec, "surge", 250)
    load = load_of(spec, 250)
    metrics = Metrics({})
    metrics.add(
        DEMAND,
        Observation().high_resolution_lag_s,
        PERIOD_S,
        [float(c) or None for c in demand_per_period(load, False, PERIOD_S)],
    )
    metrics.derive(HEARTBEAT, Observation().high_resolution_lag_s, PERIOD_S, heartbeat_of(outcome).datapoint)
    policy = step_scaling(
        surge.policy_request(config), surge.alarm_request(config, autoscaling.STEP_POLICY_ARN), metrics
    )
    kept = set(evaluations(policy, DEMAND, metrics, load, Observation()))
    everywhere = [k * PERIOD_S for k in range(1, int(outcome.end_s // PERIOD_S)) if (k * PERIOD_S) % MINUTE]
    in_alarm = {t for t in everywhere if policy.alarm.state(t) is State.ALARM}
    assert in_alarm and in_alarm <= kept
    assert len(kept) > len(in_alarm)  # the demand alone is in ALARM where the gate is shut
