"""The simulator's CloudWatch: metric math on missing data, the usage-rate expression deploy writes,
publication lag, and alarm evaluation checked against the CloudWatch User Guide's own tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdxl_inf2.deploy import autoscaling
from sdxl_inf2.deploy.config import load_config
from sdxl_inf2.deploy.metric_math import MetricMathError, compile_expression
from sdxl_inf2.deploy.sizing import requests_metric
from sdxl_inf2.simulator.cloudwatch import Alarm, Metrics, State, judge, metric_math, single_metric
from sdxl_inf2.simulator.errors import SimulationError
from sdxl_inf2.simulator.run import INSTANCES, requests_key
from sdxl_inf2.simulator.scenario import PolicySpec
from tests.aws import write_config

MISSING = None


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("m1 + m2 * 2", {"m1": 1.0, "m2": 3.0}, 7.0),
        ("(m1 + m2) * 2 ^ 2", {"m1": 1.0, "m2": 3.0}, 16.0),
        ("-m1 / 4", {"m1": 2.0}, -0.5),
        ("m1 - m2", {"m1": 5.0, "m2": MISSING}, 5.0),  # a missing value next to a datapoint counts as 0
        ("m1 - m2", {"m1": MISSING, "m2": MISSING}, MISSING),  # no datapoint in any series: none
        ("m1 / m2", {"m1": 5.0, "m2": 0.0}, MISSING),  # division by zero drops the datapoint
        ("m1 > 15 AND m2 > 15", {"m1": 30.0, "m2": 20.0}, 1.0),
        ("m1 > 15 && m2 > 15", {"m1": 30.0, "m2": MISSING}, 0.0),
        ("m1 < m2", {"m1": 0.0, "m2": MISSING}, 0.0),
        ("m1 < 1 || m2 > 1", {"m1": 3.0, "m2": 2.0}, 1.0),
        ("FILL(m1, 0)", {"m1": MISSING}, 0.0),  # FILL: the number where the series has no datapoint
        ("FILL(m1, 0) + 2", {"m1": 3.0}, 5.0),
        ("m2 >= 2 * FILL(m1, 0)", {"m1": MISSING, "m2": MISSING}, 1.0),  # the filled series has a datapoint
    ],
)
def test_arithmetic_and_comparisons_on_missing_data(
    text: str, values: dict[str, float | None], expected: float | None
) -> None:
    assert compile_expression(text, {"m1", "m2"}).evaluate(values) == expected


# The User Guide's table for IF(metric1, metric2, metric3) and IF(metric1, metric2, scalar3).
IF_ROWS = [
    # metric1, metric2, metric3, IF(m1, m2, m3), IF(m1, m2, 5)
    (1.0, 30.0, 0.0, 30.0, 30.0),
    (1.0, MISSING, 0.0, 0.0, 0.0),
    (0.0, 0.0, 20.0, 20.0, 5.0),
    (0.0, 0.0, MISSING, MISSING, 5.0),
    (MISSING, 30.0, 20.0, MISSING, MISSING),
]


@pytest.mark.parametrize(("m1", "m2", "m3", "with_series", "with_scalar"), IF_ROWS)
def test_if_follows_the_user_guides_table(
    m1: float | None, m2: float | None, m3: float | None, with_series: float | None, with_scalar: float | None
) -> None:
    ids = {"m1", "m2", "m3"}
    values = {"m1": m1, "m2": m2, "m3": m3}
    assert compile_expression("IF(m1, m2, m3)", ids).evaluate(values) == with_series
    assert compile_expression("IF(m1, m2, 5)", ids).evaluate(values) == with_scalar


def test_the_usage_rate_expression_deploy_writes(tmp_path: Path) -> None:
    """Read from deploy's own policy request: no datapoint at zero instances, 0 when no request came."""
    policy = autoscaling.usage_rate_policy(load_config(write_config(tmp_path)))
    queries = policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]["Metrics"]
    expression = compile_expression(queries[-1]["Expression"], {"m1", "m2"})
    assert expression.text == "IF(m1 != 0, m2 / (m1 * 60 / 10 * 12))"
    assert expression.evaluate({"m1": 1.0, "m2": 54.0}) == pytest.approx(0.75)  # 54 of 72 images a minute
    assert expression.evaluate({"m1": 4.0, "m2": 576.0}) == pytest.approx(2.0)
    assert expression.evaluate({"m1": 2.0, "m2": MISSING}) == 0.0
    assert expression.evaluate({"m1": MISSING, "m2": 40.0}) is MISSING


