"""The model, the endpoint config with AsyncInferenceConfig, and the endpoint.

A release is one model plus one endpoint config, both named `<name>-<hash of their content>`.
Deploying creates what is missing, then creates the endpoint or points it at the new release with
UpdateEndpoint (never an in-place change), and waits until it is InService or Failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from .clients import Clients, describe_or_none
from .config import DeployConfig
from .errors import EndpointFailed
from .naming import content_hash, release_name, tags, topic_arn
from .progress import StatusLine, wait_for
from .say import say

if TYPE_CHECKING:
    from types_boto3_sagemaker import SageMakerClient
    from types_boto3_sagemaker.literals import (
        ProductionVariantInferenceAmiVersionType,
        ProductionVariantInstanceTypeType,
    )
    from types_boto3_sagemaker.type_defs import (
        AsyncInferenceConfigTypeDef,
        AsyncInferenceNotificationConfigTypeDef,
        AsyncInferenceOutputConfigTypeDef,
        ContainerDefinitionTypeDef,
        CreateEndpointConfigInputTypeDef,
        CreateEndpointInputTypeDef,
        CreateModelInputTypeDef,
        DescribeEndpointOutputTypeDef,
        ProductionVariantTypeDef,
    )

IN_PROGRESS = {"Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"}


@dataclass(frozen=True)
class Release:
    name: str
    model: CreateModelInputTypeDef
    endpoint_config: CreateEndpointConfigInputTypeDef


def build_release(config: DeployConfig, region: str) -> Release:
    """The model and endpoint config requests for this config (pure: no API call)."""
    container = container_definition(config)
    async_config = async_inference_config(config, region) if config.async_inference else None
    digest = content_hash(container, config.execution_role_arn, production_variant(config, ""), async_config)
    name = release_name(config, digest)
    model: CreateModelInputTypeDef = {
        "ModelName": name,
        "ExecutionRoleArn": config.execution_role_arn,
        "PrimaryContainer": container,
        "Tags": tags(config),
    }
    endpoint_config: CreateEndpointConfigInputTypeDef = {
        "EndpointConfigName": name,
        "ProductionVariants": [production_variant(config, name)],
        "Tags": tags(config),
    }
    if async_config:  # without it the endpoint is real-time
        endpoint_config["AsyncInferenceConfig"] = async_config
    return Release(name, model, endpoint_config)


def container_definition(config: DeployConfig) -> ContainerDefinitionTypeDef:
    return {
        "Image": config.image_uri,
        "ModelDataUrl": config.model_data_url,
        "Environment": config.container_environment,
    }


def production_variant(config: DeployConfig, model_name: str) -> ProductionVariantTypeDef:
    # Neuron SDXL start-up: the artifact download, then every worker loads its compiled pipeline onto
    # its chip and renders one warm-up image before /ping turns 200 - minutes, not the default's
    # budget. No VolumeSizeInGB or KmsKeyId: inf2 instances use local NVMe storage, which rejects both.
    variant: ProductionVariantTypeDef = {
        "VariantName": config.variant_name,
        "ModelName": model_name,
        "InstanceType": cast("ProductionVariantInstanceTypeType", config.instance_type),
        "InitialInstanceCount": config.initial_instance_count,
        "ContainerStartupHealthCheckTimeoutInSeconds": config.container_startup_health_check_timeout_s,
        "ModelDataDownloadTimeoutInSeconds": config.model_data_download_timeout_s,
    }
    if config.inference_ami_version:
        variant["InferenceAmiVersion"] = cast("ProductionVariantInferenceAmiVersionType", config.inference_ami_version)
    return variant


def async_inference_config(config: DeployConfig, region: str) -> AsyncInferenceConfigTypeDef:
    settings = config.async_settings("an AsyncInferenceConfig")
    output: AsyncInferenceOutputConfigTypeDef = {
        "S3OutputPath": settings.output_path,
        "S3FailurePath": settings.failure_path,
    }
    if settings.kms_key_id:
        output["KmsKeyId"] = settings.kms_key_id
    notification = notification_config(config, region)
    if notification:
        output["NotificationConfig"] = notification
    return {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": config.max_concurrency},
        "OutputConfig": output,
    }


def notification_config(config: DeployConfig, region: str) -> AsyncInferenceNotificationConfigTypeDef:
    notes = config.notifications
    result: AsyncInferenceNotificationConfigTypeDef = {}
    if notes.success_topic:
        result["SuccessTopic"] = topic_arn(config, region, notes.success_topic)
    if notes.error_topic:
        result["ErrorTopic"] = topic_arn(config, region, notes.error_topic)
    if notes.include_inference_response_in:
        result["IncludeInferenceResponseIn"] = list(notes.include_inference_response_in)
    return result


def endpoint_request(config: DeployConfig, release: Release) -> CreateEndpointInputTypeDef:
    return {"EndpointName": config.name, "EndpointConfigName": release.name, "Tags": tags(config)}


def ensure_release(sm: SageMakerClient, release: Release) -> None:
    """Creates the release's model and endpoint config unless they exist (same name = same content)."""
    if describe_or_none(lambda: sm.describe_model(ModelName=release.name)):
        say(f"model {release.name}: exists")
    else:
        sm.create_model(**release.model)
        say(f"model {release.name}: created")
    if describe_or_none(lambda: sm.describe_endpoint_config(EndpointConfigName=release.name)):
        say(f"endpoint config {release.name}: exists")
    else:
        sm.create_endpoint_config(**release.endpoint_config)
        say(f"endpoint config {release.name}: created")


