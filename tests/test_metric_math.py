"""The metric-math evaluator `status` uses for the usage-rate policy (moto returns no math values)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from deploy.autoscaling import usage_rate_expression
from deploy.metric_math import MetricMathError, evaluate

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)  # noqa: UP017
T1, T2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)


def test_the_usage_rate_policys_own_expression() -> None:
    expression = usage_rate_expression(10, 12)
    series = {"m1": {T0: 2.0, T1: 0.0, T2: 1.0}, "m2": {T0: 36.0, T1: 5.0}}
    # T0: 36 requests over 2 instances x 6 images/min x 12 workers; T1: no instance, no datapoint (not a
    # division by zero); T2: no requests datapoint, so no value, as in CloudWatch
    assert evaluate(expression, series) == {T0: pytest.approx(36 / 144)}


def test_arithmetic_comparisons_and_else() -> None:
    assert evaluate("IF(m1 > 1, m1 * 2, -m1) + 1 - 0.5", {"m1": {T0: 3.0, T1: 1.0}}) == {T0: 6.5, T1: -0.5}
    assert evaluate("m1 == m2", {"m1": {T0: 1.0, T1: 2.0}, "m2": {T0: 1.0, T1: 3.0}}) == {T0: 1.0, T1: 0.0}


def test_a_division_by_zero_has_no_value() -> None:
    assert evaluate("m1 / m2", {"m1": {T0: 1.0, T1: 4.0}, "m2": {T0: 0.0, T1: 2.0}}) == {T1: 2.0}


@pytest.mark.parametrize("expression", ["FILL(m1, 0)", "m1 ** 2", "m3 + 1", "m1 +", "IF(m1)", "m1 < m1 < m1"])
def test_what_it_does_not_support_is_an_error(expression: str) -> None:
    with pytest.raises(MetricMathError):
        evaluate(expression, {"m1": {T0: 1.0}})
