"""How many model workers an artifact gets, and how many NeuronCores each one needs. Pure.

One plan for every part that counts workers: `serve` and `serve --plan` (from the model folder),
deploy (from the worker plan file `package --upload` writes beside the archive, see plan_file.py),
`sdxl-inf2 cost` (from a preset) and the simulator (from the deploy config deploy settles):

- a compiled variant's workers get one NeuronCore each when its UNet never sees a classifier-free
  guidance batch at its default guidance, else two: one inf2 chip (`CompiledBatch.planned`);
  `SDXL_CORES_PER_WORKER` overrides, refused when the default guidance cannot run on that many;
- the variants share the visible cores in proportion to their `share` (`split_workers`), at least
  one worker each; `SDXL_VARIANT_WORKERS` sets the counts, `SDXL_WORKERS` caps the total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .guidance import CompiledBatch
from .modeldir import ModelInfo
from .settings import ConfigError
from .variants import VariantPlanError, parse_worker_plan

CORES_PER_CHIP = 2  # an Inferentia2 chip's NeuronCores
INF2_CHIPS = {"ml.inf2.xlarge": 1, "ml.inf2.8xlarge": 1, "ml.inf2.24xlarge": 6, "ml.inf2.48xlarge": 12}
CORES_SETTING = "SDXL_CORES_PER_WORKER"


def instance_cores(instance_type: str) -> int | None:
    """The NeuronCores of a SageMaker inf2 instance type; None for any other type."""
    chips = INF2_CHIPS.get(instance_type)
    return None if chips is None else chips * CORES_PER_CHIP


class WorkerSettings(BaseModel):
    """The server settings that shape the worker plan (the server's `Settings` extends this; deploy
    reads the same variables from the container environment it deploys)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    workers: int | None = Field(
        None,
        ge=1,
        le=64,
        alias="SDXL_WORKERS",
        description="Model workers. Unset: as many as the NeuronCores hold (see `SDXL_CORES_PER_WORKER`), one "
        "per GPU, one per variant on the CPU; a value lowers the count (or raises it on the CPU).",
    )
    variant_workers: str | None = Field(
        None,
        alias="SDXL_VARIANT_WORKERS",
        description="Workers per variant, `name:count,...` (e.g. `1024x1024:8,1152x896:2`). Unset: the NeuronCores "
        "shared in proportion to each variant's `share` in the manifest.",
    )
    cores_per_worker: int | None = Field(
        None,
        ge=1,
        le=64,
        alias=CORES_SETTING,
        description="NeuronCores per worker. Unset: from the artifact, per variant: 1 when its default guidance "
        "needs no classifier-free guidance (guidance_scale <= 1, or an LCM UNet), else 2 (one inf2 chip). A "
        "variant whose default guidance cannot run on the cores given stops the server.",
    )

    @field_validator("variant_workers")
    @classmethod
    def _worker_plan(cls, value: str | None) -> str | None:
        if value is not None:
            parse_worker_plan(value)  # VariantPlanError is a ValueError: one line naming the variable
        return value

    @property
    def worker_plan(self) -> dict[str, int] | None:
        return parse_worker_plan(self.variant_workers) if self.variant_workers else None


@dataclass(frozen=True)
class VariantNeeds:
    """What the plan needs of one variant; also the entries of the worker plan file."""

    name: str
    share: float
    guidance_scale: float  # its default
    compiled: CompiledBatch | None  # None: not compiled for Neuron (a diffusers folder)


def variant_needs(model: ModelInfo) -> list[VariantNeeds]:
    return [
        VariantNeeds(v.name, v.share, v.model.defaults.guidance_scale, v.model.compiled_batch) for v in model.served
    ]


def served_batch(variant: VariantNeeds, override: int | None) -> CompiledBatch | None:
    """The variant's compiled batch as its workers run it: on the planned cores, or on
    SDXL_CORES_PER_WORKER's, refused in one line when its default guidance cannot run there."""
    if variant.compiled is None:
        return None
    if override is None:
        return variant.compiled.planned(variant.guidance_scale)
    batch = variant.compiled.with_cores(override)
    if reason := batch.refusal(variant.guidance_scale):
        message = f"{CORES_SETTING}={override}: variant {variant.name!r}: default {reason}"
        raise ConfigError(message, field=CORES_SETTING)
    return batch


@dataclass(frozen=True)
class Lane:
    """One variant as the split sees it: its share and what one of its workers takes."""

    name: str
    share: float
    cores: int = 1  # NeuronCores per worker; a GPU or CPU worker slot counts 1


@dataclass(frozen=True)
class NeuronPlan:
    counts: dict[str, int]  # workers per variant, in variant order
    cores: dict[str, int]  # NeuronCores per worker, per variant
    batches: dict[str, CompiledBatch | None]  # each variant's compiled batch as its workers run it

    @property
    def workers(self) -> int:
        return sum(self.counts.values())


