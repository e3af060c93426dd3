"""The fleet model against what queueing theory and the model's own constants say it must give.

Long runs only where a statistic needs them: the Erlang C check simulates 400,000 requests (over
15 seeds its sample mean spread 1.4% around Erlang C at that length, so a 5% bound is over 3
standard deviations); the others are minutes of simulated time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sdxl_inf2.deploy.config import load_config
from sdxl_inf2.simulator import traffic
from sdxl_inf2.simulator.report import figures
from sdxl_inf2.simulator.run import Outcome, simulate
from sdxl_inf2.simulator.scenario import (
    DEFAULT_POLICIES,
    Fleet,
    Observation,
    PolicySpec,
    RequestCount,
    Workload,
    policy_spec,
    workload,
)
from tests.aws import EXAMPLE


def fleet(**changes: object) -> Fleet:
    values: dict[str, object] = {
        "workers": 12,
        "max_concurrency": 12,
        "seconds_per_image": 10.0,
        "service_time": "fixed",
        "launch_s": 240.0,
        "download_s": 60.0,
        "load_s": 120.0,
        "ttl_s": 21600.0,
        "min_capacity": 1,
        "max_capacity": 1,
        "initial": 1,
    }
    values.update(changes)
    return Fleet(**values)  # type: ignore[arg-type]


def run_fixed(shape: Fleet, spec: str, seed: int = 1) -> tuple[Workload, Outcome]:
    load = workload(traffic.merged([spec], seed), 0.0, shape, seed)
    return load, simulate(load, shape, Observation(), PolicySpec("none", "SdxlInf2"))


def erlang_c_wait(servers: int, arrival_rate: float, service_s: float) -> float:
    """Mean wait in queue of M/M/c (Erlang C)."""
    offered = arrival_rate * service_s
    tail = offered**servers / math.factorial(servers) / (1 - offered / servers)
    waits = tail / (sum(offered**k / math.factorial(k) for k in range(servers)) + tail)
    return waits / (servers / service_s - arrival_rate)


def test_mean_queue_wait_matches_erlang_c_at_fixed_capacity() -> None:
    """M/M/2: two instances of one worker, Poisson arrivals at utilisation 0.5, exponential service."""
    shape = fleet(workers=1, max_concurrency=1, service_time="exp", min_capacity=2, max_capacity=2, initial=2)
    per_second = 0.5 * 2 / 10.0
    load, outcome = run_fixed(shape, f"poisson:{per_second * 60:g}:66667")
    assert load.arrivals.size > 390_000
    assert outcome.expired == 0 and not np.isnan(outcome.done).any()
    expected = erlang_c_wait(2, per_second, 10.0)  # 3.33 s
    measured = float((outcome.start - load.misses).mean())
    assert measured == pytest.approx(expected, rel=0.05)
    assert figures(outcome, 1.0, 30).mean_wait_s == pytest.approx(measured)


def test_utilisation_with_fixed_service_is_arrival_rate_times_service_over_workers() -> None:
    shape = fleet(workers=12, max_concurrency=12)
    per_minute = 43.2  # 0.72 requests a second: 0.72 x 10 / 12 = 0.6
    load, outcome = run_fixed(shape, f"poisson:{per_minute}:600")
    busy = 1 - figures(outcome, 1.0, 30).idle_worker_share
    assert busy == pytest.approx(load.arrivals.size * 10.0 / (12 * outcome.end_s), rel=1e-9)  # the bookkeeping
    assert busy == pytest.approx(per_minute / 60 * 10.0 / 12, rel=0.01)  # lambda x S / workers


def test_max_concurrency_below_the_workers_caps_utilisation() -> None:
    shape = fleet(workers=12, max_concurrency=6)
    _, outcome = run_fixed(shape, "steady:60:120")  # 10 s x 1 a second = 10 workers' worth of demand
    result = figures(outcome, 1.0, 30)
    assert 1 - result.idle_worker_share <= 0.5 + 1e-9  # never more than 6 of the 12 workers busy
    assert result.peak_backlog > 0


def single_request(policy: str, lag_s: float, **constants: float) -> float:
    config = load_config(EXAMPLE)
    shape = fleet(min_capacity=0, max_capacity=4, initial=0, **constants)
    load = workload(traffic.merged(["steady:1:1"], 1), 0.0, shape, 1)  # one request, at t = 0
    observation = Observation(sagemaker_lag_s=lag_s)
    outcome = simulate(
        load, shape, observation, policy_spec(config, policy, RequestCount("gateway"), observation.start)
    )
    assert len(outcome.activities) >= 1 and outcome.activities[0].cause.endswith("scale-from-zero")
    return float(outcome.done[0] - load.arrivals[0])


@pytest.mark.parametrize("policy", DEFAULT_POLICIES)
def test_from_zero_one_request_takes_the_alarm_minutes_plus_start_up_plus_service(policy: str) -> None:
    """HasBacklogWithoutCapacity needs 2 of 2 one-minute datapoints; then launch, download, load, one image."""
    assert single_request(policy, 0.0) == 2 * 60 + 240 + 60 + 120 + 10
    assert single_request(policy, 60.0) == 60 + 2 * 60 + 240 + 60 + 120 + 10  # the lag delays the alarm a minute
    constants = {"launch_s": 100.0, "download_s": 30.0, "load_s": 50.0, "seconds_per_image": 7.0}
    assert single_request(policy, 0.0, **constants) == 120 + 100 + 30 + 50 + 7


def test_requests_expire_after_the_ttl_without_capacity() -> None:
    shape = fleet(min_capacity=0, max_capacity=0, initial=0, ttl_s=120.0)
    load, outcome = run_fixed(shape, "steady:10:5")
    assert outcome.expired == load.arrivals.size == 50
    assert figures(outcome, 1.0, 30).completed == 0


def test_the_container_count_saturates_and_scales_by_at_most_one_over_the_target() -> None:
    """Overload: the container counts what it finishes, so its usage rate stays near 1 and each scale-out
    multiplies capacity by at most ceil(x / 0.75); the demand count sees the whole spike at once."""
    config = load_config(EXAMPLE)
    shape = fleet(min_capacity=1, max_capacity=60, initial=1)
    load = workload(traffic.merged(["spike:30:3000:5:60:90"], 3), 0.0, shape, 3)
    runs = {}
    for name in ("usage-rate-container", "usage-rate-demand"):
        spec = policy_spec(config, name, RequestCount("gateway"), Observation().start)
        runs[name] = simulate(load, shape, Observation(), spec)
    outs = [a for a in runs["usage-rate-container"].activities if a.after > a.before and "usage-rate" in a.cause]
    assert len(outs) >= 5
    assert all(a.after <= math.ceil(a.before / 0.75) for a in outs)
    first_demand = next(a for a in runs["usage-rate-demand"].activities if a.after > a.before)
    assert first_demand.after >= 20  # 3,000 a minute over 72 per instance at 0.75
    late = figures(runs["usage-rate-container"], 1.0, 60)
    early = figures(runs["usage-rate-demand"], 1.0, 60)
    assert late.p95_s is not None and early.p95_s is not None and late.p95_s > 2 * early.p95_s


def test_cache_hits_never_reach_the_queue_and_count_as_completed() -> None:
    shape = fleet()
    load = workload(traffic.merged(["poisson:30:60"], 5), 0.4, shape, 5)
    outcome = simulate(load, shape, Observation(), PolicySpec("none", "SdxlInf2"))
    result = figures(outcome, 1.0, 30)
    assert 0.3 < result.cache_hits / result.requests < 0.5
    assert outcome.done.size == result.requests - result.cache_hits
    assert result.completed == result.requests
