"""`plan`: every call that `deploy` would make to create this deployment from nothing; makes none of them
(with `workers_per_instance` unset it reads the artifact's worker plan, one S3 GetObject: deploy/workers.py).

Deploy also describes each resource first and skips what exists, so on a live account it makes a
subset of these calls (plus UpdateEndpoint when the release changed). Only the step policies' ARNs
are unknown before the calls that return them; the plan shows a placeholder for each. The dashboard's
alarm widget lists the alarms deploy names; deploy adds the target-tracking policy's managed ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import autoscaling, dashboard
from .config import DeployConfig
from .endpoint import build_release, endpoint_request
from .gateway import function_request, public_permissions, url_request
from .notifications import queue_request, subscription_requests, topic_requests


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: Mapping[str, Any]


def deploy_calls(config: DeployConfig, region: str) -> list[Call]:
    release = build_release(config, region)
    return [
        *notification_calls(config, region),
        Call("sagemaker", "create_model", release.model),
        Call("sagemaker", "create_endpoint_config", release.endpoint_config),
        Call("sagemaker", "create_endpoint", endpoint_request(config, release)),
        *(gateway_calls(config) if config.gateway_enabled else []),
        *(autoscaling_calls(config) if config.scaling_enabled else []),
        *(dashboard_calls(config, region) if config.dashboard else []),
    ]


def gateway_calls(config: DeployConfig) -> list[Call]:
    """The function (its zip shown as a placeholder: deploy builds it), its URL, and NONE's permissions."""
    return [
        Call("lambda", "create_function", function_request(config, None)),
        Call("lambda", "create_function_url_config", url_request(config)),
        *(Call("lambda", "add_permission", statement) for statement in public_permissions(config)),
    ]


def notification_calls(config: DeployConfig, region: str) -> list[Call]:
    calls = [Call("sns", "create_topic", request) for request in topic_requests(config)]
    if config.notifications.queue:
        calls.append(Call("sqs", "create_queue", queue_request(config, region)))
        calls += [Call("sns", "subscribe", request) for request in subscription_requests(config, region)]
    return calls


def autoscaling_calls(config: DeployConfig) -> list[Call]:
    calls = [
        Call("application-autoscaling", "register_scalable_target", autoscaling.target_request(config)),
        Call("application-autoscaling", "put_scaling_policy", autoscaling.target_tracking_policy(config)),
    ]
    for policy, alarm in autoscaling.step_policies(config):
        calls.append(Call("application-autoscaling", "put_scaling_policy", policy))
        calls.append(Call("cloudwatch", "put_metric_alarm", alarm(autoscaling.STEP_POLICY_ARN)))
    calls += [Call("application-autoscaling", "put_scheduled_action", s) for s in autoscaling.schedule_requests(config)]
    return calls


def dashboard_calls(config: DeployConfig, region: str) -> list[Call]:
    """The dashboard, its alarm widget with the alarms deploy names (deploy adds the target-tracking
    policy's own, which get names only when the policy is put)."""
    request = dashboard.put_request(config, region, dashboard.planned_alarm_arns(config, region))
    return [Call("cloudwatch", "put_dashboard", request)]


def render(calls: list[Call]) -> str:
    """Numbered calls with their parameters as JSON, the way boto3 would receive them."""
    blocks = [
        f"{index}. {call.service} {call.operation}\n{json.dumps(call.params, indent=2, default=str)}"
        for index, call in enumerate(calls, 1)
    ]
    return "\n\n".join(blocks)
