"""The CloudWatch metrics the autoscaling policies read: the one place that names them.

The container's request metric is emitted by the container itself (CloudWatch Embedded Metric
Format on stdout, container/metrics.py); it must use exactly these names, or the usage-rate policy
sees no data and never scales out. tests/test_metrics.py checks both sides against each other and
against what a real server prints.
"""

from __future__ import annotations

# Emitted by the container: one datapoint of value 1 per inference request, in this namespace,
# with these two dimensions (valued with the endpoint and variant names).
CONTAINER_NAMESPACE = "SdxlInf2"
REQUESTS_METRIC = "NumberOfInferenceRequests"
ENDPOINT_DIMENSION = "EndpointName"
VARIANT_DIMENSION = "VariantName"
# The container reads the namespace and the two dimension values from these settings; deploy sets
# the dimension values to the endpoint and variant names unless `environment` gives its own.
NAMESPACE_SETTING = "SDXL_METRICS_NAMESPACE"
ENDPOINT_SETTING = "SDXL_METRICS_ENDPOINT_NAME"
VARIANT_SETTING = "SDXL_METRICS_VARIANT_NAME"
SWITCH_SETTING = "SDXL_METRICS"  # "off" stops the container's metrics
# Sum, not the seed's SampleCount: equal while each datapoint is one request, and still right if
# the container ever emits batched counts.
REQUESTS_STAT = "Sum"

# Published by SageMaker for every endpoint instance, one-minute resolution. The SampleCount of
# CPUUtilization over a minute is the number of live instances.
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
INSTANCE_COUNT_METRIC = "CPUUtilization"
INSTANCE_COUNT_STAT = "SampleCount"

# Published by SageMaker for async endpoints, dimension EndpointName only.
SAGEMAKER_NAMESPACE = "AWS/SageMaker"
BACKLOG_PER_INSTANCE_METRIC = "ApproximateBacklogSizePerInstance"
BACKLOG_METRIC = "ApproximateBacklogSize"
OLDEST_REQUEST_AGE_METRIC = "ApproximateAgeOfOldestRequest"
BACKLOG_WITHOUT_CAPACITY_METRIC = "HasBacklogWithoutCapacity"
