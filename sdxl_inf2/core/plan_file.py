"""The worker plan file: what deploy needs of a compiled artifact to count its workers, without the archive.

`sdxl-inf2 package` writes it beside the archive (`model.tar.gz` -> `model.workers.json`) and
`--upload` puts it beside the uploaded one; deploy reads it from there. It holds each variant's
share, default guidance and compiled batch facts (the inputs of core/workers.py's plan, not its
result), so deploy plans the workers the container will run for any inf2 instance type and the
container environment's SDXL_* worker settings; and the archive's sha256, so that a plan left from
another archive is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import SdxlError
from .modeldir import ModelInfo
from .settings import ConfigError, from_environment
from .validation import first_problem
from .variants import VariantPlanError
from .workers import INF2_CHIPS, NeuronPlan, VariantNeeds, WorkerSettings, instance_cores, neuron_plan, variant_needs

ARCHIVE_SUFFIX = ".tar.gz"
PLAN_SUFFIX = ".workers.json"


class PlanFileError(SdxlError):
    """The worker plan file is unreadable or does not fit; one line naming where it is."""


class WorkerPlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = 1
    archive_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    variants: tuple[VariantNeeds, ...] = Field(min_length=1)

    def plan_on(self, instance_type: str, environment: Mapping[str, str], where: str) -> NeuronPlan | None:
        """The workers the container plans on this instance type with this environment; None for an
        instance type without NeuronCores. One line naming the setting when it cannot be met."""
        cores = instance_cores(instance_type)
        if cores is None:
            return None
        try:
            settings = from_environment(WorkerSettings, environment)
            return neuron_plan(self.variants, cores, settings)
        except (ConfigError, VariantPlanError) as exc:
            raise PlanFileError(f"{where} on {instance_type}: {exc}") from None

    def summary(self) -> str:
        """Workers per inf2 instance type with the default settings, and each variant's cores per worker."""
        counts = []
        for instance_type in INF2_CHIPS:
            try:
                plan = self.plan_on(instance_type, {}, "")
                counts.append(f"{instance_type} {plan.workers if plan else '?'}")
            except PlanFileError:
                counts.append(f"{instance_type} too small")
        plan = self.plan_on("ml.inf2.48xlarge", {}, "")
        assert plan is not None
        cores = ", ".join(f"{name} {count} NeuronCore(s) a worker" for name, count in plan.cores.items())
        return f"workers: {', '.join(counts)} ({cores})"


def plan_name(archive_name: str) -> str:
    """`model.tar.gz` -> `model.workers.json` (also for an S3 key)."""
    return archive_name.removesuffix(ARCHIVE_SUFFIX) + PLAN_SUFFIX


def plan_for(model: ModelInfo, archive_sha256: str) -> WorkerPlanFile | None:
    """The plan file of an artifact; None unless it is compiled for Neuron (nothing to plan on inf2)."""
    if model.kind != "neuron":
        return None
    return WorkerPlanFile(archive_sha256=archive_sha256, variants=tuple(variant_needs(model)))


def render(plan: WorkerPlanFile) -> str:
    return json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def parse_plan(data: bytes, where: str) -> WorkerPlanFile:
    try:
        return WorkerPlanFile.model_validate_json(data)
    except ValidationError as exc:
        raise PlanFileError(f"{where}: {first_problem(exc, '(root)')}") from None
