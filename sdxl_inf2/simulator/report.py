"""Per-policy figures from an outcome, the table printed on stdout, and the JSON document.

Time to result is measured for requests that reached the endpoint (arrival to image); cache hits
are answered at arrival and counted in `cache_hits` and in `completed`, and within the SLO. Cost
is every billed instance-second (from launch to the end of its last request, the pending start-up
included) at the price per hour, over the whole run; cost per image divides it by `completed`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .run import Outcome
from .traffic import Seconds


@dataclass(frozen=True)
class Figures:
    requests: int
    cache_hits: int
    completed: int  # hits + rendered
    expired: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    max_s: float | None
    mean_wait_s: float | None  # queue time before a worker starts (SageMaker's queue and the container's)
    slo_attainment: float  # share of every request answered within the SLO
    peak_instances: int  # billed at once (starting, in service or draining)
    mean_instances: float  # time-weighted over the run
    instance_hours: float
    cost_usd: float
    cost_per_image_usd: float | None
    idle_worker_share: float  # of in-service worker time
    peak_backlog: int
    backlog_cleared_min: float | None  # first minute after the peak backlog with nothing queued
    scaling_activities: int
    refused_while_updating: int
    scheduled_actions: int  # scheduled actions that fired (each moves min/max)
    run_minutes: float


def figures(outcome: Outcome, price_per_hour: float, slo_s: float) -> Figures:
    workload = outcome.workload
    rendered = ~np.isnan(outcome.done)
    arrived = workload.misses[rendered]
    times = outcome.done[rendered] - arrived
    waits = outcome.start[rendered] - arrived
    hits = int(workload.hit.sum())
    completed = hits + int(rendered.sum())
    billed_s, serving_s, peak = _instance_time(outcome)
    busy_s = float(workload.service[rendered].sum())
    cost = billed_s / 3600 * price_per_hour
    backlog = outcome.minutes.backlog
    return Figures(
        requests=int(workload.arrivals.size),
        cache_hits=hits,
        completed=completed,
        expired=outcome.expired,
        p50_s=_percentile(times, 50),
        p95_s=_percentile(times, 95),
        p99_s=_percentile(times, 99),
        max_s=float(times.max()) if times.size else None,
        mean_wait_s=float(waits.mean()) if waits.size else None,
        slo_attainment=(hits + int((times <= slo_s).sum())) / max(workload.arrivals.size, 1),
        peak_instances=peak,
        mean_instances=billed_s / outcome.end_s if outcome.end_s else 0.0,
        instance_hours=billed_s / 3600,
        cost_usd=cost,
        cost_per_image_usd=cost / completed if completed else None,
        idle_worker_share=1 - busy_s / (serving_s * outcome.workers) if serving_s else 0.0,
        peak_backlog=max(backlog, default=0),
        backlog_cleared_min=_cleared(backlog),
        scaling_activities=len(outcome.activities),
        refused_while_updating=outcome.refused,
        scheduled_actions=len(outcome.scheduled),
        run_minutes=outcome.end_s / 60,
    )


def _percentile(values: Seconds, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def _instance_time(outcome: Outcome) -> tuple[float, float, int]:
    """Billed seconds, in-service seconds, and the most instances billed at once."""
    end = outcome.end_s
    billed = serving = 0.0
    changes: list[tuple[float, int]] = []
    for instance in outcome.instances:
        stop = end if math.isnan(instance.ended_s) else instance.ended_s
        billed += stop - instance.launched_s
        if not math.isnan(instance.ready_s):
            serving += max(0.0, stop - instance.ready_s)
        changes += [(instance.launched_s, 1), (stop, -1)]
    running = peak = 0
    for _, change in sorted(changes, key=lambda c: (c[0], c[1])):
        running += change
        peak = max(peak, running)
    return billed, serving, peak


def _cleared(backlog: Sequence[int]) -> float | None:
    if not backlog or max(backlog) == 0:
        return None
    peak_at = int(np.argmax(backlog))
    return next((float(m) for m in range(peak_at, len(backlog)) if backlog[m] == 0), None)


ROWS: list[tuple[str, str, str]] = [  # field, label, format
    ("requests", "requests", "{:,}"),
    ("cache_hits", "answered from the cache", "{:,}"),
    ("completed", "completed", "{:,}"),
    ("expired", "expired (TTL)", "{:,}"),
    ("p50_s", "time to result p50 (s)", "{:,.1f}"),
    ("p95_s", "time to result p95 (s)", "{:,.1f}"),
    ("p99_s", "time to result p99 (s)", "{:,.1f}"),
    ("max_s", "time to result max (s)", "{:,.1f}"),
    ("mean_wait_s", "mean wait before a worker (s)", "{:,.1f}"),
    ("slo_attainment", "within the SLO", "{:.1%}"),
    ("peak_instances", "peak instances", "{:,}"),
    ("mean_instances", "mean instances (time-weighted)", "{:,.2f}"),
    ("instance_hours", "instance-hours", "{:,.2f}"),
    ("cost_usd", "cost (USD)", "${:,.2f}"),
    ("cost_per_image_usd", "cost per image (USD)", "${:.6f}"),
    ("idle_worker_share", "idle worker share (in service)", "{:.1%}"),
    ("peak_backlog", "peak backlog", "{:,}"),
    ("backlog_cleared_min", "backlog cleared at (minute)", "{:,.0f}"),
    ("scaling_activities", "scaling activities", "{:,}"),
    ("refused_while_updating", "changes refused while updating", "{:,}"),
    ("scheduled_actions", "scheduled actions fired", "{:,}"),
]


def table(results: Mapping[str, Figures]) -> list[str]:
    names = list(results)
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"{'':<32}" + "".join(f"{n:>{width}}" for n in names)]
    for key, label, form in ROWS:
        cells = [getattr(results[n], key) for n in names]
        lines.append(f"{label:<32}" + "".join(f"{'-' if c is None else form.format(c):>{width}}" for c in cells))
    return lines


def document(inputs: Mapping[str, Any], results: Mapping[str, Figures]) -> str:
    """The --json document: the inputs, then `policies` -> name -> figures (floats to 6 significant digits)."""
    body = {"inputs": dict(inputs), "policies": {name: _rounded(asdict(f)) for name, f in results.items()}}
    return json.dumps(body, indent=2, sort_keys=False) + "\n"


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in values.items()}
