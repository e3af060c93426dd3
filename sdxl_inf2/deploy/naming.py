"""Names and ARNs of everything a deployment owns, all derived from the config (no API call).

The endpoint keeps the config's `name`. Models and endpoint configs are immutable in SageMaker, so
each gets the name plus a short hash of its content: deploying the same config again finds the same
names (nothing is duplicated), and any change produces new ones for an update that is never in place.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any, Final

from .config import DeployConfig

if TYPE_CHECKING:
    from types_boto3_application_autoscaling.type_defs import PutScalingPolicyRequestTypeDef
    from types_boto3_sagemaker.type_defs import TagTypeDef

SERVICE: Final = "sagemaker"  # Application Auto Scaling's ServiceNamespace for endpoint variants
SCALABLE_DIMENSION: Final = "sagemaker:variant:DesiredInstanceCount"
MANAGED_BY_TAG = "sdxl-inf2:deployment"


def content_hash(*parts: Any) -> str:
    """8 hex digits of a canonical JSON dump: stable across runs and machines."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def release_name(config: DeployConfig, digest: str) -> str:
    return f"{config.name}-{digest}"


def is_release_of(config: DeployConfig, name: str) -> bool:
    """Whether a model or endpoint config name is one of this deployment's releases."""
    return re.fullmatch(rf"{re.escape(config.name)}-[0-9a-f]{{8}}", name) is not None


def resource_id(config: DeployConfig) -> str:
    return f"endpoint/{config.name}/variant/{config.variant_name}"


def policy_name(config: DeployConfig, kind: str) -> str:
    return f"{config.name}-{kind}"


def policy_target(config: DeployConfig, kind: str) -> PutScalingPolicyRequestTypeDef:
    """The name and the scalable target of one of this deployment's scaling policies."""
    return {
        "PolicyName": policy_name(config, kind),
        "ServiceNamespace": SERVICE,
        "ResourceId": resource_id(config),
        "ScalableDimension": SCALABLE_DIMENSION,
    }


def alarm_name(config: DeployConfig) -> str:
    return f"{config.name}-has-backlog-without-capacity"


def surge_alarm_name(config: DeployConfig) -> str:
    return f"{config.name}-surge"


def dashboard_name(config: DeployConfig, region: str) -> str:
    """Dashboards are global to an account and endpoints regional: the region keeps the dashboards of
    one config deployed in two regions apart. At most 54 + 1 + a region's length, within PutDashboard's
    255 characters of A-Z, a-z, 0-9, "-" and "_" (botocore states that rule in prose only)."""
    return f"{config.name}-{region}"


def arn(config: DeployConfig, service: str, region: str, resource: str) -> str:
    return f"arn:{config.partition}:{service}:{region}:{config.account}:{resource}"


def topic_arn(config: DeployConfig, region: str, topic: str) -> str:
    """A configured topic as an ARN: given ARNs unchanged, names as the ARN create_topic returns."""
    return topic if topic.startswith("arn:") else arn(config, "sns", region, topic)


def created_topics(config: DeployConfig) -> list[str]:
    """Topic names deploy creates (and teardown deletes); ARNs in the config belong to someone else."""
    notes = config.notifications
    names = [t for t in (notes.success_topic, notes.error_topic) if t and not t.startswith("arn:")]
    return list(dict.fromkeys(names))


def log_group(config: DeployConfig) -> str:
    return f"/aws/sagemaker/Endpoints/{config.name}"


def tags(config: DeployConfig) -> list[TagTypeDef]:
    """The config's tags plus one that marks what this tool manages."""
    merged = {**config.tags, MANAGED_BY_TAG: config.name}
    return [{"Key": key, "Value": value} for key, value in merged.items()]


def ecr_repository(config: DeployConfig) -> tuple[str, str, str]:
    """(account, region, repository) of the ECR image."""
    host, _, path = config.image_uri.partition("/")
    repository = re.split(r"[:@]", path, maxsplit=1)[0]
    parts = host.split(".")
    return parts[0], parts[3], repository
