"""The gateway's settings: environment variables (`SDXL_GATEWAY_*`), read once, cast strictly.

In Lambda they are the function's environment, which `sdxl-inf2 deploy` writes from the deployment
config (deploy/gateway.py builds a GatewaySettings and calls `environment()`); `sdxl-inf2 invoke` and
`sdxl-inf2 gateway serve` build the same object from the config directly. A bad value is one line
naming the variable (sdxl_inf2/core/settings.py `from_environment`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sdxl_inf2.core.metrics import DEFAULT_VARIANT, NAMESPACE, UNKNOWN_ENDPOINT
from sdxl_inf2.core.sagemaker import (
    DEFAULT_INVOCATION_TIMEOUT_S,
    DEFAULT_REQUEST_TTL_S,
    ENDPOINT_NAME_MAX,
    InvocationTimeoutSeconds,
    RequestTtlSeconds,
)
from sdxl_inf2.core.settings import (
    S3_TIMEOUT_S,
    DimensionValue,
    Namespace,
    S3Prefix,
    S3TimeoutSeconds,
    from_environment,
)

# How long the gateway trusts the model card it read (card.py); deploy's `gateway.card_ttl_s` too.
CARD_TTL_S = 60.0
CardTtlSeconds = Annotated[float, Field(ge=0, le=3600)]


class GatewaySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    endpoint_name: str = Field(
        min_length=1,
        max_length=ENDPOINT_NAME_MAX,
        alias="SDXL_GATEWAY_ENDPOINT_NAME",
        description="The async endpoint misses are queued on.",
    )
    cache_s3_uri: S3Prefix = Field(
        alias="SDXL_GATEWAY_CACHE_S3_URI",
        description="The container's `SDXL_CACHE_S3_URI`: the shared cache tier, its model card, and the "
        "gateway's claims and records under `gateway/`.",
    )
    input_path: S3Prefix = Field(alias="SDXL_GATEWAY_INPUT_PATH", description="Where request bodies are uploaded.")
    request_ttl_s: RequestTtlSeconds = Field(
        DEFAULT_REQUEST_TTL_S,
        alias="SDXL_GATEWAY_REQUEST_TTL_S",
        description="RequestTTLSeconds of each InvokeEndpointAsync: how long a request may wait in the queue.",
    )
    invocation_timeout_s: InvocationTimeoutSeconds = Field(
        DEFAULT_INVOCATION_TIMEOUT_S,
        alias="SDXL_GATEWAY_INVOCATION_TIMEOUT_S",
        description="InvocationTimeoutSeconds: how long the container may take once it has the request.",
    )
    card_ttl_s: CardTtlSeconds = Field(
        CARD_TTL_S,
        alias="SDXL_GATEWAY_CARD_TTL_S",
        description="Seconds the model card is kept in memory before it is read again.",
    )
    s3_timeout_s: S3TimeoutSeconds = Field(
        S3_TIMEOUT_S, alias="SDXL_GATEWAY_S3_TIMEOUT_S", description="S3 connect and read timeout."
    )
    metrics: Literal["on", "off"] = Field(
        "on", alias="SDXL_GATEWAY_METRICS", description="`off` counts no demand (no EMF, no PutMetricData)."
    )
    metrics_namespace: Namespace = Field(
        NAMESPACE,
        alias="SDXL_GATEWAY_METRICS_NAMESPACE",
        description="Namespace of the demand counts: the container's, so the usage-rate policy reads them.",
    )
    metrics_endpoint_name: DimensionValue = Field(
        UNKNOWN_ENDPOINT, alias="SDXL_GATEWAY_METRICS_ENDPOINT_NAME", description="The `EndpointName` dimension value."
    )
    metrics_variant_name: DimensionValue = Field(
        DEFAULT_VARIANT, alias="SDXL_GATEWAY_METRICS_VARIANT_NAME", description="The `VariantName` dimension value."
    )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> GatewaySettings:
        return from_environment(cls, environ)

    def environment(self) -> dict[str, str]:
        """The variables that reproduce these settings (what deploy gives the Lambda function)."""
        values = self.model_dump(by_alias=True)
        return {name: f"{value:g}" if isinstance(value, float) else str(value) for name, value in values.items()}

    @property
    def expires_after_s(self) -> int:
        """Longest a queued request can take: time allowed in SageMaker's queue plus processing time."""
        return self.request_ttl_s + self.invocation_timeout_s
