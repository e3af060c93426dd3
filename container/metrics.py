"""The container's CloudWatch metrics, as Embedded Metric Format (EMF) documents on stdout.

SageMaker ships container stdout to CloudWatch Logs, which turns each EMF document into metric
datapoints; the usage-rate autoscaling policy (deploy/autoscaling.py) reads NumberOfInferenceRequests
from them. The names below must equal those in core/metrics.py (tests/test_metrics.py checks it,
and checks the policy against what a real server prints); the container image does not ship deploy/.

Aggregated, as the EMF specification allows: a request only appends its outcome to a queue; a
background thread writes, every SDXL_METRICS_FLUSH_S (1 s), one document per second and dimension
set in which each metric holds the array of its values, one value per request as before (the
library splits an array beyond EMF's 100 values into more documents). CloudWatch extracts every
value of an array, so the Sum, SampleCount and percentiles of each metric are those one document per
request gave. 1 s because a document's timestamp is then the second its values happened in: none
moves across a minute (the usage-rate policy's period) or even a second (the finest CloudWatch
resolution), and the metrics reach the log at most a second later. On shutdown (gunicorn's
worker_exit, after the in-flight requests finished) `close` writes what is pending.

Documents: requests that passed validation, under (EndpointName, VariantName); failed /invocations
requests, `Errors`, in a document of their own per ErrorClass, under (EndpointName, VariantName) and
(EndpointName, VariantName, ErrorClass). An artifact of several variants adds (EndpointName,
VariantName, Variant) to both: the artifact variant the request ran on (the endpoint's VariantName
is SageMaker's production variant, another thing). The (EndpointName, VariantName) set the usage-rate
policy reads stays as it is; a single-variant artifact gets no Variant set (it would say nothing, and
each set is billed as separate metrics). Per-request fields (inference id, status, cache) are in the
request log line, not here. Written by aws-embedded-metrics (stdout sink, `AWS_EMF_ENVIRONMENT=Local`:
a SageMaker container has no CloudWatch agent).

The heartbeat (SDXL_METRICS_HEARTBEAT=on, which deploy sets with the surge policy): the same thread
writes, for every whole second since its last flush in which the workers are ready (the front's
/ping answers 200), a document of its own with IN_SERVICE_SECONDS = 1 under (EndpointName,
VariantName) at high resolution, requests or not. Its Sum over a period is the instance-seconds in
service, which the surge alarm compares with the demand (deploy/surge.py). Readiness is read once a
flush and stands for the seconds since the last one (one, unless a write was held up; at most
MAX_HEARTBEAT_GAP_S are filled in).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sdxl_inf2.core.metrics import (
    COUNT,
    DEMAND_COUNTS,
    ENDPOINT_DIMENSION,
    ERROR_CLASS_DIMENSION,
    ERRORS,
    HIGH_RESOLUTION,
    IMAGES_GENERATED,
    IN_SERVICE_SECONDS,
    MILLISECONDS,
    MODEL_VARIANT_DIMENSION,
    TIMING_METRICS,
    VARIANT_DIMENSION,
    request_counts,
)

from .batching import Batched
from .config import Settings

if TYPE_CHECKING:
    from aws_embedded_metrics.logger.metrics_logger import MetricsLogger

log = logging.getLogger("sdxl.metrics")
# (second, artifact variant or None, ErrorClass or None): one document each per flush
DocumentKey = tuple[int, str | None, str | None]
MAX_HEARTBEAT_GAP_S = 60  # seconds of heartbeat a late flush fills in


@dataclass(frozen=True)
class RequestOutcome:
    """What one /invocations request came to, as the front saw it once the response was sent."""

    inference_id: str
    status: int
    cache: str | None  # hit | miss | coalesced | off; None: rejected before it became an inference request
    error_type: str | None = None
    images_generated: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    variant: str | None = None  # the artifact variant it was routed to (None: rejected before routing)


Counted = tuple[int, RequestOutcome]  # the second it was counted in, and the outcome


class MetricsEmitter:
    """Collects request outcomes and writes them as aggregated EMF documents; never raises into a request."""

    def __init__(
        self,
        namespace: str,
        endpoint_name: str,
        variant_name: str,
        by_variant: bool = False,
        request_counts: bool = True,
        flush_interval_s: float = 1.0,
        in_service: Callable[[], bool] | None = None,
    ) -> None:
        os.environ.setdefault("AWS_EMF_ENVIRONMENT", "Local")  # read once, when the library is imported
        from aws_embedded_metrics.logger.metrics_logger_factory import create_metrics_logger

        self._create = create_metrics_logger
        self.namespace = namespace
        self.dimensions = {ENDPOINT_DIMENSION: endpoint_name, VARIANT_DIMENSION: variant_name}
        self.by_variant = by_variant
        self.request_counts = request_counts  # False: the gateway counts demand (DEMAND_COUNTS) at arrival
        self.in_service = in_service  # None: no heartbeat; else whether the workers are ready now
        self._beaten = int(time.time()) - 1  # the last second the heartbeat accounted for
        beats = in_service is not None
        self._outcomes: Batched[Counted] = Batched("emf-metrics", self._write, flush_interval_s, write_empty=beats)

    @classmethod
    def from_settings(
        cls, settings: Settings, by_variant: bool = False, in_service: Callable[[], bool] | None = None
    ) -> MetricsEmitter | None:
        """The emitter the settings ask for; `in_service` (the pool's readiness) feeds the heartbeat
        when SDXL_METRICS_HEARTBEAT is on."""
        if settings.metrics == "off":
            log.info("metrics off (SDXL_METRICS=off)")
            return None
        if settings.metrics_request_counts == "off":
            log.info("left to the gateway (SDXL_METRICS_REQUEST_COUNTS=off): %s", ", ".join(DEMAND_COUNTS))
        names = (settings.metrics_namespace, settings.metrics_endpoint_name, settings.metrics_variant_name)
        counts = settings.metrics_request_counts == "on"
        beat = in_service if settings.metrics_heartbeat == "on" else None
        interval = settings.metrics_flush_s
        return cls(*names, by_variant=by_variant, request_counts=counts, flush_interval_s=interval, in_service=beat)

    def emit(self, outcome: RequestOutcome) -> None:
        """All a request pays: one append (the documents are built and written by the background thread)."""
        self._outcomes.add((int(time.time()), outcome))

    def flush(self) -> int:
        """Writes every pending outcome now; returns how many."""
        return self._outcomes.flush()

    def close(self) -> None:
        """Writes what is pending and stops the thread (gunicorn's worker_exit calls it)."""
        self._outcomes.close()

    def _write(self, batch: list[Counted]) -> None:
        for document in [*self._documents(batch).values(), *self._heartbeat()]:
            try:
                document.flush_sync()
            except Exception:  # one document lost, not the batch's others
                log.exception("could not write an EMF document of %d requests", len(batch))
        sys.stdout.flush()  # the sink writes without flushing; unbuffered stdout is not guaranteed

    def _heartbeat(self) -> list[MetricsLogger]:
        """One document per whole second since the last flush, if the workers are ready now."""
        if self.in_service is None:
            return []
        from aws_embedded_metrics.storage_resolution import StorageResolution

        done = int(time.time()) - 1  # the last whole second
        seconds = range(max(self._beaten + 1, done - MAX_HEARTBEAT_GAP_S + 1), done + 1)
        self._beaten = max(self._beaten, done)
        if not self._ready():
            return []
        documents = []
        for second in seconds:
            document = self._create()
            document.set_namespace(self.namespace)
            document.set_timestamp(datetime.fromtimestamp(second, UTC))
            document.set_dimensions(self.dimensions)
            document.put_metric(IN_SERVICE_SECONDS, 1, COUNT, StorageResolution(HIGH_RESOLUTION))
            documents.append(document)
        return documents

    def _ready(self) -> bool:
        assert self.in_service is not None
        try:
            return self.in_service()
        except Exception:  # counted as not in service: the surge's gate then errs toward more capacity
            log.exception("could not tell whether the workers are ready")
            return False

    def _documents(self, batch: list[Counted]) -> dict[DocumentKey, MetricsLogger]:
        documents: dict[DocumentKey, MetricsLogger] = {}
        for second, outcome in batch:
            variant = outcome.variant if self.by_variant else None
            try:
                if outcome.cache is not None:
                    request = self._document(documents, (second, variant, None))
                    for name, value, unit in self._request_values(outcome):
                        request.put_metric(name, value, unit)
                if outcome.error_type is not None:
                    self._document(documents, (second, variant, outcome.error_type)).put_metric(ERRORS, 1, COUNT)
            except Exception:  # one bad outcome loses only its own values
                log.exception("could not count the metrics of inference %s", outcome.inference_id)
        return documents

    def _request_values(self, outcome: RequestOutcome) -> list[tuple[str, float, str]]:
        values: list[tuple[str, float, str]] = []
        for name, count in request_counts(str(outcome.cache)).items():
            if self.request_counts or name not in DEMAND_COUNTS:  # else the gateway counts it
                values.append((name, count, COUNT))
        values.append((IMAGES_GENERATED, outcome.images_generated, COUNT))
        for key, name in TIMING_METRICS.items():
            ms = outcome.timings_ms.get(key)
            if ms is not None and math.isfinite(ms):  # EMF refuses NaN and infinity
                values.append((name, ms, MILLISECONDS))
        return values

    def _document(self, documents: dict[DocumentKey, MetricsLogger], key: DocumentKey) -> MetricsLogger:
        document = documents.get(key)
        if document is None:
            second, variant, error_type = key
            document = documents[key] = self._create()
            document.set_namespace(self.namespace)
            document.set_timestamp(datetime.fromtimestamp(second, UTC))
            sets = [self.dimensions]
            if error_type is not None:
                sets.append({**self.dimensions, ERROR_CLASS_DIMENSION: error_type})
            if variant is not None:
                sets.append({**self.dimensions, MODEL_VARIANT_DIMENSION: variant})
            document.set_dimensions(*sets)
        return document
