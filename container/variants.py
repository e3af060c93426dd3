"""Which worker slots each of an artifact's variants gets. Pure but for reading /dev.

How many workers each variant gets is core/workers.py's plan, the same one deploy and
`sdxl-inf2 cost` count with: on NeuronCores, each variant's workers take one or two cores (its
compiled batch decides; SDXL_CORES_PER_WORKER overrides); on GPUs and the CPU, one slot each.
`SDXL_VARIANT_WORKERS` (`name:count,...`) sets the counts, else the variants share the device in
proportion to their manifest `share`, at least one worker each. Each variant gets a contiguous run
of the slots, in manifest order, default variant first (on NeuronCores, two-core workers first).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.variants import VariantPlanError
from sdxl_inf2.core.workers import Lane, neuron_plan, split_workers, variant_needs

from .config import ConfigError, Settings
from .devices import DeviceKind, WorkerSlot, neuron_lanes, plan_workers, visible_neuron_cores

log = logging.getLogger("sdxl.server")
Lanes = dict[str, list[WorkerSlot]]  # variant -> the worker slots that load its model


@dataclass(frozen=True)
class WorkerLayout:
    model: ModelInfo  # the served variants with their compiled batch as their workers run it
    lanes: Lanes


def plan_lanes(settings: Settings, model: ModelInfo, device: DeviceKind, dev_dir: Path = Path("/dev")) -> WorkerLayout:
    """The workers of every variant on this device; one line naming the setting when it cannot be met."""
    try:
        return (
            _on_neuron(settings, model, dev_dir) if device == "neuron" else _on_slots(settings, model, device, dev_dir)
        )
    except VariantPlanError as exc:
        if settings.variant_workers:
            raise ConfigError(f"SDXL_VARIANT_WORKERS={settings.variant_workers!r}: {exc}") from None
        raise ConfigError(f"worker plan: {exc}") from None


def _on_neuron(settings: Settings, model: ModelInfo, dev_dir: Path) -> WorkerLayout:
    cores = visible_neuron_cores(settings.neuron_visible_cores, dev_dir)
    if not cores:
        raise ConfigError(
            "0 visible NeuronCores (NEURON_RT_VISIBLE_CORES unset, no /dev/neuronN): run on inf2, or plan for an "
            "instance type with `serve --plan --instance-type ml.inf2.48xlarge`"
        )
    plan = neuron_plan(variant_needs(model), len(cores), settings)
    if (unused := len(cores) - sum(plan.counts[n] * plan.cores[n] for n in plan.counts)) > 0:
        log.info("worker plan leaves %d NeuronCore(s) unused", unused)
    return WorkerLayout(model.with_batches(plan.batches), neuron_lanes(cores, plan.counts, plan.cores))


def _on_slots(settings: Settings, model: ModelInfo, device: DeviceKind, dev_dir: Path) -> WorkerLayout:
    assert device != "neuron"
    slots = plan_workers(
        device,
        workers=worker_count(settings, model, device),
        cuda_visible_devices=settings.cuda_visible_devices,
        dev_dir=dev_dir,
    )
    lanes = [Lane(v.name, v.share) for v in model.served]
    counts = split_workers(lanes, len(slots), explicit=settings.worker_plan)
    if (unused := len(slots) - sum(counts.values())) > 0:
        log.info("worker plan leaves %d worker slot(s) unused", unused)
    return WorkerLayout(model, assign_slots(slots, counts))


def worker_count(settings: Settings, model: ModelInfo, device: DeviceKind) -> int | None:
    """SDXL_WORKERS, else the worker plan's total, else one per variant on the CPU; None: one per GPU."""
    plan = settings.worker_plan
    if settings.workers is not None:
        return settings.workers
    if plan is not None:
        return sum(plan.values())
    return len(model.served) if device == "cpu" else None


def assign_slots(slots: Sequence[WorkerSlot], counts: dict[str, int]) -> Lanes:
    """Contiguous runs of slots per variant, in `counts` order; slots beyond the plan stay unused."""
    lanes: Lanes = {}
    start = 0
    for name, count in counts.items():
        lanes[name] = list(slots[start : start + count])
        start += count
    return lanes
