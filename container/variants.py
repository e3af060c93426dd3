"""How the model workers are split among an artifact's variants. Pure.

`SDXL_VARIANT_WORKERS` (`name:count,...`, e.g. `1024x1024:8,1152x896:2`), else in proportion to each
variant's `share` in the root manifest, at least one worker each. Each variant gets a contiguous run
of the worker slots (chips), in its manifest order, default variant first.
"""

from __future__ import annotations

from collections.abc import Sequence

from sdxl_inf2.core.modeldir import Variant
from sdxl_inf2.core.variants import VariantPlanError

from .devices import WorkerSlot


def split_workers(variants: Sequence[Variant], total: int, plan: dict[str, int] | None = None) -> dict[str, int]:
    """Workers per variant, from an explicit plan or in proportion to the shares."""
    names = [v.name for v in variants]
    if plan is not None:
        return _checked_plan(names, total, plan)
    if total < len(variants):
        raise VariantPlanError(
            f"{total} worker(s) for {len(variants)} variants ({', '.join(names)}): each variant needs at least one"
        )
    return _proportional(variants, total)


def _checked_plan(names: list[str], total: int, plan: dict[str, int]) -> dict[str, int]:
    unknown = [n for n in plan if n not in names]
    if unknown:
        raise VariantPlanError(f"unknown variant {unknown[0]!r}; the variants are {', '.join(names)}")
    missing = [n for n in names if plan.get(n, 0) < 1]
    if missing:
        raise VariantPlanError(f"variant {missing[0]!r} has no worker; every variant needs at least one")
    if sum(plan.values()) > total:
        raise VariantPlanError(f"asks for {sum(plan.values())} workers; {total} available on this device")
    return {name: plan[name] for name in names}


def _proportional(variants: Sequence[Variant], total: int) -> dict[str, int]:
    """One worker each, then every further worker to the variant furthest below its exact quota."""
    shares = sum(v.share for v in variants)
    counts = {v.name: 1 for v in variants}
    for _ in range(total - len(variants)):
        behind = max(variants, key=lambda v: total * v.share / shares - counts[v.name])  # first on a tie
        counts[behind.name] += 1
    return counts


def assign_slots(slots: Sequence[WorkerSlot], counts: dict[str, int]) -> dict[str, list[WorkerSlot]]:
    """Contiguous runs of slots per variant, in `counts` order; slots beyond the plan stay unused."""
    lanes: dict[str, list[WorkerSlot]] = {}
    start = 0
    for name, count in counts.items():
        lanes[name] = list(slots[start : start + count])
        start += count
    return lanes
