"""`deploy`: notifications, the release, the endpoint, the gateway, the wait, autoscaling, then the dashboard.

Every step first looks at what exists, so running it twice changes nothing the second time.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from . import autoscaling, dashboard
from .clients import Clients
from .config import DeployConfig
from .endpoint import Release, build_release, ensure_release, instance_type_changes, point_endpoint, wait_in_service
from .gateway import ensure_gateway
from .notifications import ensure_notifications
from .say import say


def deploy(clients: Clients, config: DeployConfig, *, wait: bool = True) -> str:
    """Brings the endpoint to this config's release; returns the release name."""
    ensure_notifications(clients, config)  # before the endpoint: SageMaker sends a TestNotification at creation
    release = build_release(config, clients.region)
    ensure_release(clients.sagemaker, release)
    action = _point_endpoint(clients, config, release)
    say(f"endpoint {config.name}: {action} (release {release.name})")
    if config.gateway_enabled:
        ensure_gateway(clients, config)
    if not wait:
        if config.scaling_enabled:
            say(f"not waiting: run `sdxl-inf2 autoscale` once {config.name} is InService")
        dashboard.apply(clients, config)
        return release.name
    wait_in_service(clients.sagemaker, config)
    if config.scaling_enabled:
        autoscaling.apply(clients, config)
    dashboard.apply(clients, config)  # last: its alarm widget lists the scaling alarms that now exist
    return release.name


def _point_endpoint(clients: Clients, config: DeployConfig, release: Release) -> str:
    """UpdateEndpoint refuses to change the instance type of a variant that is a scaling target:
    the target goes first, and comes back at once if the update is refused."""
    unscaled = config.scaling_enabled and instance_type_changes(clients.sagemaker, config)
    if unscaled:
        autoscaling.remove(clients, config)
    try:
        return point_endpoint(clients, config, release)
    except ClientError:
        if unscaled:
            autoscaling.apply(clients, config)
        raise
