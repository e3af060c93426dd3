"""The --plot PNG: one column per policy; rows: arrivals and completions per minute, the backlog,
instances (starting and in service), and the p95 time to result of each minute's arrivals.

matplotlib is imported here, with the Agg backend (no display), only when a plot is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .run import Outcome
from .traffic import Seconds

ROWS = ("requests per minute", "backlog (queued)", "instances", "p95 time to result (s)")


def per_minute(times: Seconds, minutes: int) -> NDArray[np.int64]:
    return np.bincount((times // 60).astype(np.int64), minlength=minutes)[:minutes]


def p95_by_arrival_minute(outcome: Outcome, minutes: int) -> Seconds:
    rendered = ~np.isnan(outcome.done)
    arrived = outcome.workload.misses[rendered]
    times = outcome.done[rendered] - arrived
    buckets = (arrived // 60).astype(np.int64)
    result = np.full(minutes, np.nan)
    order = np.argsort(buckets, kind="stable")
    buckets, times = buckets[order], times[order]
    edges = np.searchsorted(buckets, np.arange(minutes + 1))
    for minute in range(minutes):
        chunk = times[edges[minute] : edges[minute + 1]]
        if chunk.size:
            result[minute] = np.percentile(chunk, 95)
    return result


def write(outcomes: Sequence[Outcome], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    minutes = max(len(o.minutes.backlog) for o in outcomes)
    hours = minutes > 360
    x = np.arange(minutes) / (60 if hours else 1)
    figure, axes = pyplot.subplots(
        len(ROWS), len(outcomes), figsize=(4.2 * len(outcomes), 9), sharex=True, sharey="row", squeeze=False
    )
    for column, outcome in enumerate(outcomes):
        _column(axes[:, column], outcome, x, minutes)
        axes[0, column].set_title(outcome.policy, fontsize=10)
        axes[-1, column].set_xlabel("hours" if hours else "minutes")
    for row, label in enumerate(ROWS):
        axes[row, 0].set_ylabel(label, fontsize=9)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=72)
    pyplot.close(figure)


def _column(axes: NDArray[Any], outcome: Outcome, x: Seconds, minutes: int) -> None:
    workload = outcome.workload
    done = outcome.done[~np.isnan(outcome.done)]
    hits = workload.arrivals[workload.hit]
    axes[0].plot(x, per_minute(workload.arrivals, minutes), lw=0.8, label="arrivals")
    axes[0].plot(x, per_minute(np.concatenate([done, hits]), minutes), lw=0.8, label="completions")
    axes[0].legend(fontsize=7, loc="upper right")
    axes[1].plot(x, _padded(outcome.minutes.backlog, minutes), lw=0.8, color="tab:red")
    axes[2].plot(x, _padded(outcome.minutes.in_service, minutes), lw=0.8, label="in service")
    axes[2].plot(x, _padded(outcome.minutes.pending, minutes), lw=0.8, label="starting")
    axes[2].legend(fontsize=7, loc="upper right")
    axes[3].plot(x, p95_by_arrival_minute(outcome, minutes), lw=0.8, color="tab:purple")
    for axis in axes:
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)


def _padded(values: Sequence[int], minutes: int) -> Seconds:
    padded = np.zeros(minutes)
    padded[: len(values)] = values[:minutes]
    return padded
