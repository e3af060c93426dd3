"""The deployment config: one YAML file per endpoint, validated strictly (deploy/example.yaml documents it).

Every error is one line naming the file and the dotted key, e.g.
`prod.yaml: autoscaling.usage_rate.target_value: must be greater than 0 (got -1)`.
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StringConstraints, ValidationError, model_validator

from sdxl_inf2.core import metrics, sagemaker
from sdxl_inf2.core.cache import CACHE_S3_SETTING
from sdxl_inf2.core.sagemaker import (
    DEFAULT_INVOCATION_TIMEOUT_S,
    DEFAULT_REQUEST_TTL_S,
    ENDPOINT_NAME_MAX,
    InvocationTimeoutSeconds,
    RequestTtlSeconds,
)
from sdxl_inf2.core.validation import Problem, first_problem
from sdxl_inf2.core.workers import instance_cores
from sdxl_inf2.gateway.settings import CARD_TTL_S, CardTtlSeconds

from .errors import DeployConfigError
from .scaling_config import Autoscaling
from .sections import Section

CONFIG_WORDS = {"extra_forbidden": "unknown key", "missing": "required key is missing"}
_HINTS: dict[str, str] = {}  # pattern -> what a user should write instead


def matching(pattern: str, hint: str) -> StringConstraints:
    """A string pattern whose mismatch error says `hint` rather than the regular expression."""
    _HINTS[pattern] = hint
    return StringConstraints(pattern=pattern)


def entity_name(longest: int) -> StringConstraints:
    """A SageMaker name of at most `longest` characters: letters and digits, single hyphens between."""
    return matching(
        rf"^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{longest - 1}}}$",
        f"letters, digits and hyphens, at most {longest} characters",
    )


_BUCKET = r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# Models and endpoint configs take the endpoint's name plus "-<8 hex digits>" (naming.py), so the
# endpoint's own name keeps 9 characters free. Variants and model package groups share the limit.
RELEASE_SUFFIX = 9
EndpointName = Annotated[str, entity_name(ENDPOINT_NAME_MAX - RELEASE_SUFFIX)]
EntityName = Annotated[str, entity_name(ENDPOINT_NAME_MAX)]
TarGzUri = Annotated[str, matching(rf"^{_BUCKET}/.+\.tar\.gz$", "s3://bucket/key.tar.gz")]
S3Prefix = Annotated[
    str,
    matching(rf"^{_BUCKET}/.+$", "s3://bucket/prefix/"),
    StringConstraints(max_length=sagemaker.async_output_path().high),
]
EcrImage = Annotated[
    str,
    matching(
        r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$",
        "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>",
    ),
]
RoleArn = Annotated[
    str, matching(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$", "arn:aws:iam::<account>:role/<name>")
]
KmsKeyArn = Annotated[
    str, matching(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[\w-]+$", "arn:aws:kms:<region>:<account>:key/<id>")
]
# A topic is either an ARN (used as given) or a bare name (created by deploy, deleted by teardown).
Topic = Annotated[
    str,
    matching(
        r"^(arn:aws[a-z\-]*:sns:[a-z0-9\-]+:[0-9]{12}:[a-zA-Z0-9_.-]+|[a-zA-Z0-9_-]{1,256})$",
        "an SNS topic ARN, or a topic name to create",
    ),
]


def variant_range(member: str) -> Any:
    """A production variant member's range, as a pydantic constraint."""
    limits = sagemaker.production_variant(member)
    return Field(ge=limits.low, le=limits.high)


StartupSeconds = Annotated[int, variant_range("ContainerStartupHealthCheckTimeoutInSeconds")]
DownloadSeconds = Annotated[int, variant_range("ModelDataDownloadTimeoutInSeconds")]
_CONCURRENCY = sagemaker.max_concurrent_invocations()

# A model package version's container holds at most 16 environment entries (the Model Registry's limit).
MAX_ENVIRONMENT = 16


