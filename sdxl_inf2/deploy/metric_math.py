"""CloudWatch metric math, the subset deploy writes: numbers, ids, + - * / ^, comparisons, AND/OR, IF, FILL.

One evaluator for every reader of the policies deploy builds: `status` (moto and other stand-ins
store the usage-rate expression but return no values for it) and the fleet simulator.

An expression is parsed once and evaluated per timestamp. Each operand is either a scalar (a
number) or a time series, whose value at a timestamp may be missing. The rules are CloudWatch's
(Amazon CloudWatch User Guide, "Using metric math"):

- arithmetic and comparisons treat a missing value as 0 when the other series has a datapoint;
  with no datapoint in any series operand there is none in the result;
- a division by zero drops the datapoint;
- IF(condition, a, b): no datapoint where the condition has none; true -> a (a missing series
  value counts as 0); false -> b, or no datapoint when b is omitted;
- FILL(series, number): the number wherever the series has no datapoint (REPEAT and LINEAR, which
  need the neighbouring datapoints, are not modelled).

So `IF(m1 != 0, m2 / (m1 * 60 / 10 * 12))` yields nothing with no instance, and 0 when instances
run but the request count has no datapoint (no request that minute).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn

from .errors import DeployError


class MetricMathError(DeployError):
    """An expression outside the modelled subset, or naming an unknown id; one line."""


@dataclass(frozen=True)
class Value:
    number: float | None  # None: no datapoint at this timestamp
    series: bool  # a time series (True) or a scalar


Values = Mapping[str, float | None]  # every id's datapoint at one timestamp
Node = Callable[[Values], Value]

_TOKEN = re.compile(
    r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|&&|\|\||[-+*/^(),<>]))"
)
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "^": operator.pow,
}
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_LOGICAL: dict[str, Callable[[float, float], bool]] = {
    "AND": lambda a, b: bool(a) and bool(b),
    "OR": lambda a, b: bool(a) or bool(b),
}


def tokens(expression: str) -> list[str]:
    found, position = [], 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise MetricMathError(f"metric math {expression!r}: cannot read {text[position:].strip()[:20]!r}")
        found.append(next(group for group in match.groups() if group is not None))
        position = match.end()
    return found


class _Parser:
    """Recursive descent, lowest precedence first: OR, AND, comparison, + -, * /, ^, unary -."""

    def __init__(self, expression: str, ids: set[str]) -> None:
        self.expression = expression
        self.tokens = tokens(expression)
        self.position = 0
        self.ids = ids

    def parse(self) -> Node:
        node = self.logical(("OR", "||"))
        if self.position != len(self.tokens):
            self.fail(f"unexpected {self.tokens[self.position]!r}")
        return node

    def fail(self, problem: str) -> NoReturn:
        raise MetricMathError(f"metric math {self.expression!r}: {problem}")

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            self.fail(f"expected {expected or 'more'} at the end" if token is None else f"expected {expected}")
        self.position += 1
        return token

    def logical(self, names: tuple[str, str]) -> Node:
        lower = self.comparison if names[0] == "AND" else lambda: self.logical(("AND", "&&"))
        node = lower()
        while self.peek() in names:
            self.take()
            node = _binary(_LOGICAL[names[0]], node, lower())
        return node

    def comparison(self) -> Node:
        node = self.sum()
        token = self.peek()
        if token in _COMPARISONS:
            self.take()
            node = _binary(_COMPARISONS[token], node, self.sum())
        return node

    def sum(self) -> Node:
        return self._left_associative(("+", "-"), self.product)

    def product(self) -> Node:
        return self._left_associative(("*", "/"), self.power)

    def _left_associative(self, symbols: tuple[str, str], lower: Callable[[], Node]) -> Node:
        node = lower()
        while self.peek() in symbols:
            node = _binary(_ARITHMETIC[self.take()], node, lower())
        return node

    def power(self) -> Node:
        node = self.unary()
        if self.peek() == "^":
            self.take()
            node = _binary(_ARITHMETIC["^"], node, self.power())
        return node

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            inner = self.unary()
            return lambda values: _negate(inner(values))
        return self.atom()

    def atom(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.logical(("OR", "||"))
            self.take(")")
            return node
        if token[0].isdigit() or token[0] == ".":
            number = float(token)
            return lambda values: Value(number, series=False)
        if self.peek() == "(":
            return self.function(token)
        if token not in self.ids:
            self.fail(f"unknown id {token!r} (known: {', '.join(sorted(self.ids))})")
        return lambda values: Value(values[token], series=True)

    def function(self, name: str) -> Node:
        if name not in ("IF", "FILL"):
            self.fail(f"function {name} is not modelled (only IF and FILL)")
        self.take("(")
        arguments = [self.logical(("OR", "||"))]
        while self.peek() == ",":
            self.take()
            arguments.append(self.logical(("OR", "||")))
        self.take(")")
        if name == "FILL":
            if len(arguments) != 2:
                self.fail("FILL takes a series and the number that fills it (REPEAT and LINEAR are not modelled)")
            return _fill(*arguments)
        if len(arguments) not in (2, 3):
            self.fail("IF takes a condition and one or two values")
        return _if(*arguments)


def _negate(value: Value) -> Value:
    return value if value.number is None else Value(-value.number, value.series)


def _binary(function: Callable[[float, float], float | bool], left: Node, right: Node) -> Node:
    def evaluate(values: Values) -> Value:
        a, b = left(values), right(values)
        series = a.series or b.series
        present = [v for v in (a, b) if v.series]
        if present and all(v.number is None for v in present):
            return Value(None, series)
        try:
            return Value(float(function(a.number or 0.0, b.number or 0.0)), series)
        except (ZeroDivisionError, OverflowError):
            return Value(None, series)  # CloudWatch drops the datapoint

    return evaluate


def _if(condition: Node, when_true: Node, when_false: Node | None = None) -> Node:
    def evaluate(values: Values) -> Value:
        test = condition(values)
        if test.number is None:
            return Value(None, series=True)
        if test.number:
            chosen = when_true(values)
            return Value(0.0 if chosen.number is None else chosen.number, series=True)
        if when_false is None:
            return Value(None, series=True)
        return Value(when_false(values).number, series=True)

    return evaluate


def _fill(series: Node, filler: Node) -> Node:
    def evaluate(values: Values) -> Value:
        found = series(values)
        return Value(filler(values).number if found.number is None else found.number, series=True)

    return evaluate


@dataclass(frozen=True)
class Expression:
    text: str
    node: Node

    def evaluate(self, values: Values) -> float | None:
        return self.node(values).number


def compile_expression(text: str, ids: set[str]) -> Expression:
    """Parses `text`; every id it names must be in `ids`. Errors are one line naming the expression."""
    return Expression(text, _Parser(text, ids).parse())
