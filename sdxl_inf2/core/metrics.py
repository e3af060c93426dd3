"""The CloudWatch metrics: the one place that names them, for every side that writes or reads them.

The container writes its request metrics as Embedded Metric Format on stdout (container/metrics.py);
the gateway counts demand as requests arrive (gateway/demand.py); deploy's policies, status and the
local endpoint read them, and so does the simulator's model of CloudWatch. A name that differs on
one side would leave the usage-rate policy with no data (it would never scale out), so all of them
import these. The values computed on more than one side are computed here too: one request's counts
(`request_counts`: the container and the gateway) and SageMaker's backlog metrics (`backlog_metrics`:
the local endpoint and the simulator).

Per inference request, in NAMESPACE with the dimensions EndpointName and VariantName. Per failed
/invocations request, `Errors`, once under (EndpointName, VariantName) and once with ErrorClass.
An artifact of several variants adds (EndpointName, VariantName, Variant) to both.
"""

from __future__ import annotations

from typing import Final

NAMESPACE = "SdxlInf2"  # default of SDXL_METRICS_NAMESPACE and SDXL_GATEWAY_METRICS_NAMESPACE
ENDPOINT_DIMENSION = "EndpointName"
VARIANT_DIMENSION = "VariantName"
ERROR_CLASS_DIMENSION = "ErrorClass"
# The dimension values the container and the gateway use until deploy sets them: no endpoint known,
# and the variant deploy creates by default (the SageMaker Python SDK's name for a lone variant).
UNKNOWN_ENDPOINT = "unknown"
DEFAULT_VARIANT = "AllTraffic"
MODEL_VARIANT_DIMENSION = "Variant"  # the artifact variant (model folder), on multi-variant artifacts

REQUESTS = "NumberOfInferenceRequests"  # 1 per inference request: CacheHits + CacheMisses
CACHE_HITS = "CacheHits"  # served from the result cache, no worker involved
CACHE_MISSES = "CacheMisses"  # everything else, uncacheable requests (no seed, cache off) included
COALESCED = "CoalescedRequests"  # misses that joined an identical request in flight (no render of their own)
IMAGES_GENERATED = "ImagesGenerated"  # images a model worker rendered (0 for a cache hit)
QUEUE_TIME = "QueueTime"  # waiting in the shared queue for a free worker
INFERENCE_LATENCY = "InferenceLatency"  # the worker's pipeline call
ENCODE_TIME = "EncodeTime"  # the worker's PNG/JPEG/WebP encoding
REQUEST_LATENCY = "RequestLatency"  # the request inside the container, end to end
ERRORS = "Errors"  # one per failed /invocations request; ErrorClass = the error body's `type`

# Demand: what the usage-rate policy reads. With a gateway in front (gateway/demand.py) the gateway
# counts these as requests arrive, and the container leaves them out (SDXL_METRICS_REQUEST_COUNTS=off),
# so no request is counted twice under the same namespace and dimensions.
DEMAND_COUNTS = (REQUESTS, CACHE_HITS, CACHE_MISSES)

COUNT, MILLISECONDS = "Count", "Milliseconds"

# The gateway's demand counts are stored at high resolution (PutMetricData's and EMF's
# StorageResolution 1): the surge alarm reads them per 10 s (deploy/surge.py), the usage-rate policy
# per minute, from the same datapoints. The container's counts stay at one minute (the default, 60).
HIGH_RESOLUTION = 1
# The alarm periods below a minute, allowed only on high-resolution metrics (botocore's
# PutMetricAlarm Period: "Valid values are 10, 20, 30, and any multiple of 60").
HIGH_RESOLUTION_PERIODS = (10, 20, 30)

# Capacity in service, at high resolution: each container instance writes 1 for every second its
# model workers are ready (/ping answers 200), requests or not (it counts capacity, not work), in the
# container's namespace with the demand counts' dimensions (container/metrics.py). Its Sum over a
# period is the instance-seconds in service then: the surge alarm compares the demand of a period
# with what those instances render (deploy/surge.py), which SageMaker's instance count (CPUUtilization
# SampleCount, one minute only, a minute late) cannot do per 10 s. Written only where deploy turns it
# on (HEARTBEAT_SETTING, with the surge policy): a container outside SageMaker logs no line a second.
IN_SERVICE_SECONDS = "InServiceSeconds"
IN_SERVICE_STAT: Final = "Sum"
HEARTBEAT_SETTING = "SDXL_METRICS_HEARTBEAT"  # "on": write IN_SERVICE_SECONDS (deploy sets it with the surge)


def request_counts(cache: str) -> dict[str, int]:
    """One inference request's counts, whichever side counts it; `cache` is hit, miss, coalesced (a
    miss that joined an identical one in flight) or off (not cacheable)."""
    hit = cache == "hit"
    return {REQUESTS: 1, CACHE_HITS: int(hit), CACHE_MISSES: int(not hit), COALESCED: int(cache == "coalesced")}


# timings_ms key -> metric; only present keys are emitted (a cache hit has no queue or inference time)
TIMING_METRICS = {"queue": QUEUE_TIME, "inference": INFERENCE_LATENCY, "encode": ENCODE_TIME, "total": REQUEST_LATENCY}

# Emitted by the container, or by the gateway as requests arrive (gateway/demand.py; with a gateway,
# deploy turns the container's counts off): one datapoint per inference request, in this namespace,
# with these two dimensions (valued with the endpoint and variant names). The usage-rate policy's m2
# reads REQUESTS when `count_cache_hits` is true, else CACHE_MISSES (requests that need a render:
# hits cost no worker time).
# The container reads the namespace and the two dimension values from these settings; deploy sets
# the dimension values to the endpoint and variant names unless `environment` gives its own.
NAMESPACE_SETTING = "SDXL_METRICS_NAMESPACE"
ENDPOINT_SETTING = "SDXL_METRICS_ENDPOINT_NAME"
VARIANT_SETTING = "SDXL_METRICS_VARIANT_NAME"
SWITCH_SETTING = "SDXL_METRICS"  # "off" stops the container's metrics
REQUEST_COUNTS_SETTING = "SDXL_METRICS_REQUEST_COUNTS"  # "off": the gateway counts requests instead
# Sum, not the reference case's SampleCount: equal while each datapoint is one request, and still right if
# the container ever emits batched counts.
REQUESTS_STAT: Final = "Sum"

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
BACKLOG_UNITS = {
    BACKLOG_METRIC: "Count",
    BACKLOG_PER_INSTANCE_METRIC: "Count",
    OLDEST_REQUEST_AGE_METRIC: "Seconds",
    BACKLOG_WITHOUT_CAPACITY_METRIC: "None",
}


def backlog_metrics(size: int, instances: int, oldest_age_s: float | None = None) -> dict[str, float]:
    """SageMaker's backlog metrics for an async endpoint with `size` requests in its backlog and
    `instances` serving: per instance, the backlog shared among them (all of it while none serves);
    HasBacklogWithoutCapacity, 1 while requests wait and no instance serves. The age of the oldest
    request is SageMaker's too, given by a caller that tracks it (the local endpoint)."""
    values = {BACKLOG_METRIC: float(size), BACKLOG_PER_INSTANCE_METRIC: size / max(instances, 1)}
    if oldest_age_s is not None:
        values[OLDEST_REQUEST_AGE_METRIC] = oldest_age_s
    values[BACKLOG_WITHOUT_CAPACITY_METRIC] = 1.0 if size and not instances else 0.0
    return values
