"""The gateway in a deployment: its settings from the config, and its Lambda function with a function URL.

`deploy` builds the zip from the installed package (gateway/package.py), then creates the function
(or updates its code when Lambda's CodeSha256 differs, and its configuration when any setting
differs), and its function URL (auth AWS_IAM by default; NONE adds the public permissions). Running
it again with nothing changed calls nothing but the reads. `teardown` deletes the URL and the
function; the function's log group stays, like the endpoint's.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, cast

from sdxl_inf2.core import metrics
from sdxl_inf2.core.cache import CACHE_S3_SETTING
from sdxl_inf2.gateway.package import HANDLER, LambdaZip, build_zip
from sdxl_inf2.gateway.settings import CARD_TTL_S, GatewaySettings
from sdxl_inf2.gateway.submit import Gateway, GatewayClients

from .clients import Clients, describe_or_none
from .config import DeployConfig
from .errors import DeployConfigError
from .naming import MANAGED_BY_TAG
from .say import say

if TYPE_CHECKING:
    from types_boto3_lambda import LambdaClient
    from types_boto3_lambda.literals import ArchitectureType, RuntimeType
    from types_boto3_lambda.type_defs import (
        AddPermissionRequestTypeDef,
        CreateFunctionRequestTypeDef,
        CreateFunctionUrlConfigRequestTypeDef,
        FunctionConfigurationTypeDef,
        UpdateFunctionConfigurationRequestTypeDef,
    )

# Function URLs with AuthType NONE need both (since October 2025): lambda:InvokeFunctionUrl and
# lambda:InvokeFunction for the URL's callers (AWS Lambda Developer Guide, "Control access to ... function URLs").
PUBLIC_STATEMENTS = ("sdxl-inf2-public-url", "sdxl-inf2-public-invoke")
ZIP_PLACEHOLDER = "<the gateway zip, built from the installed package at deploy time>"  # shown by `plan`


def function_name(config: DeployConfig) -> str:
    return (config.gateway.function_name if config.gateway else None) or f"{config.name}-gateway"


def gateway_settings(config: DeployConfig) -> GatewaySettings:
    """The gateway's settings for this deployment (the Lambda's environment; invoke and serve use them too)."""
    if not config.cache_s3_uri:
        raise DeployConfigError(
            f"the gateway needs environment.{CACHE_S3_SETTING} in the config (its model card, its hits)"
        )
    environment = config.container_environment
    return GatewaySettings(
        endpoint_name=config.name,
        cache_s3_uri=config.cache_s3_uri,
        input_path=config.async_settings("the gateway").input_path,
        request_ttl_s=config.invoke.request_ttl_s,
        invocation_timeout_s=config.invoke.invocation_timeout_s,
        card_ttl_s=config.gateway.card_ttl_s if config.gateway else CARD_TTL_S,
        metrics="on" if config.requests_counted_by == "gateway" else "off",
        metrics_namespace=config.container_metric_namespace,
        metrics_endpoint_name=environment[metrics.ENDPOINT_SETTING],
        metrics_variant_name=environment[metrics.VARIANT_SETTING],
    )


def connect(clients: Clients, config: DeployConfig) -> Gateway:
    """The gateway library for this deployment, with the caller's AWS session (PutMetricData counts)."""
    settings = gateway_settings(config)
    cloudwatch = clients.cloudwatch if settings.metrics == "on" else None  # made only when it counts
    return Gateway(settings, GatewayClients(clients.s3, clients.runtime, cloudwatch))


def function_request(config: DeployConfig, code: LambdaZip | None) -> CreateFunctionRequestTypeDef:
    """CreateFunction's parameters; `code` None shows a placeholder (plan)."""
    assert config.gateway is not None
    zip_file: Any = code.data if code else ZIP_PLACEHOLDER
    request: CreateFunctionRequestTypeDef = {
        **_configuration(config, code),  # type: ignore[typeddict-item]
        "Code": {"ZipFile": zip_file},
        "Architectures": [_architecture(code)],
        "Tags": {**config.tags, MANAGED_BY_TAG: config.name},
    }
    return request


