"""Server settings, read once from the environment at start-up and cast strictly.

Every variable is documented in the docs' Configuration page, whose table is generated from the
`description` of each field below. A bad value stops the server with one line naming the variable,
never a traceback. SageMaker's own variables keep their names; ours are `SDXL_*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from sdxl_inf2.core import metrics as names
from sdxl_inf2.core.cache import CACHE_S3_SETTING
from sdxl_inf2.core.settings import (
    S3_TIMEOUT_S,
    ConfigError,
    DimensionValue,
    Namespace,
    S3Prefix,
    S3TimeoutSeconds,
    from_environment,
)
from sdxl_inf2.core.workers import WorkerSettings

__all__ = ["ConfigError", "Settings", "load_settings"]

DEFAULT_MODEL_DIR = Path("/opt/ml/model")


class Settings(WorkerSettings):
    """Every server setting; the worker plan's (SDXL_WORKERS, SDXL_VARIANT_WORKERS, SDXL_CORES_PER_WORKER)
    come from `WorkerSettings`, which deploy reads from the container environment too."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    model_dir: Path = Field(
        DEFAULT_MODEL_DIR, alias="SM_MODEL_DIR", description="The model folder (`--model-dir` wins over it)."
    )
    port: int = Field(8080, ge=1, le=65535, alias="SAGEMAKER_BIND_TO_PORT", description="The listening port.")
    host: str = Field("0.0.0.0", alias="SDXL_HOST", description="The listening address.")
    backend: str = Field(
        "auto",
        alias="SDXL_BACKEND",
        description="`auto` (neuron for a compiled folder where torch_neuronx imports, else torch), `neuron`, "
        "`torch`, `simulated` (a benchmark tool, never chosen by auto) or `module:Class`.",
    )
    device: Literal["auto", "cpu", "cuda", "neuron"] = Field(
        "auto",
        alias="SDXL_DEVICE",
        description="The workers' device. `auto`: neuron for the neuron backend, else cuda where a GPU is visible, "
        "else cpu.",
    )
    neuron_visible_cores: str | None = Field(
        None,
        alias="NEURON_RT_VISIBLE_CORES",
        description="The container's NeuronCores (e.g. `4-7`). Unset: two per `/dev/neuronN`. The server sets "
        "each worker's own range itself.",
    )
    cuda_visible_devices: str | None = Field(
        None, alias="CUDA_VISIBLE_DEVICES", description="The container's GPUs; each torch worker gets one of them."
    )
    max_queue: int = Field(
        64,
        ge=0,
        le=10_000,
        alias="SDXL_MAX_QUEUE",
        description="Requests allowed to wait, per variant; beyond it a 503 `queue_full` at once.",
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, alias="SDXL_MAX_BODY_BYTES", description="Larger request bodies get a 413."
    )
    request_timeout_s: float = Field(
        300.0,
        gt=0,
        le=3600,
        alias="SDXL_REQUEST_TIMEOUT_S",
        description="Queue plus generation time before a 504.",
    )
    graceful_timeout_s: float = Field(
        25.0,
        ge=0,
        le=3600,
        alias="SDXL_GRACEFUL_TIMEOUT_S",
        description="On SIGTERM, time for in-flight and queued requests (SageMaker kills at 30 s).",
    )
    stuck_grace_s: float = Field(
        60.0,
        ge=0,
        alias="SDXL_STUCK_GRACE_S",
        description="After a timeout, how long a worker may stay busy before it is killed and replaced.",
    )
    max_restarts: int = Field(
        3,
        ge=1,
        le=100,
        alias="SDXL_MAX_RESTARTS",
        description="Failed starts in a row before a worker slot is given up (`/ping` then answers 503 `failed`).",
    )
    restart_backoff_s: float = Field(
        1.0, ge=0, le=300, alias="SDXL_RESTART_BACKOFF_S", description="First delay between restarts; it doubles."
    )
    verify_model: Literal["full", "size", "off"] = Field(
        "full",
        alias="SDXL_VERIFY_MODEL",
        description="Check the model's files against `manifest.json` at start: `full` (sha256), `size`, `off`.",
    )
    log_prompts: bool = Field(False, alias="SDXL_LOG_PROMPTS", description="Log prompts in the request log.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", alias="SDXL_LOG_LEVEL", description="The log level."
    )
    png_compress_level: int = Field(
        1,
        ge=0,
        le=9,
        alias="SDXL_PNG_COMPRESS_LEVEL",
        description="PNG zlib level; level 1 costs about a third of level 6 for about 10% more bytes.",
    )
    encode: Literal["thread", "inline"] = Field(
        "thread",
        alias="SDXL_ENCODE",
        description="`thread`: the worker's encoder thread encodes while the next job generates; `inline`: the "
        "worker encodes before it takes the next job (for comparison, bench/encode_overlap).",
    )
    default_quality: int = Field(
        90, ge=1, le=100, alias="SDXL_DEFAULT_QUALITY", description="JPEG/WebP quality when a request gives none."
    )
    http_threads: int | None = Field(
        None,
        ge=2,
        le=4096,
        alias="SDXL_HTTP_THREADS",
        description="Front threads (each waiting request holds one). Unset: queue x variants + workers + 8.",
    )
    keepalive_s: int = Field(75, ge=0, le=3600, alias="SDXL_KEEPALIVE_S", description="HTTP keep-alive, seconds.")
    metrics: Literal["on", "off"] = Field(
        "on",
        alias=names.SWITCH_SETTING,
        description="`off` writes no EMF metrics (the usage-rate policy then has no data; deploy refuses that).",
    )
    metrics_namespace: Namespace = Field(
        names.NAMESPACE, alias=names.NAMESPACE_SETTING, description="CloudWatch namespace of the container's metrics."
    )
    metrics_endpoint_name: DimensionValue = Field(
        names.UNKNOWN_ENDPOINT,
        alias=names.ENDPOINT_SETTING,
        description="The `EndpointName` dimension value; deploy sets it to the endpoint's name.",
    )
    metrics_variant_name: DimensionValue = Field(
        names.DEFAULT_VARIANT,
        alias=names.VARIANT_SETTING,
        description="The `VariantName` dimension value; deploy sets it to the production variant's name.",
    )
    metrics_flush_s: float = Field(
        1.0,
        ge=1,
        le=60,
        alias="SDXL_METRICS_FLUSH_S",
        description="How often the EMF metrics are written: one document per second and dimension set, each "
        "metric an array of every request's value (SIGTERM writes what is pending).",
    )
    # off: the gateway counts requests at arrival (deploy sets it), so the container leaves them out
    metrics_request_counts: Literal["on", "off"] = Field(
        "on",
        alias=names.REQUEST_COUNTS_SETTING,
        description="`off` leaves `NumberOfInferenceRequests`, `CacheHits` and `CacheMisses` out: the gateway "
        "counts them (deploy sets it).",
    )
    # on: deploy's surge policy compares the demand with the capacity in service (core/metrics.py)
    metrics_heartbeat: Literal["on", "off"] = Field(
        "off",
        alias=names.HEARTBEAT_SETTING,
        description="`on` writes `InServiceSeconds` = 1 for every second the workers are ready (/ping 200), "
        "requests or not, at high resolution: the instances in service per 10 s (deploy sets it with the "
        "surge policy).",
    )
    cache_dir: Path | None = Field(
        None,
        alias="SDXL_CACHE_DIR",
        description="The result cache's local disk tier (an LRU). Unset: no disk tier; unwritable: a start-up error.",
    )
    cache_max_bytes: int = Field(
        2 * 1024**3,
        ge=64 * 1024,
        alias="SDXL_CACHE_MAX_BYTES",
        description="Bound on the disk tier: entry files plus its SQLite index.",
    )
    cache_s3_uri: S3Prefix | None = Field(
        None,
        alias=CACHE_S3_SETTING,
        description="`s3://bucket/prefix/`: the cache tier every instance shares, and where each publishes its "
        "model card for the gateway.",
    )
    cache_s3_timeout_s: S3TimeoutSeconds = Field(
        S3_TIMEOUT_S,
        alias="SDXL_CACHE_S3_TIMEOUT_S",
        description="S3 connect and read timeout (one retry); beyond it a lookup is a miss.",
    )

    @field_validator("backend")
    @classmethod
    def _backend_name(cls, value: str) -> str:
        if value in ("auto", "neuron", "torch", "simulated") or ":" in value:
            return value
        raise ValueError("expected auto, neuron, torch, simulated, or module:Class")

    @property
    def cache_enabled(self) -> bool:
        return self.cache_dir is not None or self.cache_s3_uri is not None

    def threads_for(self, workers: int, queues: int = 1) -> int:
        """Enough HTTP threads that every queued (SDXL_MAX_QUEUE per variant) and running request
        holds one and /ping still has some."""
        return self.http_threads or self.max_queue * queues + workers + 8


def load_settings(environ: Mapping[str, str] | None = None, model_dir: Path | None = None) -> Settings:
    """Settings from `environ` (default os.environ); `model_dir` (from --model-dir) wins over SM_MODEL_DIR."""
    overrides: dict[str, object] = {"SM_MODEL_DIR": model_dir} if model_dir is not None else {}
    return from_environment(Settings, os.environ if environ is None else environ, overrides)
