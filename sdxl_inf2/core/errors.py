"""The errors a client can see, each mapped to one HTTP status and one JSON shape.

    ServingError                      (500 internal)
    ├── BadRequest                    (400 validation; names the field)
    ├── NotFound                      (404 unknown route)
    ├── MethodNotAllowed              (405)
    ├── NotAcceptable                 (406 Accept)
    ├── PayloadTooLarge               (413 body over SDXL_MAX_BODY_BYTES)
    ├── UnsupportedMediaType          (415 Content-Type)
    ├── ServiceUnavailable            (503)
    │   ├── NotReady                  (workers still loading, or failed)
    │   └── QueueFull                 (SDXL_MAX_QUEUE requests already waiting)
    ├── RequestTimeout                (504 over SDXL_REQUEST_TIMEOUT_S)
    └── InternalError                 (500; the body carries the inference id, never a trace)
        └── WorkerDied                (500; the worker running this request died)

Body: {"error": {"type": ..., "message": ..., "field"?: ..., "inference_id"?: ...}}
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServingError(Exception):
    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, inference_id: str | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # always one line
        self.field = field
        self.inference_id = inference_id

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
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
