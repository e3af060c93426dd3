"""SageMaker's limits and defaults, read from botocore's service models wherever the models hold them.

botocore ships the JSON models its clients serialize with (`botocore/data/<service>/<version>/
service-2.json`). A range read from them cannot disagree with what a call accepts, and a botocore
upgrade brings AWS's new limits along. What the models hold only as prose, the defaults SageMaker
applies to a value a request leaves out, is written here once with the sentence it comes from
(tests/test_core_sagemaker.py checks that botocore's documentation still says so).

The runtime's model (sagemaker-runtime, 6 KB) is read on import: the gateway's Lambda needs it for
its request TTL and timeout. The control plane's (sagemaker, 350 KB compressed) is read on first
use, by deploy only, so the gateway's cold start never pays for it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated

import botocore.session
from botocore.model import Shape, StructureShape
from pydantic import Field

RUNTIME, CONTROL_PLANE = "sagemaker-runtime", "sagemaker"


@dataclass(frozen=True)
class Limits:
    """A member's range, both ends included: a number's value, or a string's length."""

    low: int
    high: int


@functools.cache
def members(service: str, structure: str) -> dict[str, Shape]:
    """The members of one of `service`'s structures, as botocore's model describes them."""
    shape = botocore.session.get_session().get_service_model(service).shape_for(structure)
    assert isinstance(shape, StructureShape), f"{service} {structure} is not a structure"
    return dict(shape.members)


def limits(service: str, structure: str, member: str) -> Limits:
    metadata = members(service, structure)[member].metadata
    return Limits(metadata.get("min", 0), metadata["max"])


# InvokeEndpointAsync's input: every header a request may carry, with its length and pattern.
ASYNC_INVOCATION = "InvokeEndpointAsyncInput"
# How long a request may wait in the queue before it expires (60-21600 s), and how long its
# processing may take (1-3600 s).
REQUEST_TTL = limits(RUNTIME, ASYNC_INVOCATION, "RequestTTLSeconds")
INVOCATION_TIMEOUT = limits(RUNTIME, ASYNC_INVOCATION, "InvocationTimeoutSeconds")
# What SageMaker applies when a request leaves them out. botocore's documentation of the two members:
# "The default is 6 hours, or 21,600 seconds." and "The default is 15 minutes, or 900 seconds."
# (also /work/shared/reference/sagemaker-contract.md, section 2, InvokeEndpointAsync).
DEFAULT_REQUEST_TTL_S = 21_600
DEFAULT_INVOCATION_TIMEOUT_S = 900
# An endpoint's name: at most 63 characters.
ENDPOINT_NAME_MAX = limits(RUNTIME, ASYNC_INVOCATION, "EndpointName").high

RequestTtlSeconds = Annotated[int, Field(ge=REQUEST_TTL.low, le=REQUEST_TTL.high)]
InvocationTimeoutSeconds = Annotated[int, Field(ge=INVOCATION_TIMEOUT.low, le=INVOCATION_TIMEOUT.high)]


def max_concurrent_invocations() -> Limits:
    """AsyncInferenceConfig's MaxConcurrentInvocationsPerInstance (1-1000)."""
    return limits(CONTROL_PLANE, "AsyncInferenceClientConfig", "MaxConcurrentInvocationsPerInstance")


def async_output_path() -> Limits:
    """The length of AsyncInferenceConfig's S3OutputPath and S3FailurePath (at most 512)."""
    return limits(CONTROL_PLANE, "AsyncInferenceOutputConfig", "S3OutputPath")


def production_variant(member: str) -> Limits:
    """A production variant's member, e.g. ContainerStartupHealthCheckTimeoutInSeconds (60-3600 s)."""
    return limits(CONTROL_PLANE, "ProductionVariant", member)