def neuron_plan(variants: Sequence[VariantNeeds], visible_cores: int, settings: WorkerSettings) -> NeuronPlan:
    """The worker plan on `visible_cores` NeuronCores."""
    override = settings.cores_per_worker
    batches = {v.name: served_batch(v, override) for v in variants}
    cores = {name: batch.cores if batch else (override or CORES_PER_CHIP) for name, batch in batches.items()}
    lanes = [Lane(v.name, v.share, cores[v.name]) for v in variants]
    counts = split_workers(
        lanes, visible_cores, workers=settings.workers, explicit=settings.worker_plan, unit="NeuronCore"
    )
    return NeuronPlan(counts, cores, batches)


def split_workers(
    lanes: Sequence[Lane],
    capacity: int,
    *,
    workers: int | None = None,
    explicit: Mapping[str, int] | None = None,
    unit: str = "worker",
) -> dict[str, int]:
    """Workers per variant on `capacity` units (NeuronCores, or worker slots): the `explicit` counts,
    checked; else one each, then each further worker to the variant furthest below its share of the
    capacity while one fits, at most `workers` in all."""
    if explicit is not None:
        return _checked_plan(lanes, capacity, explicit, workers, unit)
    _check_room(lanes, capacity, workers, unit)
    counts = _proportional(lanes, capacity, workers)
    if workers is not None and sum(counts.values()) < workers:
        least = sum(lane.cores for lane in lanes) + (workers - len(lanes)) * min(lane.cores for lane in lanes)
        raise VariantPlanError(f"SDXL_WORKERS={workers} needs {least} {unit}s; {capacity} visible")
    return counts


def _check_room(lanes: Sequence[Lane], capacity: int, workers: int | None, unit: str) -> None:
    names = ", ".join(lane.name for lane in lanes)
    advice = "; raise SDXL_WORKERS or set SDXL_VARIANT_WORKERS"
    if workers is not None and workers < len(lanes):
        raise VariantPlanError(
            f"{workers} worker(s) for {len(lanes)} variants ({names}): each variant needs at least one{advice}"
        )
    if sum(lane.cores for lane in lanes) <= capacity:
        return
    if len(lanes) == 1:
        raise VariantPlanError(f"no {unit}s for a worker: {capacity} visible, a worker needs {lanes[0].cores}")
    if unit != "worker":
        names = ", ".join(f"{lane.name}: {lane.cores}" for lane in lanes) + f" {unit}(s) a worker"
        advice = f"; set SDXL_VARIANT_WORKERS or {CORES_SETTING}"
    raise VariantPlanError(
        f"{capacity} {unit}(s) for {len(lanes)} variants ({names}): each variant needs at least one{advice}"
    )


def _proportional(lanes: Sequence[Lane], capacity: int, workers: int | None) -> dict[str, int]:
    """The shares split the cores; with a worker cap (SDXL_WORKERS) they split those workers."""
    shares = sum(lane.share for lane in lanes)
    counts = {lane.name: 1 for lane in lanes}
    used = sum(lane.cores for lane in lanes)

    def below_share(lane: Lane) -> float:
        if workers is not None:
            return workers * lane.share / shares - counts[lane.name]
        return capacity * lane.share / shares - counts[lane.name] * lane.cores

    while workers is None or sum(counts.values()) < workers:
        fits = [lane for lane in lanes if used + lane.cores <= capacity]
        if not fits:
            break
        behind = max(fits, key=below_share)  # the variant furthest below its share (first on a tie)
        counts[behind.name] += 1
        used += behind.cores
    return counts


def _checked_plan(
    lanes: Sequence[Lane], capacity: int, plan: Mapping[str, int], workers: int | None, unit: str
) -> dict[str, int]:
    names = [lane.name for lane in lanes]
    unknown = [n for n in plan if n not in names]
    if unknown:
        raise VariantPlanError(f"unknown variant {unknown[0]!r}; the variants are {', '.join(names)}")
    missing = [n for n in names if plan.get(n, 0) < 1]
    if missing:
        raise VariantPlanError(f"variant {missing[0]!r} has no worker; every variant needs at least one")
    asked = sum(plan.values())
    if workers is not None and asked > workers:
        raise VariantPlanError(f"asks for {asked} workers; SDXL_WORKERS={workers}")
    needed = sum(plan[lane.name] * lane.cores for lane in lanes)
    if needed > capacity and unit == "worker":
        raise VariantPlanError(f"asks for {asked} workers; {capacity} available on this device")
    if needed > capacity:
        raise VariantPlanError(f"asks for {asked} workers ({needed} {unit}s); {capacity} visible")
    return {name: plan[name] for name in names}
