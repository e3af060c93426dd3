"""The scalable target: its bounds, its desired capacity, and how several policies' wishes combine.

Application Auto Scaling applies "the policy that provides the largest capacity for both scale in
and scale out" (User Guide, target tracking considerations); a scale-out wins over any scale-in.
The result is clamped to [min, max], which scheduled actions move.

SageMaker sets the endpoint to `Updating` while it adds or removes instances
(UpdateEndpointWeightsAndCapacities, API reference). With `serial_updates` (the default) a change
asked for while instances are still starting is refused, as SageMaker refuses updates to an
updating endpoint, and the policy asks again at its next evaluation; the cooldown starts only once
a change is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Proposal:
    wanted: int
    cause: str  # the policy or scheduled action that asked


@dataclass(frozen=True)
class Activity:
    time_s: float
    cause: str
    before: int
    after: int


@dataclass
class ScalableTarget:
    min_capacity: int
    max_capacity: int
    desired: int
    serial_updates: bool
    updating: Callable[[], bool]  # instances still starting (the endpoint is Updating)
    resize: Callable[[int], None]  # tells the endpoint the new desired count
    activities: list[Activity] = field(default_factory=list)
    refused: int = 0  # changes asked for while the endpoint was updating

    def clamp(self, capacity: int) -> int:
        return max(self.min_capacity, min(self.max_capacity, capacity))

    def set_bounds(self, min_capacity: int | None, max_capacity: int | None) -> None:
        if min_capacity is not None:
            self.min_capacity = min_capacity
        if max_capacity is not None:
            self.max_capacity = max_capacity
        self.max_capacity = max(self.max_capacity, self.min_capacity)

    def apply(self, proposal: Proposal, now: float) -> bool:
        """Sets the desired capacity (clamped); False when nothing changed or the endpoint is updating."""
        wanted = self.clamp(proposal.wanted)
        if wanted == self.desired:
            return False
        if self.serial_updates and self.updating():
            self.refused += 1
            return False
        self.activities.append(Activity(now, proposal.cause, self.desired, wanted))
        self.desired = wanted
        self.resize(wanted)
        return True


def winner(current: int, proposals: Sequence[Proposal]) -> Proposal | None:
    """The largest capacity wins; any scale-out beats every scale-in."""
    outs = [p for p in proposals if p.wanted > current]
    if outs:
        return max(outs, key=lambda p: p.wanted)
    ins = [p for p in proposals if p.wanted < current]
    return max(ins, key=lambda p: p.wanted) if ins else None
