"""Model Registry: one model package group per deployment, one package version per image + artifact.

Registering the same image and artifact again finds the existing version (its description carries
a hash of the inference specification) instead of adding a duplicate; `approve` then only flips its
status to Approved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from .clients import Clients, describe_or_none
from .config import DeployConfig, Registry
from .errors import DeployConfigError
from .naming import content_hash, tags
from .say import say

if TYPE_CHECKING:
    from types_boto3_sagemaker.literals import ProductionVariantInstanceTypeType
    from types_boto3_sagemaker.type_defs import (
        CreateModelPackageGroupInputTypeDef,
        CreateModelPackageInputTypeDef,
        InferenceSpecificationTypeDef,
        ModelPackageContainerDefinitionTypeDef,
    )

# What the container reads and writes (docs/api.md): JSON in; an image, or JSON with base64 images, out.
CONTENT_TYPES = ["application/json"]
RESPONSE_TYPES = ["image/png", "image/jpeg", "image/webp", "application/json"]


def settings(config: DeployConfig) -> Registry:
    if config.registry is None:
        raise DeployConfigError("the config has no registry section")
    return config.registry


def group_request(config: DeployConfig) -> CreateModelPackageGroupInputTypeDef:
    description = settings(config).description or f"SDXL on Inferentia2 for endpoint {config.name}"
    return {
        "ModelPackageGroupName": settings(config).group,
        "ModelPackageGroupDescription": description,
        "Tags": tags(config),
    }


def inference_specification(config: DeployConfig) -> InferenceSpecificationTypeDef:
    container: ModelPackageContainerDefinitionTypeDef = {
        "Image": config.image_uri,
        "ModelDataUrl": config.model_data_url,
        "Environment": config.container_environment,
    }
    return {
        "Containers": [container],
        "SupportedContentTypes": CONTENT_TYPES,
        "SupportedResponseMIMETypes": RESPONSE_TYPES,
        "SupportedRealtimeInferenceInstanceTypes": [_instance_type(config)],
    }


def _instance_type(config: DeployConfig) -> ProductionVariantInstanceTypeType:
    return cast("ProductionVariantInstanceTypeType", config.instance_type)  # the config checks its form


def version_marker(config: DeployConfig) -> str:
    return f"[sdxl-inf2 {content_hash(inference_specification(config))}]"


def package_request(config: DeployConfig, approve: bool) -> CreateModelPackageInputTypeDef:
    text = " ".join(part for part in (settings(config).description, version_marker(config)) if part)
    return {
        "ModelPackageGroupName": settings(config).group,
        "ModelPackageDescription": text,
        "InferenceSpecification": inference_specification(config),
        "ModelApprovalStatus": "Approved" if approve else "PendingManualApproval",
    }


def register_version(clients: Clients, config: DeployConfig, approve: bool) -> str:
    """Ensures the group and this version; returns the package ARN."""
    sm = clients.sagemaker
    group = settings(config).group
    if describe_or_none(lambda: sm.describe_model_package_group(ModelPackageGroupName=group)) is None:
        sm.create_model_package_group(**group_request(config))
        say(f"model package group {group}: created")
    existing = find_version(clients, config)
    if existing is None:
        arn = sm.create_model_package(**package_request(config, approve))["ModelPackageArn"]
        say(f"model package {arn}: created ({'Approved' if approve else 'PendingManualApproval'})")
        return arn
    say(f"model package {existing}: exists")
    if approve:
        approve_version(clients, existing)
    return existing


def find_version(clients: Clients, config: DeployConfig) -> str | None:
    """The ARN of the version registered for this image + artifact, if any."""
    marker = version_marker(config)
    pages = clients.sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=settings(config).group
    )
    for page in pages:
        for summary in page["ModelPackageSummaryList"]:
            if marker in summary.get("ModelPackageDescription", ""):
                return summary["ModelPackageArn"]
    return None


def approve_version(clients: Clients, arn: str) -> None:
    status = clients.sagemaker.describe_model_package(ModelPackageName=arn).get("ModelApprovalStatus")
    if status != "Approved":
        clients.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        say(f"model package {arn}: Approved (was {status})")


def remove_registry(clients: Clients, config: DeployConfig) -> None:
    """Deletes every version in the group, then the group (teardown --delete-registry only)."""
    sm = clients.sagemaker
    group = settings(config).group
    if describe_or_none(lambda: sm.describe_model_package_group(ModelPackageGroupName=group)) is None:
        return
    for page in sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
        for summary in page["ModelPackageSummaryList"]:
            sm.delete_model_package(ModelPackageName=summary["ModelPackageArn"])
    sm.delete_model_package_group(ModelPackageGroupName=group)
    say(f"model package group {group}: deleted")