def describe_endpoint(sm: SageMakerClient, name: str) -> DescribeEndpointOutputTypeDef | None:
    return describe_or_none(lambda: sm.describe_endpoint(EndpointName=name))


def point_endpoint(clients: Clients, config: DeployConfig, release: Release) -> str:
    """Creates the endpoint on this release, or updates it to this release; returns what it did."""
    sm = clients.sagemaker
    current = describe_endpoint(sm, config.name)
    if current is None:
        sm.create_endpoint(**endpoint_request(config, release))
        return "created"
    if current["EndpointConfigName"] == release.name:
        raise_if_failed(current)
        return "unchanged"
    if current["EndpointStatus"] in IN_PROGRESS:
        wait_in_service(sm, config)
    sm.update_endpoint(EndpointName=config.name, EndpointConfigName=release.name)
    return f"updating from {current['EndpointConfigName']}"


def instance_type_changes(sm: SageMakerClient, config: DeployConfig) -> bool:
    """Whether the live endpoint runs another instance type (UpdateEndpoint then refuses a scaled variant)."""
    current = describe_endpoint(sm, config.name)
    if current is None:
        return False
    live = sm.describe_endpoint_config(EndpointConfigName=current["EndpointConfigName"])
    return any(v.get("InstanceType") != config.instance_type for v in live["ProductionVariants"])


def wait_in_service(sm: SageMakerClient, config: DeployConfig, line: StatusLine | None = None) -> str:
    """Polls until InService (returns the status) or Failed (raises with SageMaker's FailureReason)."""

    def poll() -> tuple[str, bool]:
        endpoint = sm.describe_endpoint(EndpointName=config.name)
        raise_if_failed(endpoint)
        return endpoint_summary(endpoint), endpoint["EndpointStatus"] == "InService"

    label = f"endpoint {config.name}"
    return wait_for(poll, label, poll_s=config.wait.poll_s, timeout_s=config.wait.timeout_s, line=line)


def endpoint_summary(endpoint: DescribeEndpointOutputTypeDef) -> str:
    """'Creating, 0/1 instances' from a describe_endpoint answer."""
    counts = [
        f"{v.get('CurrentInstanceCount', 0)}/{v.get('DesiredInstanceCount', 0)} instances"
        for v in endpoint.get("ProductionVariants", [])
    ]
    return ", ".join([endpoint["EndpointStatus"], *counts])


def raise_if_failed(endpoint: DescribeEndpointOutputTypeDef) -> None:
    if endpoint["EndpointStatus"] == "Failed":
        reason = endpoint.get("FailureReason", "no reason given")
        raise EndpointFailed(f"endpoint {endpoint['EndpointName']} Failed: {reason}")
