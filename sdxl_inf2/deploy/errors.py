"""What the deploy commands can fail with; each is an SdxlError, one line for `sdxl-inf2: error: ...`.

    DeployError                 (anything the user must act on)
    ├── DeployConfigError       (the deployment config YAML: names the bad key)
    ├── EndpointFailed          (the endpoint ended Failed; carries SageMaker's FailureReason)
    ├── WaitTimeout             (a wait ran past its limit: endpoint, deletion, or inference result)
    ├── InferenceFailed         (the async request ended in the failure location or an error notification)
    ├── NotDeployed             (status/invoke/teardown of something that does not exist)
    └── AwsError                (botocore's ClientError or BotoCoreError, in botocore's own words)

The code below calls boto3 freely and lets botocore's errors rise; each command that talks to AWS
runs inside `aws_errors()`, which turns them into an AwsError at the command's edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from sdxl_inf2.core.errors import SdxlError


class DeployError(SdxlError):
    pass


class DeployConfigError(DeployError):
    pass


class EndpointFailed(DeployError):
    pass


class WaitTimeout(DeployError):
    pass


class InferenceFailed(DeployError):
    pass


class NotDeployed(DeployError):
    pass


class AwsError(DeployError):
    pass


@contextmanager
def aws_errors() -> Iterator[None]:
    """botocore's ClientError and BotoCoreError become an AwsError with the same text (also a decorator)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(str(exc)) from exc
