"""How every benchmark turns measurements into a verdict it can defend.

- Series are measured in interleaved blocks (A B, B A, A B, ...) so drift in the machine's load
  falls on both sides; each block gives one median, and the spread of those medians is reported
  beside their median.
- A comparison is "equal within noise" when the paired per-block ratios straddle 1; only when every
  one of at least MIN_BLOCKS blocks agrees on the direction is one side called faster (by chance,
  six blocks agree 3% of the time).
- A result that cannot be true (faster than the work it wraps) ends the run with "invalid run" and
  a non-zero exit instead of a verdict; a missed target is printed as MISSED, never hidden.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn, TypeVar

T = TypeVar("T")

MIN_BLOCKS = 6


class InvalidRun(Exception):
    """The measurement contradicts itself; the message says how."""


def invalid(reason: str) -> NoReturn:
    """Print the one-line refusal and exit 1 (a benchmark's `main` calls this on InvalidRun)."""
    print(f"invalid run: {reason}")
    raise SystemExit(1)


def refusing(measure: Callable[[], T]) -> T:
    """`measure()`, or the one-line refusal and exit 1 when it finds the run impossible."""
    try:
        return measure()
    except InvalidRun as exc:
        invalid(str(exc))


@dataclass(frozen=True)
class Spread:
    """The median of per-block values and their range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise InvalidRun("a series has no blocks")
        return cls(statistics.median(values), min(values), max(values))

    def text(self, digits: int = 3) -> str:
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free interval for the median (order statistics, binomial tail): with 30
    blocks it runs from the 10th to the 21st smallest value."""
    ordered, n = sorted(values), len(values)
    tail = (1 - confidence) / 2
    k = 0  # the largest k with P(Binomial(n, 1/2) < k) <= tail
    while k < n // 2 and sum(math.comb(n, i) for i in range(k + 1)) / 2**n <= tail:
        k += 1
    if k == 0:
        raise InvalidRun(f"{n} blocks are too few for a {confidence:.0%} interval of the median")
    return ordered[k - 1], ordered[n - k]


def judge(label: str, values: Sequence[float], limit: float, unit: str = "") -> str:
    """`target label: median (interval) -> met` when the whole 95% interval of the median is within
    `limit`, MISSED when all of it is beyond, else "no verdict" (the noise straddles the limit)."""
    low, high = median_interval(values)
    measured = f"{statistics.median(values):.3f}{unit} (95% interval {low:.3f}-{high:.3f}{unit})"
    if high <= limit:
        return target(label, True, measured)
    if low > limit:
        return target(label, False, measured)
    return f"target {label}: {measured} -> no verdict: the interval straddles the target; rerun on a quieter machine"


def block_orders(names: Sequence[str], blocks: int) -> list[list[str]]:
    """The order of the series in each block: rotated every block, so none is always first."""
    return [[names[(b + i) % len(names)] for i in range(len(names))] for b in range(blocks)]


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Block-by-block ratios of two series measured in the same blocks."""
    if len(numerator) != len(denominator) or not numerator:
        raise InvalidRun("the two series were not measured in the same blocks")
    if min(denominator) <= 0:
        raise InvalidRun("a block's median is zero or negative")
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def compare(ratios: Sequence[float], higher_is: str, lower_is: str) -> str:
    """`higher_is` when every block's ratio is above 1, `lower_is` when every one is below, else
    "equal within noise" (the blocks disagree about the direction); no verdict from too few blocks."""
    spread = Spread.of(ratios)
    if len(ratios) < MIN_BLOCKS:
        ranged = f"block ratios {spread.low:.3f}-{spread.high:.3f}"
        return f"too few blocks for a verdict ({len(ratios)} < {MIN_BLOCKS}; {ranged})"
    if spread.low > 1:
        return f"{higher_is} by {spread.median - 1:.1%} (all {len(ratios)} blocks agree)"
    if spread.high < 1:
        return f"{lower_is} by {1 - spread.median:.1%} (all {len(ratios)} blocks agree)"
    return f"equal within noise (block ratios {spread.low:.3f}-{spread.high:.3f})"


def target(label: str, met: bool, measured: str) -> str:
    """One printed line per target: what was asked, what was measured, met or MISSED."""
    return f"target {label}: {measured} -> {'met' if met else 'MISSED'}"
