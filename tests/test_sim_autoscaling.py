"""Application Auto Scaling as the simulator models it: target tracking's desired-capacity formula, its
cooldowns, no scale-in without data, the step policy, the largest capacity winning, updates refused
while the endpoint updates, and scheduled actions (AWS cron with a time zone)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from sdxl_inf2.deploy import autoscaling
from sdxl_inf2.deploy import surge as deploy_surge
from sdxl_inf2.deploy.config import load_config
from sdxl_inf2.simulator.capacity import Proposal, ScalableTarget, winner
from sdxl_inf2.simulator.cloudwatch import Metrics
from sdxl_inf2.simulator.errors import SimulationError
from sdxl_inf2.simulator.policies import AlarmShape, TargetTracking, proportional, step_scaling, target_tracking
from sdxl_inf2.simulator.run import BACKLOG_PER_INSTANCE, WITHOUT_CAPACITY
from sdxl_inf2.simulator.scenario import MONDAY, RequestCount, policy_spec, with_counting
from sdxl_inf2.simulator.schedule import UTC, cron_matcher, firing_rule
from tests.aws import EXAMPLE, write_config

MINUTE = 60.0


def backlog_policy(tmp_path: Path, **changes: object) -> tuple[TargetTracking, Metrics]:
    """deploy's backlog target tracking (target 5, cooldowns from the config), on a metric with no lag."""
    config = load_config(write_config(tmp_path, **changes))
    metrics = Metrics({BACKLOG_PER_INSTANCE: 0.0})
    return target_tracking(autoscaling.backlog_policy(config), metrics, AlarmShape()), metrics


def feed(metrics: Metrics, values: list[float | None], first_minute: int = 0) -> float:
    """Publishes one datapoint a minute; returns the time at which the last one is visible."""
    for offset, value in enumerate(values):
        metrics.publish(BACKLOG_PER_INSTANCE, first_minute + offset, value)
    return (first_minute + len(values)) * MINUTE


@pytest.mark.parametrize(
    ("capacity", "metric", "target", "expected"),
    [
        (4, 7.5, 5.0, 6),
        (4, 5.0, 5.0, 4),
        (3, 0.76, 0.75, 4),
        (10, 0.1, 0.75, 2),
        (4, 0.75, 0.75, 4),
        (1, 41.7, 0.75, 56),
    ],
)
def test_desired_capacity_is_ceil_of_capacity_times_metric_over_target(
    capacity: int, metric: float, target: float, expected: int
) -> None:
    assert proportional(capacity, metric, target) == expected


def test_scale_out_needs_three_minutes_above_the_target(tmp_path: Path) -> None:
    policy, metrics = backlog_policy(tmp_path)
    now = feed(metrics, [2.0, 9.0, 9.0])
    assert policy.propose(now, current=4) is None  # 2 of 3 above: the high alarm stays OK
    now = feed(metrics, [10.0], first_minute=3)
    proposal = policy.propose(now, current=4)
    assert proposal == Proposal(8, policy.name)  # ceil(4 x 10 / 5), from the latest datapoint


def test_the_scale_out_cooldown_lets_only_a_higher_metric_scale_further(tmp_path: Path) -> None:
    policy, metrics = backlog_policy(tmp_path)  # ScaleOutCooldown 300 (the config's)
    now = feed(metrics, [10.0, 10.0, 10.0])
    assert policy.propose(now, 4) == Proposal(8, policy.name)
    policy.applied(now, before=4, after=8)
    now = feed(metrics, [10.0], first_minute=3)
    assert policy.propose(now, 8) is None  # the 4 added count toward this one: ceil(4 x 10 / 5) = 8
    now = feed(metrics, [15.0], first_minute=4)
    assert policy.propose(now, 8) == Proposal(12, policy.name)  # a larger scale-out: ceil(4 x 15 / 5)
    policy.applied(now, before=8, after=12)
    now = feed(metrics, [10.0] * 5, first_minute=5)  # 300 s after the last scale-out: cooldown over
    assert policy.propose(now, 12) == Proposal(24, policy.name)


