"""Workers per instance from the artifact itself: its worker plan file, beside `model_data_url`.

`sdxl-inf2 package --upload` puts `<archive>.workers.json` beside the archive (core/plan_file.py).
From it, deploy plans the workers the container will run on `instance_type` with the config's
container environment (SDXL_WORKERS, SDXL_VARIANT_WORKERS, SDXL_CORES_PER_WORKER), with the
container's own plan (core/workers.py): one per NeuronCore for a guidance-free artifact, one per
chip otherwise. The usage-rate capacity, the dashboard and MaxConcurrentInvocationsPerInstance
(workers + 1) all read the count from the settled config.

- `workers_per_instance` unset: the plan's count; no readable plan file is refused in one line (a
  guess would halve the capacity or leave NeuronCores idle behind too few concurrent invocations);
- set: deploy and autoscale refuse it when the plan says otherwise; without a plan file it stands
  as given, and one line says it was not checked;
- an instance type without NeuronCores: `workers_per_instance` is required and used as given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sdxl_inf2.core.plan_file import PlanFileError, WorkerPlanFile, parse_plan, plan_name
from sdxl_inf2.core.workers import NeuronPlan, instance_cores
from sdxl_inf2.gateway.objects import is_missing, split_s3

from .config import DeployConfig
from .errors import DeployConfigError
from .say import say

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

UNREADABLE = {"AccessDenied", "403", "NoSuchBucket", "AllAccessDisabled"}  # a plan file we cannot have


def settle_workers(config: DeployConfig, s3: Callable[[], S3Client], *, check: bool = True) -> DeployConfig:
    """`config` with workers_per_instance from the artifact's worker plan. `check=False` (plan, cost,
    simulate) reads the plan only when the count is unset, and so makes no call for a config that sets it."""
    given = config.workers_per_instance
    if (given is not None and not check) or instance_cores(config.instance_type) is None:
        return config
    location = plan_name(config.model_data_url)
    plan, why = read_plan(s3(), location)
    if plan is None:
        if given is None:
            raise DeployConfigError(
                f"workers_per_instance: not set, and the artifact's worker plan {location} {why}: put it there "
                "with `sdxl-inf2 package DIR --upload s3://...`, or set workers_per_instance (`serve --plan "
                f"--instance-type {config.instance_type}` on the artifact shows it)"
            )
        say(f"workers_per_instance {given}: not checked against the artifact ({location} {why})")
        return config
    _same_archive(s3(), plan, config.model_data_url, location)
    planned = _planned(plan, config, location)
    if given is not None and given != planned.workers:
        raise DeployConfigError(
            f"workers_per_instance: {given}, but the artifact's worker plan ({location}) runs {planned.workers} "
            f"workers on {config.instance_type} ({describe(planned)}); set {planned.workers}, or leave it unset"
        )
    if given is None:
        say(f"workers per instance: {planned.workers} on {config.instance_type} ({describe(planned)}; {location})")
    return config.model_copy(update={"workers_per_instance": planned.workers})


def settled_for_estimates(config: DeployConfig) -> DeployConfig:
    """`cost --config` and `simulate`: the config's workers, else the artifact's plan (boto3's default
    credentials; a config that sets workers_per_instance needs none)."""
    from .clients import Clients

    return settle_workers(config, lambda: Clients(config.region).s3, check=False)


def read_plan(s3: S3Client, location: str) -> tuple[WorkerPlanFile | None, str]:
    """The plan file, or None and why it cannot be had (missing, or not ours to read)."""
    bucket, key = split_s3(location)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if is_missing(exc) or code in UNREADABLE:
            return None, "does not exist" if is_missing(exc) else f"cannot be read ({code})"
        raise
    try:
        return parse_plan(body, location), ""
    except PlanFileError as exc:
        raise DeployConfigError(str(exc)) from None


def describe(plan: NeuronPlan) -> str:
    return ", ".join(f"{name}: {plan.counts[name]} x {plan.cores[name]} NeuronCore(s)" for name in plan.counts)


def _planned(plan: WorkerPlanFile, config: DeployConfig, location: str) -> NeuronPlan:
    try:
        planned = plan.plan_on(config.instance_type, config.container_environment, location)
    except PlanFileError as exc:
        raise DeployConfigError(f"environment: {exc}") from None
    assert planned is not None  # an inf2 type (settle_workers checked)
    return planned


def _same_archive(s3: S3Client, plan: WorkerPlanFile, model_data_url: str, location: str) -> None:
    """A plan left beside another archive (re-uploaded by hand) would count the wrong workers."""
    bucket, key = split_s3(model_data_url)
    try:
        recorded = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")
    except ClientError as exc:
        if is_missing(exc) or str(exc.response.get("Error", {}).get("Code", "")) in UNREADABLE:
            return  # the endpoint's own download reports a missing archive
        raise
    if recorded and recorded != plan.archive_sha256:
        raise DeployConfigError(
            f"model_data_url: {location} belongs to another archive (sha256 {plan.archive_sha256[:12]}..., "
            f"{model_data_url} has {recorded[:12]}...): upload both again with `sdxl-inf2 package DIR --upload`"
        )
