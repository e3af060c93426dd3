"""The surge policy in the simulator: high-resolution datapoints, ExactCapacity step scaling with its
cooldown, the surge's decisions between minutes, and the bands never taking capacity down while a
backlog remains."""

from __future__ import annotations

from typing import Any

import pytest

from sdxl_inf2.deploy import autoscaling, surge
from sdxl_inf2.deploy.config import DeployConfig, load_config
from sdxl_inf2.deploy.sizing import throughput
from sdxl_inf2.simulator import traffic
from sdxl_inf2.simulator.capacity import Proposal
from sdxl_inf2.simulator.cli import with_bounds
from sdxl_inf2.simulator.cloudwatch import Metrics, single_metric
from sdxl_inf2.simulator.errors import SimulationError
from sdxl_inf2.simulator.policies import StepScaling, step_scaling
from sdxl_inf2.simulator.run import Outcome, simulate
from sdxl_inf2.simulator.scenario import MONDAY, Observation, RequestCount, policy_spec, workload
from tests.aws import EXAMPLE
from tests.test_sim_model import fleet

DEMAND = ("SdxlInf2", "CacheMisses", "Sum")
SPIKE_START_S = 1800.0


def example(maximum: int) -> DeployConfig:
    return with_bounds(load_config(EXAMPLE), None, maximum)


def surge_policy(config: DeployConfig, counts: list[float | None], lag_s: float = 0.0) -> StepScaling:
    """deploy's surge requests over a demand series known in advance (one count per 10 s)."""
    metrics = Metrics({})
    metrics.add(DEMAND, lag_s, 10.0, list(counts))
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


def test_a_single_burst_neither_starts_nor_enlarges_a_surge() -> None:
    config = example(100)
    bands = surge.bands(config)
    burst = [bands[2].lower + 1, bands[-1].lower + 1, bands[2].lower + 1]  # the smallest of the three counts
    policy = surge_policy(config, burst)
    assert policy.propose(30.0, 1) == Proposal(bands[2].capacity, policy.name)
    quiet = surge_policy(config, [None, bands[-1].lower * 2, None])  # no request: no datapoint, not breaching
    assert quiet.propose(30.0, 1) is None


def run(config: DeployConfig, spec: str, name: str, maximum: int, seed: int = 1) -> Outcome:
    shape = fleet(max_capacity=maximum, min_capacity=0, max_concurrency=13)
    load = workload(traffic.merged(spec.split("+"), seed), 0.0, shape, seed)
    observation = Observation()
    policy = policy_spec(config, name, RequestCount("gateway"), MONDAY)
    return simulate(load, shape, observation, policy)


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
    """The handover: no target-tracking scale-out from the instances in service before the surge's start."""
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
