"""What the local account has before `deploy` runs, as a real one would: the buckets and the IAM roles
the config names (deploy creates neither).

Roles: the endpoint's execution role (trusting SageMaker) and, when the config has a gateway section,
the gateway function's role (trusting Lambda; moto's CreateFunction refuses a role that does not
exist), each with the policy `sdxl-inf2 iam-policy` prints for it as an inline policy. The local
account is the one the config's ARNs name (moto_stack.py starts moto in it), so the roles get exactly
the ARNs the config gives; a role in another account is one line naming the key.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from sdxl_inf2.core.cache import CACHE_S3_SETTING
from sdxl_inf2.deploy.clients import Clients
from sdxl_inf2.deploy.config import DeployConfig
from sdxl_inf2.deploy.iam import execution_role_policy, gateway_role_policy
from sdxl_inf2.gateway.objects import split_s3

from .errors import LocalEndpointError

POLICY_NAME = "sdxl-inf2"  # the inline policy on each role


def prepare_account(clients: Clients, config: DeployConfig) -> None:
    create_buckets(clients, config)
    create_roles(clients, config)


def config_buckets(config: DeployConfig) -> list[str]:
    """Every bucket the config names: the artifact's, the async paths', the result cache's."""
    uris = [config.model_data_url]
    if config.async_inference:
        settings = config.async_inference
        uris += [settings.input_path, settings.output_path, settings.failure_path]
    cache = config.container_environment.get(CACHE_S3_SETTING)
    if cache:
        uris.append(cache)
    return sorted({split_s3(uri)[0] for uri in uris})


def create_buckets(clients: Clients, config: DeployConfig) -> None:
    """The buckets an account would already have before `deploy` (none is created by deploy itself)."""
    location = (
        {} if clients.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": clients.region}}
    )
    for bucket in config_buckets(config):
        with contextlib.suppress(clients.s3.exceptions.BucketAlreadyOwnedByYou):
            clients.s3.create_bucket(Bucket=bucket, **location)  # type: ignore[arg-type]


Role = tuple[str, str, str, dict[str, Any] | None]  # config key, ARN, trusted service, inline policy


def config_roles(config: DeployConfig, region: str) -> list[Role]:
    """Each role the config names; no policy for a disabled gateway's (it needs the cache tier's prefix)."""
    roles: list[Role] = [
        ("execution_role_arn", config.execution_role_arn, "sagemaker", execution_role_policy(config, region))
    ]
    if config.gateway is not None:
        policy = gateway_role_policy(config, region) if config.gateway_enabled else None
        roles.append(("gateway.role_arn", config.gateway.role_arn, "lambda", policy))
    return roles


def create_roles(clients: Clients, config: DeployConfig) -> None:
    iam: Any = clients.session.client("iam")
    account = clients.session.client("sts").get_caller_identity()["Account"]
    for key, arn, service, policy in config_roles(config, clients.region):
        role_account, path, name = split_role_arn(arn)
        if role_account != account:
            raise LocalEndpointError(
                f"{key}: {arn} is in account {role_account}, but the local AWS is account {account} (local-endpoint "
                "runs moto in execution_role_arn's account; a server named by AWS_ENDPOINT_URL keeps its own)"
            )
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust(service)))
        if policy is not None:
            iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))


def split_role_arn(arn: str) -> tuple[str, str, str]:
    """`arn:aws:iam::123456789012:role/service-role/x` -> ("123456789012", "/service-role/", "x")."""
    account, resource = arn.split(":")[4], arn.split(":", 5)[5]
    path, _, name = resource.removeprefix("role").rpartition("/")
    return account, path + "/", name


def trust(service: str) -> dict[str, Any]:
    principal = {"Service": f"{service}.amazonaws.com"}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return {"Version": "2012-10-17", "Statement": [statement]}
