"""The gateway's settings: environment variables (`SDXL_GATEWAY_*`), read once, cast strictly.

In Lambda they are the function's environment, which `sdxl-inf2 deploy` writes from the deployment
config (deploy/gateway.py builds a GatewaySettings and calls `environment()`); `sdxl-inf2 invoke` and
`sdxl-inf2 gateway serve` build the same object from the config directly. A bad value is one line
naming the variable (container/config.py `from_environment`).
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

    endpoint_name: str = Field(min_length=1, max_length=ENDPOINT_NAME_MAX, alias="SDXL_GATEWAY_ENDPOINT_NAME")
    cache_s3_uri: S3Prefix = Field(alias="SDXL_GATEWAY_CACHE_S3_URI")  # the container's SDXL_CACHE_S3_URI
    input_path: S3Prefix = Field(alias="SDXL_GATEWAY_INPUT_PATH")  # where request bodies are uploaded
    request_ttl_s: RequestTtlSeconds = Field(DEFAULT_REQUEST_TTL_S, alias="SDXL_GATEWAY_REQUEST_TTL_S")
    invocation_timeout_s: InvocationTimeoutSeconds = Field(
        DEFAULT_INVOCATION_TIMEOUT_S, alias="SDXL_GATEWAY_INVOCATION_TIMEOUT_S"
    )
    card_ttl_s: CardTtlSeconds = Field(CARD_TTL_S, alias="SDXL_GATEWAY_CARD_TTL_S")
    s3_timeout_s: S3TimeoutSeconds = Field(S3_TIMEOUT_S, alias="SDXL_GATEWAY_S3_TIMEOUT_S")
    metrics: Literal["on", "off"] = Field("on", alias="SDXL_GATEWAY_METRICS")
    metrics_namespace: Namespace = Field(NAMESPACE, alias="SDXL_GATEWAY_METRICS_NAMESPACE")
    metrics_endpoint_name: DimensionValue = Field(UNKNOWN_ENDPOINT, alias="SDXL_GATEWAY_METRICS_ENDPOINT_NAME")
    metrics_variant_name: DimensionValue = Field(DEFAULT_VARIANT, alias="SDXL_GATEWAY_METRICS_VARIANT_NAME")

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