def test_scale_in_waits_for_fifteen_low_minutes_and_its_cooldown(tmp_path: Path) -> None:
    policy, metrics = backlog_policy(tmp_path)  # ScaleInCooldown 600
    now = feed(metrics, [1.0] * 14)
    assert policy.propose(now, 10) is None  # 14 of 15 below 4.5
    now = feed(metrics, [1.0], first_minute=14)
    assert policy.propose(now, 10) == Proposal(2, policy.name)  # ceil(10 x 1 / 5)
    policy.applied(now, before=10, after=2)
    now = feed(metrics, [0.0] * 9, first_minute=15)
    assert policy.propose(now, 2) is None  # 540 s into the 600 s scale-in cooldown
    now = feed(metrics, [0.0], first_minute=24)
    assert policy.propose(now, 2) == Proposal(0, policy.name)


def test_a_scale_out_is_not_held_by_the_scale_in_cooldown(tmp_path: Path) -> None:
    policy, metrics = backlog_policy(tmp_path)
    now = feed(metrics, [1.0] * 15)
    policy.applied(now, before=10, after=2)
    now = feed(metrics, [20.0] * 3, first_minute=15)
    assert policy.propose(now, 2) == Proposal(8, policy.name)


def test_no_scale_in_without_data(tmp_path: Path) -> None:
    policy, metrics = backlog_policy(tmp_path)
    now = feed(metrics, [None] * 30)
    assert policy.low.state(now).value == "INSUFFICIENT_DATA"
    assert policy.propose(now, 5) is None
    now = feed(metrics, [1.0] * 3, first_minute=30)  # 3 real datapoints, all low, 12 missing: still not 15
    assert policy.low.state(now).value == "INSUFFICIENT_DATA"
    assert policy.propose(now, 5) is None


def test_disable_scale_in_is_read_from_the_request(tmp_path: Path) -> None:
    request = autoscaling.backlog_policy(load_config(write_config(tmp_path)))
    request["TargetTrackingScalingPolicyConfiguration"]["DisableScaleIn"] = True
    metrics = Metrics({BACKLOG_PER_INSTANCE: 0.0})
    policy = target_tracking(request, metrics, AlarmShape())
    assert policy.propose(feed(metrics, [0.0] * 20), 5) is None


def test_target_tracking_from_zero_computes_with_one_instance(tmp_path: Path) -> None:
    policy, metrics = backlog_policy(tmp_path)
    assert policy.propose(feed(metrics, [40.0] * 3), 0) == Proposal(8, policy.name)


def test_the_step_policy_adds_one_while_its_alarm_fires_once_per_cooldown() -> None:
    config = load_config(EXAMPLE)  # cooldown 300 s; alarm 2 of 2 minutes >= 1
    metrics = Metrics({WITHOUT_CAPACITY: 0.0})
    step = step_scaling(
        autoscaling.step_policy(config), autoscaling.alarm_request(config, autoscaling.STEP_POLICY_ARN), metrics
    )
    for minute in range(10):
        metrics.publish(WITHOUT_CAPACITY, minute, 1.0)
    assert step.propose(1 * MINUTE, 0) is None  # one datapoint of two
    assert step.propose(2 * MINUTE, 0) == Proposal(1, step.name)
    step.applied(2 * MINUTE, 0, 1)
    assert step.propose(6 * MINUTE, 1) is None  # within its 300 s cooldown
    assert step.propose(7 * MINUTE, 1) == Proposal(2, step.name)


def test_the_largest_capacity_wins_and_scale_out_beats_scale_in() -> None:
    assert winner(4, [Proposal(6, "a"), Proposal(9, "b")]) == Proposal(9, "b")
    assert winner(4, [Proposal(2, "a"), Proposal(5, "b")]) == Proposal(5, "b")
    assert winner(4, [Proposal(1, "a"), Proposal(3, "b")]) == Proposal(3, "b")
    assert winner(4, [Proposal(4, "a")]) is None


def test_changes_are_clamped_and_refused_while_instances_start() -> None:
    resized: list[int] = []
    starting = [True]
    target = ScalableTarget(0, 10, 2, True, lambda: starting[0], resized.append)
    assert not target.apply(Proposal(5, "p"), 0.0)  # the endpoint is Updating
    assert target.refused == 1
    starting[0] = False
    assert target.apply(Proposal(50, "p"), 60.0)
    assert (target.desired, resized) == (10, [10])
    assert not target.apply(Proposal(12, "p"), 120.0)  # already at max
    concurrent = ScalableTarget(0, 10, 2, False, lambda: True, resized.append)
    assert concurrent.apply(Proposal(5, "p"), 0.0)


