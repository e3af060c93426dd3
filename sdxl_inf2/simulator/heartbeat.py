"""The instances' heartbeat as CloudWatch sums it: instance-seconds in service over any window.

Each container writes 1 for every second its workers are ready (core/metrics.py IN_SERVICE_SECONDS),
from the moment its start-up ends until it ends, draining included (it still runs). The endpoint
records each change of that count (`change`, in time order, as the run makes them), so the Sum of
any period that has ended is the integral of a step function: a bisection and the few changes
inside the window, however long the run.
"""

from __future__ import annotations

import bisect


class InService:
    def __init__(self) -> None:
        self.times: list[float] = [0.0]  # the count is counts[i] from times[i] until times[i + 1]
        self.counts: list[int] = [0]

    def change(self, now: float, delta: int) -> None:
        if now == self.times[-1]:
            self.counts[-1] += delta
        else:
            self.times.append(now)
            self.counts.append(self.counts[-1] + delta)

    def seconds(self, start: float, end: float) -> float:
        """Instance-seconds in service within [start, end)."""
        total, moment = 0.0, start
        step = max(0, bisect.bisect_right(self.times, start) - 1)
        while moment < end:
            upto = min(end, self.times[step + 1]) if step + 1 < len(self.times) else end
            total += self.counts[step] * (upto - moment)
            moment, step = upto, step + 1
        return total

    def datapoint(self, start: float, end: float) -> float | None:
        """The heartbeat's Sum for the period: none when no instance wrote one."""
        return self.seconds(start, end) or None