def _configuration(config: DeployConfig, code: LambdaZip | None) -> UpdateFunctionConfigurationRequestTypeDef:
    assert config.gateway is not None
    return {
        "FunctionName": function_name(config),
        "Role": config.gateway.role_arn,
        "Handler": HANDLER,
        "Runtime": cast("RuntimeType", code.runtime if code else "python3.11"),
        "Description": f"sdxl-inf2 request gateway for endpoint {config.name}",
        "Timeout": config.gateway.timeout_s,
        "MemorySize": config.gateway.memory_mb,
        "Environment": {"Variables": gateway_settings(config).environment()},
    }


def _architecture(code: LambdaZip | None) -> ArchitectureType:
    return cast("ArchitectureType", code.architecture if code else "x86_64")


def url_request(config: DeployConfig) -> CreateFunctionUrlConfigRequestTypeDef:
    assert config.gateway is not None
    return {"FunctionName": function_name(config), "AuthType": config.gateway.auth_type}


def public_permissions(config: DeployConfig) -> list[AddPermissionRequestTypeDef]:
    """The resource policy statements an AuthType NONE URL needs to be reachable at all (none for AWS_IAM)."""
    if config.gateway is None or config.gateway.auth_type != "NONE":
        return []
    name = function_name(config)
    return [
        {
            "FunctionName": name,
            "StatementId": PUBLIC_STATEMENTS[0],
            "Action": "lambda:InvokeFunctionUrl",
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
        },
        {
            "FunctionName": name,
            "StatementId": PUBLIC_STATEMENTS[1],
            "Action": "lambda:InvokeFunction",
            "Principal": "*",
            "InvokedViaFunctionUrl": True,
        },
    ]


def ensure_gateway(clients: Clients, config: DeployConfig) -> str:
    """Creates or updates the function and its URL; returns the URL."""
    lam, name, code = clients.awslambda, function_name(config), build_zip()
    found = describe_or_none(lambda: lam.get_function(FunctionName=name))
    if found is None:
        lam.create_function(**function_request(config, code))
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        say(f"gateway {name}: created ({code.runtime}, {code.architecture}, {len(code.data) >> 20} MiB zip)")
    else:
        _update(lam, config, code, found["Configuration"])
    url = _ensure_url(lam, config)
    say(f"gateway {name}: {url} (auth {url_request(config)['AuthType']})")
    return url


def _update(lam: LambdaClient, config: DeployConfig, code: LambdaZip, live: FunctionConfigurationTypeDef) -> None:
    name, changed = function_name(config), []
    if live.get("CodeSha256") != code.code_sha256 or live.get("Architectures") != [code.architecture]:
        lam.update_function_code(FunctionName=name, ZipFile=code.data, Architectures=[_architecture(code)])
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        changed.append("code")
    wanted = _configuration(config, code)
    if any(live.get(field) != value for field, value in wanted.items() if field != "FunctionName"):
        lam.update_function_configuration(**wanted)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        changed.append("configuration")
    say(f"gateway {name}: {' and '.join(changed) + ' updated' if changed else 'unchanged'}")


def _ensure_url(lam: LambdaClient, config: DeployConfig) -> str:
    wanted = url_request(config)
    found = describe_or_none(lambda: lam.get_function_url_config(FunctionName=wanted["FunctionName"]))
    if found is None:
        url = lam.create_function_url_config(**wanted)["FunctionUrl"]
    elif found["AuthType"] != wanted["AuthType"]:
        url = lam.update_function_url_config(**wanted)["FunctionUrl"]
    else:
        url = found["FunctionUrl"]
    _set_public_permissions(lam, config)
    return url


def _set_public_permissions(lam: LambdaClient, config: DeployConfig) -> None:
    wanted = public_permissions(config)
    for statement in wanted:
        with contextlib.suppress(lam.exceptions.ResourceConflictException):  # already there
            lam.add_permission(**statement)
    if not wanted:  # AWS_IAM: no public statement may remain from an earlier NONE
        for statement_id in PUBLIC_STATEMENTS:
            with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
                lam.remove_permission(FunctionName=function_name(config), StatementId=statement_id)


def remove_gateway(clients: Clients, config: DeployConfig) -> None:
    """Deletes the function URL and the function, if they exist."""
    lam, name = clients.awslambda, function_name(config)
    if describe_or_none(lambda: lam.get_function(FunctionName=name)) is None:
        return
    if describe_or_none(lambda: lam.get_function_url_config(FunctionName=name)) is not None:
        lam.delete_function_url_config(FunctionName=name)
    lam.delete_function(FunctionName=name)
    say(f"gateway {name}: deleted")