def test_the_expression_follows_the_config(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, **{"autoscaling.usage_rate.seconds_per_image": 5}))
    queries = autoscaling.usage_rate_policy(config)["TargetTrackingScalingPolicyConfiguration"][
        "CustomizedMetricSpecification"
    ]["Metrics"]
    spec = PolicySpec("usage-rate-container", config.container_metric_namespace, requests_metric(config))
    metrics = Metrics({INSTANCES: 0.0, requests_key(spec): 0.0})
    query = metric_math(metrics, queries)
    metrics.publish(INSTANCES, 0, 1.0)
    metrics.publish(requests_key(spec), 0, 108.0)
    assert query.value(0) == pytest.approx(0.75)  # 108 of 144 images a minute at 5 s


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("m1 +", "expected more"),
        ("DIFF(m1)", "DIFF is not modelled"),
        ("FILL(m1)", "FILL takes a series and the number"),
        ("m3 / 2", "unknown id 'm3'"),
        ("m1 $ 2", "cannot read"),
        ("IF(m1)", "IF takes"),
        ("(m1 + 2", "expected )"),
    ],
)
def test_expressions_outside_the_subset_are_one_line_errors(text: str, problem: str) -> None:
    with pytest.raises(MetricMathError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        compile_expression(text, {"m1", "m2"})


def test_a_metric_the_simulator_does_not_publish_is_named() -> None:
    metrics = Metrics({INSTANCES: 0.0})
    with pytest.raises(SimulationError, match=r"ModelLatency \(Average\) per 60 s, which is not modelled"):
        single_metric(metrics, ("AWS/SageMaker", "ModelLatency", "Average"))


def test_a_datapoint_is_seen_after_its_minute_ends_plus_the_lag() -> None:
    metrics = Metrics({INSTANCES: 60.0})
    query = single_metric(metrics, INSTANCES)
    assert query.latest_index(119.0) == -1  # minute 0 ends at 60, seen from 120
    assert query.latest_index(120.0) == 0
    assert query.latest_index(200.0) == 1


# The User Guide's tables ("How alarm state is evaluated when data is missing"): 5 datapoints
# retrieved, oldest first; 0 not breaching, X breaching, - missing.
GUIDE_3_OF_3 = [
    ("0 - X - X", {"missing": "OK", "breaching": "OK", "notBreaching": "OK"}),
    ("0 - - - -", {"missing": "OK", "breaching": "OK", "notBreaching": "OK"}),
    ("- - - - -", {"missing": "INSUFFICIENT_DATA", "breaching": "ALARM", "notBreaching": "OK"}),
    ("0 X X - X", {"missing": "ALARM", "breaching": "ALARM", "notBreaching": "ALARM"}),
    ("- - - - X", {"missing": "INSUFFICIENT_DATA", "breaching": "ALARM", "notBreaching": "OK"}),
]
GUIDE_2_OF_3 = [
    ("0 - X - X", {"missing": "ALARM", "breaching": "ALARM", "notBreaching": "ALARM"}),
    ("0 0 X 0 X", {"missing": "ALARM", "breaching": "ALARM", "notBreaching": "ALARM"}),
    ("0 - X - -", {"missing": "OK", "breaching": "ALARM", "notBreaching": "OK"}),
    ("- - - - 0", {"missing": "OK", "breaching": "ALARM", "notBreaching": "OK"}),
    ("- - - - X", {"missing": "INSUFFICIENT_DATA", "breaching": "ALARM", "notBreaching": "OK"}),
]


def _alarm(n: int, m: int, treat: str) -> Alarm:
    return Alarm(single_metric(Metrics({INSTANCES: 0.0}), INSTANCES), 1.0, "GreaterThanThreshold", n, m, treat)


@pytest.mark.parametrize(("n", "m", "rows"), [(3, 3, GUIDE_3_OF_3), (3, 2, GUIDE_2_OF_3)])
def test_alarm_states_match_the_user_guides_tables(n: int, m: int, rows: list[tuple[str, dict[str, str]]]) -> None:
    for points, states in rows:
        window = [{"0": False, "X": True, "-": None}[p] for p in points.split()]
        for treat, expected in states.items():
            assert judge(window, _alarm(n, m, treat)) is State(expected), (points, treat)


def test_an_alarm_reads_the_last_n_plus_two_minutes_through_the_lag() -> None:
    metrics = Metrics({INSTANCES: 60.0})
    alarm = Alarm(single_metric(metrics, INSTANCES), 1.0, "GreaterThanOrEqualToThreshold", 2, 2)
    metrics.publish(INSTANCES, 0, 1.0)
    metrics.publish(INSTANCES, 1, 1.0)
    assert alarm.state(120.0) is State.INSUFFICIENT_DATA  # minute 0 visible, minute 1 not yet
    assert alarm.state(180.0) is State.ALARM
    assert alarm.latest_value(180.0) == 1.0
    metrics.publish(INSTANCES, 2, 0.0)
    assert alarm.state(240.0) is State.OK


def test_a_period_read_before_it_is_published_is_read_again() -> None:
    """Queries keep each period's value once every series has published it, and only then."""
    metrics = Metrics({INSTANCES: 0.0})
    query = single_metric(metrics, INSTANCES)
    assert query.value(0) is MISSING  # not yet published: not kept
    metrics.publish(INSTANCES, 0, 3.0)
    assert query.value(0) == 3.0
    assert query.known == {0: 3.0}
