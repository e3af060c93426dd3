"""`teardown`: removes what deploy and autoscale created, in dependency order.

The gateway's function URL and function -> alarm, scaling policies, schedules, scalable target ->
endpoint (waits until it is gone) -> every endpoint config and model of this deployment -> queue and
created topics -> the dashboard (absent is fine). S3 data (requests, results, failures) and the
Model Registry stay unless asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdxl_inf2.gateway.objects import join_s3, split_s3

from . import autoscaling, dashboard
from .clients import Clients
from .config import DeployConfig
from .endpoint import describe_endpoint
from .gateway import remove_gateway
from .naming import is_release_of
from .notifications import remove_notifications
from .registry import remove_registry
from .say import say

if TYPE_CHECKING:
    from types_boto3_s3.type_defs import ObjectIdentifierTypeDef


def teardown(
    clients: Clients, config: DeployConfig, *, delete_data: bool = False, delete_registry: bool = False
) -> None:
    remove_gateway(clients, config)  # first: no new request may be queued on an endpoint going away
    autoscaling.remove(clients, config)
    delete_endpoint(clients, config)
    delete_releases(clients, config)
    remove_notifications(clients, config)
    dashboard.remove(clients, config)  # whatever `dashboard` says now: an earlier deploy may have put it
    if delete_data:
        for prefix in _data_prefixes(config):
            delete_prefix(clients, prefix)
    if delete_registry and config.registry:
        remove_registry(clients, config)


def delete_endpoint(clients: Clients, config: DeployConfig) -> None:
    sm = clients.sagemaker
    if describe_endpoint(sm, config.name) is None:
        return
    sm.delete_endpoint(EndpointName=config.name)
    say(f"endpoint {config.name}: deleting")
    attempts = max(1, int(config.wait.timeout_s // config.wait.poll_s))
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=config.name, WaiterConfig={"Delay": max(1, int(config.wait.poll_s)), "MaxAttempts": attempts}
    )
    say(f"endpoint {config.name}: deleted")


def delete_releases(clients: Clients, config: DeployConfig) -> None:
    """Every endpoint config, then every model, named `<name>-<hash>` (all releases, not just the live one)."""
    sm = clients.sagemaker
    config_pages = sm.get_paginator("list_endpoint_configs").paginate(NameContains=config.name)
    for name in [c["EndpointConfigName"] for page in config_pages for c in page["EndpointConfigs"]]:
        if is_release_of(config, name):
            sm.delete_endpoint_config(EndpointConfigName=name)
            say(f"endpoint config {name}: deleted")
    model_pages = sm.get_paginator("list_models").paginate(NameContains=config.name)
    for name in [m["ModelName"] for page in model_pages for m in page["Models"]]:
        if is_release_of(config, name):
            sm.delete_model(ModelName=name)
            say(f"model {name}: deleted")


def _data_prefixes(config: DeployConfig) -> list[str]:
    """Requests, results, failures, and the gateway's claims and records (not the cache entries)."""
    settings = config.async_inference
    gateway_state = [join_s3(config.cache_s3_uri, "gateway/")] if config.gateway_enabled and config.cache_s3_uri else []
    async_data = [settings.input_path, settings.output_path, settings.failure_path] if settings else []
    return [*async_data, *gateway_state]


def delete_prefix(clients: Clients, prefix: str) -> None:
    bucket, key = split_s3(prefix)
    count = 0
    for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        objects: list[ObjectIdentifierTypeDef] = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if objects:  # one page holds at most 1000 keys, DeleteObjects' limit
            clients.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            count += len(objects)
    say(f"{prefix}: {count} object(s) deleted")
