"""Traffic traces: a spec string -> sorted arrival times in seconds from the start.

    steady:PER_MIN:MINUTES                                 evenly spaced, the first at t = 0
    poisson:PER_MIN:MINUTES                                Poisson arrivals at a constant rate
    spike:BASE_PER_MIN:PEAK_PER_MIN:START_MIN:LENGTH_MIN:MINUTES
                                                           Poisson at BASE, at PEAK for LENGTH_MIN from START_MIN
    diurnal:PEAK_PER_MIN:DAYS                              Poisson, rate PEAK * (1 - cos(2 pi t / day)) / 2:
                                                           zero at midnight, PEAK at noon, PEAK / 2 on average
    csv:PATH                                               one arrival time in seconds per line

Several traces are merged into one stream (a diurnal day plus a spike). Every random draw comes from
the generator handed in, so a seed fixes the trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .errors import SimulationError

Seconds = NDArray[np.float64]  # times or durations, in seconds
SECONDS_PER_MINUTE = 60.0
MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class Trace:
    spec: str
    arrivals: Seconds  # seconds, sorted
    horizon_s: float  # how long the trace lasts (its last minute included)


def parse_numbers(spec: str, names: Sequence[str]) -> list[float]:
    """The spec's fields after its kind, each a number above 0 (START_MIN may be 0)."""
    fields = spec.split(":")[1:]
    if len(fields) != len(names):
        expected = ":".join([spec.split(":")[0], *names])
        raise SimulationError(f"--trace {spec}: expected {expected}")
    values = []
    for name, text in zip(names, fields, strict=True):
        try:
            value = float(text)
        except ValueError:
            raise SimulationError(f"--trace {spec}: {name} must be a number (got {text!r})") from None
        lowest_ok = value >= 0 if name == "START_MIN" else value > 0
        if not (lowest_ok and math.isfinite(value)):
            raise SimulationError(f"--trace {spec}: {name} must be above 0 (got {text})")
        values.append(value)
    return values


def _poisson(rng: np.random.Generator, per_min: float, start_s: float, end_s: float) -> Seconds:
    """A homogeneous Poisson process on [start, end): a Poisson count, then uniform times."""
    count = rng.poisson(per_min * (end_s - start_s) / SECONDS_PER_MINUTE)
    return np.asarray(rng.uniform(start_s, end_s, count), dtype=np.float64)


def steady(spec: str, rng: np.random.Generator) -> Trace:
    per_min, minutes = parse_numbers(spec, ("PER_MIN", "MINUTES"))
    count = round(per_min * minutes)
    return Trace(spec, np.arange(count, dtype=np.float64) * (SECONDS_PER_MINUTE / per_min), minutes * 60)


def poisson(spec: str, rng: np.random.Generator) -> Trace:
    per_min, minutes = parse_numbers(spec, ("PER_MIN", "MINUTES"))
    return Trace(spec, np.sort(_poisson(rng, per_min, 0, minutes * 60)), minutes * 60)


def spike(spec: str, rng: np.random.Generator) -> Trace:
    base, peak, start, length, minutes = parse_numbers(
        spec, ("BASE_PER_MIN", "PEAK_PER_MIN", "START_MIN", "LENGTH_MIN", "MINUTES")
    )
    if start + length > minutes:
        raise SimulationError(f"--trace {spec}: START_MIN + LENGTH_MIN must be within MINUTES ({minutes:g})")
    edges = [0.0, start * 60, (start + length) * 60, minutes * 60]
    parts = [_poisson(rng, rate, a, b) for rate, a, b in zip((base, peak, base), edges, edges[1:], strict=False)]
    return Trace(spec, np.sort(np.concatenate(parts)), minutes * 60)


def diurnal(spec: str, rng: np.random.Generator) -> Trace:
    """Thinning: Poisson candidates at the peak rate, each kept with probability rate(t) / peak."""
    peak, days = parse_numbers(spec, ("PEAK_PER_MIN", "DAYS"))
    end = days * MINUTES_PER_DAY * 60
    candidates = np.sort(_poisson(rng, peak, 0, end))
    share = (1 - np.cos(2 * np.pi * candidates / (MINUTES_PER_DAY * 60))) / 2
    return Trace(spec, candidates[rng.uniform(size=candidates.size) < share], end)


def from_csv(spec: str, rng: np.random.Generator) -> Trace:
    path = Path(spec.split(":", 1)[1])
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise SimulationError(f"--trace {spec}: cannot read {path}: {exc.strerror}") from None
    times = [_timestamp(path, number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not times:
        raise SimulationError(f"{path}: no arrival times (one number of seconds per line)")
    arrivals = np.sort(np.asarray(times, dtype=np.float64))
    return Trace(spec, arrivals, (math.floor(arrivals[-1] / 60) + 1) * 60)


def _timestamp(path: Path, number: int, line: str) -> float:
    try:
        value = float(line)
    except ValueError:
        raise SimulationError(f"{path}:{number}: not a number of seconds ({line.strip()[:40]!r})") from None
    if not (value >= 0 and math.isfinite(value)):
        raise SimulationError(f"{path}:{number}: an arrival time must be 0 or more seconds (got {line.strip()})")
    return value


KINDS: dict[str, Callable[[str, np.random.Generator], Trace]] = {
    "steady": steady,
    "poisson": poisson,
    "spike": spike,
    "diurnal": diurnal,
    "csv": from_csv,
}


def trace(spec: str, rng: np.random.Generator) -> Trace:
    kind = spec.split(":", 1)[0]
    if kind not in KINDS or ":" not in spec:
        raise SimulationError(f"--trace {spec}: the kind must be one of {', '.join(KINDS)} (KIND:FIELDS)")
    return KINDS[kind](spec, rng)


def merged(specs: Sequence[str], seed: int) -> Trace:
    """Every trace on one timeline; each spec draws from its own stream of the seed."""
    streams = np.random.SeedSequence(seed).spawn(len(specs))
    traces = [trace(spec, np.random.default_rng(stream)) for spec, stream in zip(specs, streams, strict=True)]
    arrivals = np.sort(np.concatenate([t.arrivals for t in traces]), kind="stable")
    return Trace(" + ".join(specs), arrivals, max(t.horizon_s for t in traces))
