"""What a gateway client can see go wrong, beyond the container's own request errors.

Each is a container ServingError (core/errors.py), so every front end answers with the
container's JSON error shape and status, and the CLI prints it as one line:

    ServingError
    ├── BadRequest, NotAcceptable, PayloadTooLarge, NotFound ...   (the container's, unchanged)
    ├── NoModelCard           (503: no container has published its card under this cache prefix)
    ├── StillQueueing         (503: an identical request is being queued this instant; retry)
    ├── UpstreamError         (502: S3 or SageMaker refused or failed a call)
    └── IncompatibleCard      (500: the card was written by another version of the code)
"""

from __future__ import annotations

from sdxl_inf2.core import errors


class NoModelCard(errors.ServiceUnavailable):
    error_type = "no_model_card"


class StillQueueing(errors.ServiceUnavailable):
    error_type = "still_queueing"
    retry_after_s = 2


class UpstreamError(errors.ServingError):
    status_code = 502
    error_type = "upstream_error"


class IncompatibleCard(errors.InternalError):
    error_type = "incompatible_model_card"
