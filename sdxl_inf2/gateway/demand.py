"""Demand, counted as requests arrive: NumberOfInferenceRequests, CacheHits, CacheMisses, CoalescedRequests.

Same names, namespace and dimensions (EndpointName, VariantName) as the container's request counts
(container/metrics.py; core/metrics.py names what the usage-rate policy reads), so one metric means
one thing whichever side counts. When the gateway counts, deploy turns the container's counts off
(SDXL_METRICS_REQUEST_COUNTS=off): no request is counted twice. Unlike the container's, these counts
include hits that never reach an instance and requests waiting in SageMaker's queue: demand, not
throughput.

The counts are stored at high resolution (StorageResolution 1): the surge policy's alarm reads them
per 10 s, the usage-rate policy per minute (core/metrics.py HIGH_RESOLUTION). Each request is one
document or one call the moment it arrives, so CloudWatch has it well within AWS's advice for alarms
on high-resolution EMF metrics (flush every 5 s or less).

In Lambda the counts are one EMF document on stdout (aws-embedded-metrics; Lambda ships stdout to
CloudWatch Logs, which extracts them: no API call on the request path). Elsewhere (`sdxl-inf2
invoke`, `sdxl-inf2 gateway serve`) one PutMetricData call per request. A failure to count is
logged, never the request's failure.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from sdxl_inf2.core.metrics import COUNT, ENDPOINT_DIMENSION, HIGH_RESOLUTION, VARIANT_DIMENSION, request_counts

from .settings import GatewaySettings

if TYPE_CHECKING:
    from types_boto3_cloudwatch import CloudWatchClient
    from types_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDatumTypeDef

log = logging.getLogger("sdxl.gateway")


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


class DemandMetrics:
    def __init__(self, settings: GatewaySettings, cloudwatch: CloudWatchClient | None) -> None:
        self.on = settings.metrics == "on"
        self.namespace = settings.metrics_namespace
        self.dimensions = {
            ENDPOINT_DIMENSION: settings.metrics_endpoint_name,
            VARIANT_DIMENSION: settings.metrics_variant_name,
        }
        self.cloudwatch = cloudwatch

    def count(self, cache: str, inference_id: str) -> None:
        if not self.on:
            return
        try:
            if in_lambda() or self.cloudwatch is None:
                self._emf(request_counts(cache), {"inference_id": inference_id, "cache": cache})
            else:
                self._put(request_counts(cache))
        except Exception:  # a metrics failure must not fail the request
            log.exception("could not count inference %s", inference_id)

    def _emf(self, counts: dict[str, int], properties: dict[str, str]) -> None:
        from aws_embedded_metrics.logger.metrics_logger_factory import create_metrics_logger
        from aws_embedded_metrics.storage_resolution import StorageResolution

        metrics = create_metrics_logger()
        metrics.set_namespace(self.namespace)
        metrics.set_dimensions(self.dimensions)
        for name, value in counts.items():
            metrics.put_metric(name, value, COUNT, StorageResolution(HIGH_RESOLUTION))
        for name, text in properties.items():
            metrics.set_property(name, text)
        metrics.flush_sync()
        sys.stdout.flush()

    def _put(self, counts: dict[str, int]) -> None:
        assert self.cloudwatch is not None
        dimensions: list[DimensionTypeDef] = [{"Name": name, "Value": value} for name, value in self.dimensions.items()]
        data: list[MetricDatumTypeDef] = [
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Value": value,
                "Unit": "Count",
                "StorageResolution": HIGH_RESOLUTION,
            }
            for name, value in counts.items()
        ]
        self.cloudwatch.put_metric_data(Namespace=self.namespace, MetricData=data)
