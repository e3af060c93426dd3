"""What the runtime serves, read back from SageMaker (DescribeEndpoint, then DescribeEndpointConfig),
never from the YAML: the variant and, for an async endpoint, its AsyncInferenceConfig.

An endpoint config without AsyncInferenceConfig is a real-time endpoint: InvokeEndpoint only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sdxl_inf2.deploy.clients import Clients

if TYPE_CHECKING:
    from types_boto3_sagemaker.type_defs import AsyncInferenceConfigOutputTypeDef

# SageMaker picks MaxConcurrentInvocationsPerInstance itself when the config omits it, and does not
# say how; `deploy` always sets it, so only a hand-made endpoint config meets this value.
UNSET_CONCURRENCY = 1


@dataclass(frozen=True)
class AsyncSettings:
    max_concurrency: int
    output_path: str
    failure_path: str | None
    kms_key_id: str | None
    success_topic: str | None
    error_topic: str | None


@dataclass(frozen=True)
class ServedEndpoint:
    name: str
    config_name: str
    variant: str
    initial_instances: int
    account: str
    async_settings: AsyncSettings | None  # None: real-time


def read_endpoint(clients: Clients, name: str) -> ServedEndpoint:
    endpoint = clients.sagemaker.describe_endpoint(EndpointName=name)
    config = clients.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    found = config.get("AsyncInferenceConfig")
    return ServedEndpoint(
        name=name,
        config_name=endpoint["EndpointConfigName"],
        variant=variant["VariantName"],
        initial_instances=int(variant.get("InitialInstanceCount", 1)),
        account=endpoint["EndpointArn"].split(":")[4],
        async_settings=_async_settings(found) if found else None,
    )


def _async_settings(found: AsyncInferenceConfigOutputTypeDef) -> AsyncSettings:
    output: Any = found.get("OutputConfig", {})
    notes: Any = output.get("NotificationConfig", {})
    client: Any = found.get("ClientConfig", {})
    return AsyncSettings(
        max_concurrency=int(client.get("MaxConcurrentInvocationsPerInstance") or UNSET_CONCURRENCY),
        output_path=str(output.get("S3OutputPath", "")),
        failure_path=output.get("S3FailurePath"),
        kms_key_id=output.get("KmsKeyId"),
        success_topic=notes.get("SuccessTopic"),
        error_topic=notes.get("ErrorTopic"),
    )