def test_aws_cron_fields_and_day_numbers() -> None:
    weekdays_at_8 = cron_matcher("0 8 ? * MON-FRI *", "test")
    assert weekdays_at_8(datetime(2026, 1, 5, 8, 0))  # a Monday
    assert not weekdays_at_8(datetime(2026, 1, 5, 8, 1))
    assert not weekdays_at_8(datetime(2026, 1, 4, 8, 0))  # a Sunday
    sundays = cron_matcher("*/15 * ? * 1 2026", "test")  # AWS: 1 = Sunday
    assert sundays(datetime(2026, 1, 4, 13, 45))
    assert not sundays(datetime(2027, 1, 3, 13, 45))
    assert cron_matcher("30 6 1,15 JAN-MAR ? *", "test")(datetime(2026, 2, 15, 6, 30))


def test_schedules_fire_in_their_time_zone_within_their_window() -> None:
    london = firing_rule("cron(0 8 ? * MON-FRI *)", "Europe/London", None, None, MONDAY, "s")
    assert london.at(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))  # GMT in January
    assert london.at(datetime(2026, 7, 6, 7, 0, tzinfo=UTC))  # BST in July: 08:00 local
    windowed = firing_rule("rate(2 hours)", None, datetime(2026, 1, 5, 1, 0, tzinfo=UTC), None, MONDAY, "s")
    assert not windowed.at(datetime(2026, 1, 5, 0, 0, tzinfo=UTC))  # before StartTime
    assert windowed.at(datetime(2026, 1, 5, 3, 0, tzinfo=UTC))
    once = firing_rule("at(2026-01-05T12:30:00)", "UTC", None, None, MONDAY, "s")
    assert once.at(datetime(2026, 1, 5, 12, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("schedule", "timezone", "problem"),
    [
        ("cron(0 8 * *)", None, "six fields"),
        ("cron(0 8 L * ? *)", None, "L, W, # are not modelled"),
        ("cron(0 25 ? * * *)", None, "outside 0-23"),
        ("rate(5 weeks)", None, "N minutes|hours|days"),
        ("cron(0 8 ? * * *)", "Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_schedules_are_one_line_errors(schedule: str, timezone: str | None, problem: str) -> None:
    with pytest.raises(SimulationError, match=problem.replace("|", r"\|")):
        firing_rule(schedule, timezone, None, None, MONDAY, "scheduled action x")


def test_the_policies_come_from_deploys_builders() -> None:
    config = load_config(EXAMPLE)
    assert config.surge_enabled  # the example counts demand at its gateway: the surge is on
    surge_off = with_counting(config, "gateway", surge=False)
    demand = policy_spec(config, "usage-rate-demand", RequestCount("gateway"), MONDAY)
    assert demand.target_tracking == autoscaling.usage_rate_policy(surge_off)
    scale_from_zero = (autoscaling.step_policy(config), autoscaling.alarm_request(config, autoscaling.STEP_POLICY_ARN))
    assert list(demand.steps) == [scale_from_zero]
    surge = policy_spec(config, "surge", RequestCount("gateway"), MONDAY)
    assert surge.target_tracking == autoscaling.usage_rate_policy(config)  # as deploy builds it, handover included
    surge_step = (deploy_surge.policy_request(config), deploy_surge.alarm_request(config, autoscaling.STEP_POLICY_ARN))
    assert list(surge.steps) == [scale_from_zero, surge_step]
    assert surge.request_count == demand.request_count
    assert [a.name for a in demand.schedules] == [
        r["ScheduledActionName"] for r in autoscaling.schedule_requests(config)
    ]
    assert policy_spec(config, "backlog", demand.request_count, MONDAY).target_tracking == autoscaling.backlog_policy(
        config
    )
    assert policy_spec(config, "usage-rate-container", demand.request_count, MONDAY).request_count.source == "container"
