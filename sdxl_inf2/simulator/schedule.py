"""When a scheduled action fires: AWS's `cron(...)`, `at(...)` and `rate(...)` on a one-minute grid.

AWS cron has six fields (minutes, hours, day-of-month, month, day-of-week, year), day-of-week 1-7
is SUN-SAT, and one of the two day fields is `?` (Application Auto Scaling User Guide, "Schedule
recurring scaling actions using cron expressions"). That dialect differs from the Unix one that
cron libraries parse (five fields, 0-6 from Sunday), so the matcher is here. Supported: `*`, `?`,
numbers, names, ranges, lists, `/` steps; not `L`, `W`, `#`. `cron` and `at` are read in the
action's Timezone (default UTC); StartTime and EndTime are UTC. `rate(N unit)` counts from the
StartTime, else from the simulation's start.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import SimulationError

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# name, lowest, highest, names for lowest.. (AWS order of the six fields)
_FIELDS: list[tuple[str, int, int, list[str]]] = [
    ("minutes", 0, 59, []),
    ("hours", 0, 23, []),
    ("day-of-month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, []),
]
UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs 3.11; the project supports 3.10
_RATE_UNITS = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}

Matcher = Callable[[datetime], bool]  # a local minute -> does the action fire


def _value(text: str, low: int, names: list[str], where: str) -> int:
    if text.upper() in names:
        return low + names.index(text.upper())
    if not text.isdigit():
        raise SimulationError(
            f"{where}: {text!r} is not a number or a name this field takes (L, W, # are not modelled)"
        )
    return int(text)


def _field_values(text: str, spec: tuple[str, int, int, list[str]], where: str) -> set[int] | None:
    """The values a field allows; None for `*` or `?` (any)."""
    name, low, high, names = spec
    if text in ("*", "?"):
        return None
    allowed: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, b = span.split("-", 1)
            first, last = _value(a, low, names, where), _value(b, low, names, where)
        else:
            first = _value(span, low, names, where)
            last = high if step_text else first
        if not (low <= first <= high and low <= last <= high) or step < 1:
            raise SimulationError(f"{where}: {name} {part!r} is outside {low}-{high}")
        allowed.update(range(first, last + 1, step))
    return allowed


def cron_matcher(expression: str, where: str) -> Matcher:
    fields = expression.split()
    if len(fields) != 6:
        raise SimulationError(f"{where}: cron needs six fields (minutes hours day-of-month month day-of-week year)")
    allowed = [_field_values(text, spec, where) for text, spec in zip(fields, _FIELDS, strict=True)]

    def matches(local: datetime) -> bool:
        weekday = (local.isoweekday() % 7) + 1  # AWS: 1 = Sunday
        values = (local.minute, local.hour, local.day, local.month, weekday, local.year)
        return all(a is None or v in a for a, v in zip(allowed, values, strict=True))

    return matches


@dataclass(frozen=True)
class Fires:
    """One scheduled action's firing rule, evaluated at UTC minutes."""

    matcher: Matcher
    zone: ZoneInfo
    start: datetime | None
    end: datetime | None

    def at(self, minute: datetime) -> bool:
        if (self.start and minute < self.start) or (self.end and minute > self.end):
            return False
        return self.matcher(minute.astimezone(self.zone).replace(second=0, microsecond=0))


def firing_rule(
    schedule: str, timezone: str | None, start: datetime | None, end: datetime | None, origin: datetime, where: str
) -> Fires:
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise SimulationError(f"{where}: unknown time zone {timezone!r}") from None
    found = re.fullmatch(r"(cron|at|rate)\((.+)\)", schedule.strip())
    if not found:
        raise SimulationError(f"{where}: expected cron(...), at(...) or rate(...)")
    kind, body = found.groups()
    if kind == "cron":
        matcher = cron_matcher(body, where)
    elif kind == "at":
        matcher = _at_matcher(body, where)
    else:
        matcher = _rate_matcher(body, start or origin, where)
    return Fires(matcher, zone, start, end)


def _at_matcher(body: str, where: str) -> Matcher:
    try:
        when = datetime.fromisoformat(body).replace(second=0, microsecond=0, tzinfo=None)
    except ValueError:
        raise SimulationError(f"{where}: at({body}) is not yyyy-mm-ddThh:mm:ss") from None
    return lambda local: local.replace(tzinfo=None) == when


def _rate_matcher(body: str, origin: datetime, where: str) -> Matcher:
    number, _, unit = body.strip().partition(" ")
    if not number.isdigit() or int(number) < 1 or unit not in _RATE_UNITS:
        raise SimulationError(f"{where}: rate({body}) is not 'N minutes|hours|days'")
    every = timedelta(minutes=int(number) * _RATE_UNITS[unit])
    return lambda local: (local.astimezone(UTC) - origin) % every == timedelta(0)