class Notifications(Section):
    success_topic: Topic | None = None
    error_topic: Topic | None = None
    include_inference_response_in: list[Literal["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"]] = Field([])
    queue: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,80}$")] | None = None

    @model_validator(mode="after")
    def _queue_needs_a_topic(self) -> Notifications:
        if self.queue and not (self.success_topic or self.error_topic):
            raise ValueError("queue: needs success_topic or error_topic to subscribe to")
        return self


class AsyncInference(Section):
    input_path: S3Prefix
    output_path: S3Prefix
    failure_path: S3Prefix
    max_concurrent_invocations_per_instance: int | None = Field(None, ge=_CONCURRENCY.low, le=_CONCURRENCY.high)
    kms_key_id: KmsKeyArn | None = None
    notifications: Notifications = Notifications()


class Registry(Section):
    group: EntityName
    description: str = Field("", max_length=1024)
    approve: bool = False


class Wait(Section):
    poll_s: float = Field(15.0, gt=0, le=600)
    timeout_s: float = Field(3600.0, gt=0)


class Invoke(Section):
    accept: str = Field("image/png", max_length=1024)
    request_ttl_s: RequestTtlSeconds = DEFAULT_REQUEST_TTL_S
    invocation_timeout_s: InvocationTimeoutSeconds = DEFAULT_INVOCATION_TIMEOUT_S
    poll_s: float = Field(2.0, gt=0, le=60)
    timeout_s: float = Field(1800.0, gt=0)


class Gateway(Section):
    """The request gateway (gateway/): a Lambda function with a function URL in front of the endpoint."""

    enabled: bool = True
    function_name: EntityName | None = None  # default: <name>-gateway
    role_arn: RoleArn
    memory_mb: int = Field(512, ge=128, le=10240)
    timeout_s: int = Field(30, ge=1, le=900)
    auth_type: Literal["AWS_IAM", "NONE"] = "AWS_IAM"
    card_ttl_s: CardTtlSeconds = CARD_TTL_S


