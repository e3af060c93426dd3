"""The container's CloudWatch metrics, as Embedded Metric Format (EMF) documents on stdout.

SageMaker ships container stdout to CloudWatch Logs, which turns each EMF document into metric
datapoints; the usage-rate autoscaling policy (deploy/autoscaling.py) reads NumberOfInferenceRequests
from them. The names below must equal those in core/metrics.py (tests/test_metrics.py checks it,
and checks the policy against what a real server prints); the container image does not ship deploy/.

Per inference request (a request that passed validation), one document in NAMESPACE with the
dimensions EndpointName and VariantName. Per failed /invocations request, one more document:
`Errors`, once under (EndpointName, VariantName) and once with ErrorClass added. An artifact of
several variants adds one more dimension set to both, (EndpointName, VariantName, Variant): the
artifact variant the request ran on (the endpoint's VariantName is SageMaker's production variant,
another thing). The (EndpointName, VariantName) set the usage-rate policy reads stays as it is;
a single-variant artifact gets no Variant set (it would say nothing, and each set is billed as
separate metrics). Both are written by aws-embedded-metrics (stdout sink, `AWS_EMF_ENVIRONMENT=Local`:
a SageMaker container has no CloudWatch agent) after the response has been sent.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sdxl_inf2.core.metrics import (
    COUNT,
    DEMAND_COUNTS,
    ENDPOINT_DIMENSION,
    ERROR_CLASS_DIMENSION,
    ERRORS,
    IMAGES_GENERATED,
    MILLISECONDS,
    MODEL_VARIANT_DIMENSION,
    TIMING_METRICS,
    VARIANT_DIMENSION,
    request_counts,
)

from .config import Settings

if TYPE_CHECKING:
    from aws_embedded_metrics.logger.metrics_logger import MetricsLogger

log = logging.getLogger("sdxl.metrics")


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


class MetricsEmitter:
    """Writes the EMF documents for one request outcome; never raises into the request."""

    def __init__(
        self,
        namespace: str,
        endpoint_name: str,
        variant_name: str,
        by_variant: bool = False,
        request_counts: bool = True,
    ) -> None:
        os.environ.setdefault("AWS_EMF_ENVIRONMENT", "Local")  # read once, when the library is imported
        from aws_embedded_metrics.logger.metrics_logger_factory import create_metrics_logger

        self._create = create_metrics_logger
        self.namespace = namespace
        self.dimensions = {ENDPOINT_DIMENSION: endpoint_name, VARIANT_DIMENSION: variant_name}
        self.by_variant = by_variant
        self.request_counts = request_counts  # False: the gateway counts demand (DEMAND_COUNTS) at arrival

    @classmethod
    def from_settings(cls, settings: Settings, by_variant: bool = False) -> MetricsEmitter | None:
        if settings.metrics == "off":
            log.info("metrics off (SDXL_METRICS=off)")
            return None
        if settings.metrics_request_counts == "off":
            log.info("left to the gateway (SDXL_METRICS_REQUEST_COUNTS=off): %s", ", ".join(DEMAND_COUNTS))
        names = (settings.metrics_namespace, settings.metrics_endpoint_name, settings.metrics_variant_name)
        return cls(*names, by_variant=by_variant, request_counts=settings.metrics_request_counts == "on")

    def emit(self, outcome: RequestOutcome) -> None:
        try:
            if outcome.cache is not None:
                self._flush(self._request_document(outcome, outcome.cache))
            if outcome.error_type is not None:
                self._flush(self._error_document(outcome))
        except Exception:  # a metrics bug must not take the request log or the server down
            log.exception("could not emit metrics for inference %s", outcome.inference_id)

    def _request_document(self, outcome: RequestOutcome, cache: str) -> MetricsLogger:
        metrics = self._logger(outcome)
        metrics.set_dimensions(self.dimensions, *self._per_variant(outcome))
        for name, count in request_counts(cache).items():
            if self.request_counts or name not in DEMAND_COUNTS:  # else the gateway counts it
                metrics.put_metric(name, count, COUNT)
        metrics.put_metric(IMAGES_GENERATED, outcome.images_generated, COUNT)
        for key, name in TIMING_METRICS.items():
            if key in outcome.timings_ms:
                metrics.put_metric(name, outcome.timings_ms[key], MILLISECONDS)
        return metrics

    def _error_document(self, outcome: RequestOutcome) -> MetricsLogger:
        metrics = self._logger(outcome)
        by_class = {**self.dimensions, ERROR_CLASS_DIMENSION: str(outcome.error_type)}
        metrics.set_dimensions(self.dimensions, by_class, *self._per_variant(outcome))
        metrics.put_metric(ERRORS, 1, COUNT)
        return metrics

    def _per_variant(self, outcome: RequestOutcome) -> list[dict[str, str]]:
        if not self.by_variant or outcome.variant is None:
            return []
        return [{**self.dimensions, MODEL_VARIANT_DIMENSION: outcome.variant}]

    def _logger(self, outcome: RequestOutcome) -> MetricsLogger:
        metrics = self._create()
        metrics.set_namespace(self.namespace)
        # properties: not metrics, but searchable fields of the log event (CloudWatch Logs Insights)
        metrics.set_property("inference_id", outcome.inference_id)
        metrics.set_property("status", outcome.status)
        metrics.set_property("cache", outcome.cache)
        return metrics

    @staticmethod
    def _flush(metrics: MetricsLogger) -> None:
        metrics.flush_sync()
        sys.stdout.flush()  # the sink writes without flushing; unbuffered stdout is not guaranteed
