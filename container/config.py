"""Server settings, read once from the environment at start-up and cast strictly.

Every variable is documented in the README. A bad value stops the server with one line naming the
variable, never a traceback. SageMaker's own variables keep their names; ours are `SDXL_*`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .variants import parse_worker_plan

DEFAULT_MODEL_DIR = Path("/opt/ml/model")
# kind -> (pattern, what a user should write): what CloudWatch accepts for a namespace and a
# dimension value (aws-embedded-metrics' validator applies the same rules), and an S3 prefix.
_FORMS = {
    "namespace": (r"[a-zA-Z0-9._#:/-]{1,255}", "letters, digits and . _ # : / -, at most 255"),
    "dimension": (r"[\x21-\x39\x3b-\x7e][\x20-\x7e]{0,254}", "printable ASCII, not starting with ':'"),
    "s3_prefix": (r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?", "s3://bucket/prefix/"),
}


def in_form(kind: str) -> AfterValidator:
    """A string check whose error says what to write (`expected ...`), not the regular expression."""
    pattern, form = _FORMS[kind]

    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(f"expected {form}")
        return value

    return AfterValidator(check)


Namespace = Annotated[str, in_form("namespace")]
DimensionValue = Annotated[str, in_form("dimension")]
S3Prefix = Annotated[str, in_form("s3_prefix")]


class ConfigError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    model_dir: Path = Field(DEFAULT_MODEL_DIR, alias="SM_MODEL_DIR")
    port: int = Field(8080, ge=1, le=65535, alias="SAGEMAKER_BIND_TO_PORT")
    host: str = Field("0.0.0.0", alias="SDXL_HOST")
    backend: str = Field("auto", alias="SDXL_BACKEND")
    device: Literal["auto", "cpu", "cuda", "neuron"] = Field("auto", alias="SDXL_DEVICE")
    workers: int | None = Field(None, ge=1, le=64, alias="SDXL_WORKERS")
    variant_workers: str | None = Field(None, alias="SDXL_VARIANT_WORKERS")  # e.g. 1024x1024:8,1152x896:2
    cores_per_worker: int = Field(2, ge=1, le=64, alias="SDXL_CORES_PER_WORKER")
    neuron_visible_cores: str | None = Field(None, alias="NEURON_RT_VISIBLE_CORES")
    cuda_visible_devices: str | None = Field(None, alias="CUDA_VISIBLE_DEVICES")
    max_queue: int = Field(64, ge=0, le=10_000, alias="SDXL_MAX_QUEUE")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, alias="SDXL_MAX_BODY_BYTES")
    request_timeout_s: float = Field(300.0, gt=0, le=3600, alias="SDXL_REQUEST_TIMEOUT_S")
    graceful_timeout_s: float = Field(25.0, ge=0, le=3600, alias="SDXL_GRACEFUL_TIMEOUT_S")
    stuck_grace_s: float = Field(60.0, ge=0, alias="SDXL_STUCK_GRACE_S")
    max_restarts: int = Field(3, ge=1, le=100, alias="SDXL_MAX_RESTARTS")
    restart_backoff_s: float = Field(1.0, ge=0, le=300, alias="SDXL_RESTART_BACKOFF_S")
    verify_model: Literal["full", "size", "off"] = Field("full", alias="SDXL_VERIFY_MODEL")
    log_prompts: bool = Field(False, alias="SDXL_LOG_PROMPTS")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", alias="SDXL_LOG_LEVEL")
    png_compress_level: int = Field(1, ge=0, le=9, alias="SDXL_PNG_COMPRESS_LEVEL")
    encode: Literal["thread", "inline"] = Field("thread", alias="SDXL_ENCODE")
    default_quality: int = Field(90, ge=1, le=100, alias="SDXL_DEFAULT_QUALITY")
    http_threads: int | None = Field(None, ge=2, le=4096, alias="SDXL_HTTP_THREADS")
    keepalive_s: int = Field(75, ge=0, le=3600, alias="SDXL_KEEPALIVE_S")
    metrics: Literal["on", "off"] = Field("on", alias="SDXL_METRICS")
    metrics_namespace: Namespace = Field("SdxlInf2", alias="SDXL_METRICS_NAMESPACE")
    metrics_endpoint_name: DimensionValue = Field("unknown", alias="SDXL_METRICS_ENDPOINT_NAME")
    metrics_variant_name: DimensionValue = Field("AllTraffic", alias="SDXL_METRICS_VARIANT_NAME")
    # off: the gateway counts requests at arrival (deploy sets it), so the container leaves them out
    metrics_request_counts: Literal["on", "off"] = Field("on", alias="SDXL_METRICS_REQUEST_COUNTS")
    cache_dir: Path | None = Field(None, alias="SDXL_CACHE_DIR")
    cache_max_bytes: int = Field(2 * 1024**3, ge=64 * 1024, alias="SDXL_CACHE_MAX_BYTES")
    cache_s3_uri: S3Prefix | None = Field(None, alias="SDXL_CACHE_S3_URI")
    cache_s3_timeout_s: float = Field(2.0, gt=0, le=60, alias="SDXL_CACHE_S3_TIMEOUT_S")

    @field_validator("backend")
    @classmethod
    def _backend_name(cls, value: str) -> str:
        if value in ("auto", "neuron", "torch", "simulated") or ":" in value:
            return value
        raise ValueError("expected auto, neuron, torch, simulated, or module:Class")

    @field_validator("variant_workers")
    @classmethod
    def _worker_plan(cls, value: str | None) -> str | None:
        if value is not None:
            parse_worker_plan(value)  # VariantPlanError is a ValueError: one line naming the variable
        return value

    @property
    def cache_enabled(self) -> bool:
        return self.cache_dir is not None or self.cache_s3_uri is not None

    @property
    def worker_plan(self) -> dict[str, int] | None:
        return parse_worker_plan(self.variant_workers) if self.variant_workers else None

    def threads_for(self, workers: int, queues: int = 1) -> int:
        """Enough HTTP threads that every queued (SDXL_MAX_QUEUE per variant) and running request
        holds one and /ping still has some."""
        return self.http_threads or self.max_queue * queues + workers + 8


def load_settings(environ: Mapping[str, str] | None = None, model_dir: Path | None = None) -> Settings:
    """Settings from `environ` (default os.environ); `model_dir` (from --model-dir) wins over SM_MODEL_DIR."""
    overrides: dict[str, object] = {"SM_MODEL_DIR": model_dir} if model_dir is not None else {}
    return from_environment(Settings, os.environ if environ is None else environ, overrides)


SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def from_environment(
    model: type[SettingsModel], environ: Mapping[str, str], overrides: Mapping[str, object] | None = None
) -> SettingsModel:
    """`model`'s fields from the variables named by their aliases (empty ones ignored); ConfigError
    naming the variable and its value otherwise. The gateway's settings are read with this too."""
    aliases = {field.alias for field in model.model_fields.values() if field.alias}
    values: dict[str, object] = {k: v for k, v in environ.items() if k in aliases and v != ""}
    values.update(overrides or {})
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        if first["type"] == "missing":
            raise ConfigError(f"{name}: required, not set") from None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}={values.get(name)!r}: {message}") from None
