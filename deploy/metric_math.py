"""CloudWatch metric math, the subset the scaling policies use, evaluated on fetched datapoints.

`status` shows the value the usage-rate policy tracks. Real CloudWatch evaluates the policy's
expression; moto stores it and returns no values. So `status` fetches the datapoints of the policy's
own metric queries and evaluates the policy's own expression here (deploy/autoscaling.py stays the
one place that writes it). Supported: numbers, query ids, `+ - * /`, comparisons, parentheses and
`IF(condition, value[, else])`. As in CloudWatch, a timestamp where a referenced query has no
datapoint, or where an IF without an else is false, has no result.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from datetime import datetime

Series = Mapping[datetime, float]

_ARITHMETIC: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARISONS: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class MetricMathError(ValueError):
    """The expression uses something this evaluator does not support."""


class _NoValue(Exception):
    """This timestamp has no result (a missing datapoint, an IF without else, a division by zero)."""


def evaluate(expression: str, series: Mapping[str, Series]) -> dict[datetime, float]:
    """The expression's value at every timestamp of the series it reads (where it has one)."""
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        raise MetricMathError(f"cannot parse metric math {expression!r}") from None
    timestamps = sorted(set().union(*(set(values) for values in series.values()))) if series else []
    results: dict[datetime, float] = {}
    for timestamp in timestamps:
        try:
            results[timestamp] = _value(tree, {name: values.get(timestamp) for name, values in series.items()})
        except _NoValue:
            continue
    return results


def _value(node: ast.expr, point: Mapping[str, float | None]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        return _datapoint(node.id, point)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand, point)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = _value(node.left, point), _value(node.right, point)
        if isinstance(node.op, ast.Div) and right == 0:
            raise _NoValue
        return _ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARISONS:
        compare = _COMPARISONS[type(node.ops[0])]
        return 1.0 if compare(_value(node.left, point), _value(node.comparators[0], point)) else 0.0
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "IF" and not node.keywords:
        return _if(node.args, point)
    raise MetricMathError(f"unsupported in metric math here: {ast.unparse(node)!r}")


def _datapoint(name: str, point: Mapping[str, float | None]) -> float:
    if name not in point:
        raise MetricMathError(f"metric math names {name!r}, which is not one of the queries")
    value = point[name]
    if value is None:
        raise _NoValue
    return value


def _if(args: list[ast.expr], point: Mapping[str, float | None]) -> float:
    if len(args) not in (2, 3):
        raise MetricMathError("IF takes a condition, a value and an optional else value")
    if _value(args[0], point) != 0:
        return _value(args[1], point)
    if len(args) == 3:
        return _value(args[2], point)
    raise _NoValue
