"""boto3 clients from boto3's standard configuration: profile, region, credentials, AWS_ENDPOINT_URL.

Nothing here takes an endpoint URL: tests and local stacks point boto3 elsewhere the standard way
(AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<SERVICE>), so the product code has one path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from sdxl_inf2.gateway import objects

from .errors import DeployError

if TYPE_CHECKING:
    from types_boto3_application_autoscaling import ApplicationAutoScalingClient
    from types_boto3_cloudwatch import CloudWatchClient
    from types_boto3_lambda import LambdaClient
    from types_boto3_s3 import S3Client
    from types_boto3_sagemaker import SageMakerClient
    from types_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from types_boto3_sns import SNSClient
    from types_boto3_sqs import SQSClient

T = TypeVar("T")

# Standard retries (throttling, 5xx) with the SDK's own backoff; AWS_MAX_ATTEMPTS still overrides.
_CONFIG = Config(retries={"mode": "standard"}, user_agent_extra="sdxl-inf2-deploy")


def resolve_region(region: str | None, profile: str | None = None) -> str:
    """The config's region, else boto3's (AWS_REGION, AWS_DEFAULT_REGION, the profile); no API call."""
    found = region or boto3.Session(profile_name=profile).region_name
    if not found:
        raise DeployError("no AWS region: set `region` in the config, AWS_REGION, or a profile's region")
    return found


class Clients:
    """One boto3 session and the clients the deploy commands use, each made on first use."""

    def __init__(self, region: str | None = None, profile: str | None = None) -> None:
        self.region = resolve_region(region, profile)
        self.session = boto3.Session(profile_name=profile, region_name=self.region)

    @cached_property
    def sagemaker(self) -> SageMakerClient:
        return self.session.client("sagemaker", config=_CONFIG)

    @cached_property
    def runtime(self) -> SageMakerRuntimeClient:
        return self.session.client("sagemaker-runtime", config=_CONFIG)

    @cached_property
    def autoscaling(self) -> ApplicationAutoScalingClient:
        return self.session.client("application-autoscaling", config=_CONFIG)

    @cached_property
    def cloudwatch(self) -> CloudWatchClient:
        return self.session.client("cloudwatch", config=_CONFIG)

    @cached_property
    def awslambda(self) -> LambdaClient:  # `lambda` is a keyword
        return self.session.client("lambda", config=_CONFIG)

    @cached_property
    def s3(self) -> S3Client:
        return self.session.client("s3", config=_CONFIG)

    @cached_property
    def sns(self) -> SNSClient:
        return self.session.client("sns", config=_CONFIG)

    @cached_property
    def sqs(self) -> SQSClient:
        return self.session.client("sqs", config=_CONFIG)


def is_missing(exc: ClientError) -> bool:
    """Whether a describe call failed because the thing does not exist (SageMaker says ValidationException)."""
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    return code in _MISSING_CODES or (code == "ValidationException" and _MISSING_WORDS.search(message) is not None)


def describe_or_none(describe: Callable[[], T]) -> T | None:
    """The description, or None when the resource does not exist; other errors propagate."""
    try:
        return describe()
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise


_MISSING_CODES = {"ResourceNotFound", "ResourceNotFoundException", "NoSuchEntity", *objects.MISSING}
_MISSING_WORDS = re.compile(r"Could not find|does not exist|not found", re.IGNORECASE)
