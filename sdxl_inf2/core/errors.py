"""Every error a user sees, under one root: one line naming the field or file it is about.

`SdxlError` makes its message one line once (`one_line`); the CLI catches it alone and prints
`sdxl-inf2: error: <line>`, exit 2, and `serve` prints `serve: error: <line>` at start. Each part
defines its own errors next to the code that raises them; only the root is shared:

    SdxlError                             (the root; str() is the one line, to_dict() its parts)
    ├── ServingError                      (500 internal; the HTTP body {"error": {...}}; core/errors.py)
    │   ├── BadRequest                    (400 validation; names the field)
    │   ├── NotFound                      (404 unknown route)
    │   ├── MethodNotAllowed              (405)
    │   ├── NotAcceptable                 (406 Accept)
    │   ├── PayloadTooLarge               (413 body over SDXL_MAX_BODY_BYTES)
    │   ├── UnsupportedMediaType          (415 Content-Type)
    │   ├── ServiceUnavailable            (503)
    │   │   ├── NotReady                  (workers still loading, or failed)
    │   │   ├── QueueFull                 (SDXL_MAX_QUEUE requests already waiting)
    │   │   ├── NoModelCard               (gateway: no container has published its card)
    │   │   └── StillQueueing             (gateway: an identical request is being queued; retry)
    │   ├── RequestTimeout                (504 over SDXL_REQUEST_TIMEOUT_S)
    │   ├── UpstreamError                 (502 gateway: S3 or SageMaker refused or failed a call)
    │   └── InternalError                 (500; the body carries the inference id, never a trace)
    │       ├── WorkerDied                (500; the worker running this request died)
    │       └── IncompatibleCard          (500 gateway: the card was written by another version)
    ├── ConfigError                       (core/settings.py: an environment variable; names it)
    ├── ManifestError                     (core/manifest.py: manifest.json; names the file and key)
    ├── ModelDirError                     (core/modeldir.py: the model folder; names the path)
    ├── VariantPlanError                  (core/variants.py: the worker plan; also a ValueError for pydantic)
    ├── CardError                         (core/cache/card.py: a stored model card this code cannot read)
    ├── CorruptEntry                      (core/cache/entry.py: a cache entry's bytes are not intact)
    ├── BackendError                      (container/backends: the backend cannot serve this model here)
    ├── DeviceLayoutError                 (container/devices.py: the devices cannot host the workers)
    ├── CompileConfigError                (compile/config.py: the compile config; names the file and key)
    ├── CompileError                      (compile/neuron_export.py: compilation cannot start or failed)
    ├── PackageError                      (compile/package.py: model.tar.gz cannot be made; names the file)
    ├── UploadError                       (compile/upload.py: the S3 URI or the upload)
    ├── GatewayPackageError               (gateway/package.py: the gateway's Lambda zip cannot be built)
    ├── DeployError                       (deploy/errors.py: anything a deploy command's user must act on)
    │   ├── DeployConfigError             (the deployment config YAML; names the key)
    │   ├── EndpointFailed                (the endpoint ended Failed; SageMaker's FailureReason)
    │   ├── WaitTimeout                   (a wait ran past its limit)
    │   ├── InferenceFailed               (the async request ended in the failure location)
    │   ├── NotDeployed                   (status/invoke/teardown of something that does not exist)
    │   ├── AwsError                      (botocore's ClientError or BotoCoreError, in its own words)
    │   └── MetricMathError               (deploy/metric_math.py: an expression outside the subset)
    ├── LocalEndpointError                (local_endpoint/errors.py: local-endpoint cannot start)
    ├── InvalidAsyncRequest               (local_endpoint/async_input.py: SageMaker's ValidationError, 400)
    ├── SimulationError                   (simulator/errors.py: a bad flag or trace; names it)
    └── CostError                         (cost.py: an input out of range; names the flag)

Left outside the root on purpose, as they never reach a user (tests/test_errors.py lists them):
InstanceLost (local_endpoint/attempt.py: a loopback instance's connection broke; the runtime API
answers 503) and Stopped (local_endpoint/cli.py: SIGINT or SIGTERM arrived; the command stops).
"""

from __future__ import annotations

from os import PathLike
from typing import Any, ClassVar

MAX_LINE = 400  # characters: a whole message on a terminal line or in a log, never a page of output


def one_line(text: object, limit: int | None = MAX_LINE) -> str:
    """`text` on one line: each run of whitespace becomes one space; past `limit` it is cut, ending in `...`."""
    line = " ".join(str(text).split())
    if limit is None or len(line) <= limit:
        return line
    return line[: limit - 3] + "..."


def exception_line(exc: BaseException, limit: int | None = MAX_LINE) -> str:
    """`Type: message` on one line, for a log or a report of an exception that is not ours."""
    return one_line(f"{type(exc).__name__}: {str(exc).strip() or '(no message)'}", limit)


class SdxlError(Exception):
    """An error whose message a user reads: one line, naming the `field` or the `file` it is about."""

    max_chars: ClassVar[int | None] = MAX_LINE  # None: the whole message, on one line

    def __init__(self, message: str, *, field: str | None = None, file: str | PathLike[str] | None = None) -> None:
        self.message = one_line(message, self.max_chars)
        self.field = field
        self.file = None if file is None else str(file)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": type(self).__name__, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.file is not None:
            body["file"] = self.file
        return body


class ServingError(SdxlError):
    """An HTTP answer: `status_code`, and the body {"error": {"type", "message", "field"?, "inference_id"?}}."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, inference_id: str | None = None) -> None:
        super().__init__(message, field=field)
        self.inference_id = inference_id

    def to_dict(self) -> dict[str, Any]:
        body = {**super().to_dict(), "type": self.error_type}
        if self.inference_id is not None:
            body["inference_id"] = self.inference_id
        return {"error": body}

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(ServingError):
    status_code = 400
    error_type = "validation_error"


class NotFound(ServingError):
    status_code = 404
    error_type = "not_found"


class MethodNotAllowed(ServingError):
    status_code = 405
    error_type = "method_not_allowed"


class NotAcceptable(ServingError):
    status_code = 406
    error_type = "not_acceptable"


class PayloadTooLarge(ServingError):
    status_code = 413
    error_type = "payload_too_large"


class UnsupportedMediaType(ServingError):
    status_code = 415
    error_type = "unsupported_media_type"


class ServiceUnavailable(ServingError):
    status_code = 503
    error_type = "unavailable"
    retry_after_s: ClassVar[int] = 5

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class NotReady(ServiceUnavailable):
    error_type = "not_ready"


class QueueFull(ServiceUnavailable):
    error_type = "queue_full"


class RequestTimeout(ServingError):
    status_code = 504
    error_type = "timeout"


class InternalError(ServingError):
    status_code = 500
    error_type = "internal_error"


class WorkerDied(InternalError):
    error_type = "worker_died"
