"""The CloudWatch metrics the autoscaling policies read: the one place that names them.

The container's request metric is emitted by the container itself (CloudWatch Embedded Metric
Format on stdout, container/metrics.py); it must use exactly these names, or the usage-rate policy
sees no data and never scales out. tests/test_metrics.py checks both sides against each other and
against what a real server prints.
"""

from __future__ import annotations

# Emitted by the container, or by the gateway as requests arrive (gateway/demand.py; with a gateway,
# deploy turns the container's counts off): one datapoint per inference request, in this namespace,
# with these two dimensions (valued with the endpoint and variant names). The usage-rate policy's m2
# reads REQUESTS_METRIC when `count_cache_hits` is true, else CACHE_MISSES_METRIC (requests that need
# a render: hits cost no worker time).
CONTAINER_NAMESPACE = "SdxlInf2"
REQUESTS_METRIC = "NumberOfInferenceRequests"
CACHE_MISSES_METRIC = "CacheMisses"
ENDPOINT_DIMENSION = "EndpointName"
VARIANT_DIMENSION = "VariantName"
# The container reads the namespace and the two dimension values from these settings; deploy sets
# the dimension values to the endpoint and variant names unless `environment` gives its own.
NAMESPACE_SETTING = "SDXL_METRICS_NAMESPACE"
ENDPOINT_SETTING = "SDXL_METRICS_ENDPOINT_NAME"
VARIANT_SETTING = "SDXL_METRICS_VARIANT_NAME"
SWITCH_SETTING = "SDXL_METRICS"  # "off" stops the container's metrics
REQUEST_COUNTS_SETTING = "SDXL_METRICS_REQUEST_COUNTS"  # "off": the gateway counts requests instead
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