class DeployConfig(Section):
    name: EndpointName
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")] | None = None
    image_uri: EcrImage
    model_data_url: TarGzUri
    execution_role_arn: RoleArn
    instance_type: Annotated[str, StringConstraints(pattern=r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")] = "ml.inf2.48xlarge"
    initial_instance_count: int = Field(1, ge=1, le=100)
    workers_per_instance: int | None = Field(None, ge=1, le=64)
    variant_name: EntityName = metrics.DEFAULT_VARIANT
    container_startup_health_check_timeout_s: StartupSeconds = 1800
    model_data_download_timeout_s: DownloadSeconds = 1200
    inference_ami_version: str | None = None
    environment: dict[str, str] = Field({}, max_length=MAX_ENVIRONMENT)
    tags: dict[str, str] = Field({})
    # Absent: a real-time endpoint (no AsyncInferenceConfig), answered by InvokeEndpoint only.
    async_inference: AsyncInference | None = None
    registry: Registry | None = None
    autoscaling: Autoscaling | None = None
    wait: Wait = Wait()
    invoke: Invoke = Invoke()
    gateway: Gateway | None = None
    dashboard: bool = True  # the campaign's CloudWatch dashboard (deploy/dashboard.py)

    @model_validator(mode="after")
    def _workers_known(self) -> DeployConfig:
        if self.workers_per_instance is None and instance_cores(self.instance_type) is None:
            raise ValueError(f"workers_per_instance: required for {self.instance_type} (no default for it)")
        return self

    @model_validator(mode="after")
    def _environment_fits(self) -> DeployConfig:
        added = sorted(set(self.container_environment) - set(self.environment))
        if added and len(self.container_environment) > MAX_ENVIRONMENT:
            raise ValueError(
                f"environment: at most {MAX_ENVIRONMENT - len(added)} entries: deploy adds {', '.join(added)} "
                f"(the Model Registry allows {MAX_ENVIRONMENT})"
            )
        return self

    @model_validator(mode="after")
    def _gateway_has_a_shared_cache(self) -> DeployConfig:
        if self.gateway_enabled and self.async_inference is None:
            raise ValueError("gateway: needs an async_inference section (it queues misses with InvokeEndpointAsync)")
        if self.gateway_enabled and not self.environment.get(CACHE_S3_SETTING):
            raise ValueError(
                f"gateway: needs environment.{CACHE_S3_SETTING} (the shared cache tier the gateway answers "
                "hits from, where each instance publishes its model card)"
            )
        return self

    @model_validator(mode="after")
    def _requests_counted_once(self) -> DeployConfig:
        asked = self.autoscaling.usage_rate.requests_from if self.autoscaling else None
        if asked == "gateway" and not self.gateway_enabled:
            raise ValueError("autoscaling.usage_rate.requests_from: gateway needs an enabled gateway section")
        counts = self.environment.get(metrics.REQUEST_COUNTS_SETTING)
        if self.requests_counted_by == "gateway" and counts not in (None, "off"):
            raise ValueError(
                f"environment: {metrics.REQUEST_COUNTS_SETTING}={counts} would count every request twice: "
                "the gateway counts them (autoscaling.usage_rate.requests_from)"
            )
        return self

    @model_validator(mode="after")
    def _usage_rate_has_its_metric(self) -> DeployConfig:
        scaling = self.autoscaling
        usage_rate = scaling is not None and scaling.enabled and scaling.policy == "usage-rate"
        counted_here = self.requests_counted_by == "container"
        if usage_rate and counted_here and self.environment.get(metrics.SWITCH_SETTING) == "off":
            raise ValueError(
                f"environment: {metrics.SWITCH_SETTING}=off leaves the usage-rate policy without its metric "
                "(the container's request counts); use autoscaling.policy: backlog, a gateway, or turn the metrics on"
            )
        return self

    @model_validator(mode="after")
    def _surge_has_its_metric(self) -> DeployConfig:
        scaling = self.autoscaling
        if scaling is None or scaling.surge.enabled is not True:
            return self
        if scaling.policy != "usage-rate":
            raise ValueError("autoscaling.surge.enabled: needs autoscaling.policy usage-rate (it sizes with it)")
        if self.requests_counted_by != "gateway":
            raise ValueError(
                "autoscaling.surge.enabled: needs demand counted at arrival (an enabled gateway, and "
                "autoscaling.usage_rate.requests_from gateway or empty): the container's counts are per minute"
            )
        return self

    @model_validator(mode="after")
    def _surge_has_its_heartbeat(self) -> DeployConfig:
        for setting in (metrics.SWITCH_SETTING, metrics.HEARTBEAT_SETTING):
            if self.surge_enabled and self.environment.get(setting) == "off":
                raise ValueError(
                    f"environment: {setting}=off leaves the surge policy without the instances' heartbeat "
                    "(its gate reads it); turn it on, or set autoscaling.surge.enabled: false"
                )
        return self

    @model_validator(mode="after")
    def _scaling_needs_async(self) -> DeployConfig:
        if self.scaling_enabled and self.async_inference is None:
            raise ValueError(
                "autoscaling: needs an async_inference section (scaling to and from zero and the backlog "
                "metrics exist only for async endpoints)"
            )
        return self

    @property
    def container_environment(self) -> dict[str, str]:
        """The container's environment: `environment`, plus the metric dimension values the usage-rate
        policy reads (this endpoint and variant), the request counts off when the gateway counts them,
        and the heartbeat on with the surge policy, unless `environment` sets its own."""
        added = {metrics.ENDPOINT_SETTING: self.name, metrics.VARIANT_SETTING: self.variant_name}
        if self.requests_counted_by == "gateway":
            added[metrics.REQUEST_COUNTS_SETTING] = "off"
        if self.surge_enabled:  # the surge's gate reads the instances' heartbeat
            added[metrics.HEARTBEAT_SETTING] = "on"
        return {**added, **self.environment}

    @property
    def container_metric_namespace(self) -> str:
        return self.container_environment.get(metrics.NAMESPACE_SETTING, metrics.NAMESPACE)

    @property
    def workers(self) -> int:
        """Model workers per instance: the config's, else the artifact's plan (deploy/workers.py settles it)."""
        if self.workers_per_instance is None:
            raise DeployConfigError("workers_per_instance: not set, and not yet read from the artifact's worker plan")
        return self.workers_per_instance

    @property
    def max_concurrency(self) -> int:
        """Requests SageMaker hands one instance at once. By default one per model worker plus one
        held in the container's queue, so a worker that finishes starts the next request at once
        instead of idling for the dispatch round trip (bench/local_endpoint, docs/performance.md)."""
        chosen = self.async_inference.max_concurrent_invocations_per_instance if self.async_inference else None
        return chosen or self.workers + 1

    @property
    def notifications(self) -> Notifications:
        """The async notification settings (none for a real-time endpoint)."""
        return self.async_inference.notifications if self.async_inference else Notifications()

    def async_settings(self, needed_by: str) -> AsyncInference:
        """The async_inference section, or a one-line error saying that `needed_by` needs one."""
        if self.async_inference is None:
            raise DeployConfigError(
                f"{needed_by} needs an async endpoint, and the config has no async_inference section "
                f"(endpoint {self.name} is real-time: InvokeEndpoint only)"
            )
        return self.async_inference

    @property
    def account(self) -> str:
        return self.execution_role_arn.split(":")[4]

    @property
    def partition(self) -> str:
        return self.execution_role_arn.split(":")[1]

    @property
    def scaling_enabled(self) -> bool:
        return self.autoscaling is not None and self.autoscaling.enabled

    @property
    def gateway_enabled(self) -> bool:
        return self.gateway is not None and self.gateway.enabled

    @property
    def requests_counted_by(self) -> Literal["gateway", "container"]:
        """Who emits the request counts the usage-rate policy reads (never both)."""
        asked = self.autoscaling.usage_rate.requests_from if self.autoscaling else None
        return asked or ("gateway" if self.gateway_enabled else "container")

    @property
    def surge_enabled(self) -> bool:
        """The surge policy (deploy/surge.py): on by default when the gateway counts demand as it
        arrives for the usage-rate policy, unless `autoscaling.surge.enabled` is false."""
        scaling = self.autoscaling
        if scaling is None or not scaling.enabled or scaling.surge.enabled is False:
            return False
        return scaling.policy == "usage-rate" and self.requests_counted_by == "gateway"

    @property
    def cache_s3_uri(self) -> str | None:
        """The container's shared cache tier (and model card) prefix, if it has one."""
        return self.environment.get(CACHE_S3_SETTING)


def load_config(path: Path) -> DeployConfig:
    """The validated config in `path`; every problem is a one-line DeployConfigError naming the key."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise DeployConfigError(f"{path}: cannot read: {exc.strerror}", file=path) from None
    except yaml.YAMLError as exc:
        raise DeployConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}", file=path) from None
    if not isinstance(data, dict):
        raise DeployConfigError(f"{path}: expected a mapping of keys at the top level", file=path)
    return parse_config(data, str(path))


def parse_config(data: dict[str, Any], source: str = "config") -> DeployConfig:
    try:
        return DeployConfig.model_validate(data)
    except ValidationError as exc:
        problem = first_problem(exc, "", words=CONFIG_WORDS, brackets=True)
        raise DeployConfigError(f"{source}: {describe_error(problem)}") from None


def describe_error(problem: Problem) -> str:
    """'dotted.key: what is wrong (got value)' from the first pydantic problem."""
    key, message = problem.where, problem.message
    head = message.split(": ", 1)[0]
    if ": " in message and all(part.isidentifier() for part in head.split(".")):  # a model check naming its key
        inner, message = message.split(": ", 1)
        key = f"{key}.{inner}" if key else inner
    return f"{key or 'config'}: {_plain(problem.kind, message, problem.given)}"


def _plain(kind: str, message: str, value: object) -> str:
    if kind in CONFIG_WORDS:
        return message
    if kind == "string_pattern_mismatch":
        message = f"not a valid value (expected {_HINTS.get(_pattern(message), 'the documented form')})"
    shown = repr(value)
    return message if isinstance(value, dict) or value is None else f"{message} (got {shown[:80]})"


def _pattern(message: str) -> str:
    found = re.search(r"'(.*)'", message)
    return found.group(1) if found else ""


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "parse error"
    return f"{problem} at line {mark.line + 1}" if mark else str(problem)
