"""SNS topics for async results, and the SQS queue that `invoke` waits on.

Topics given as ARNs are used as they are; topics given as names are created here (CreateTopic is
idempotent) and deleted by teardown. With `notifications.queue` set, one queue is created and
subscribed to both topics, with a queue policy that lets only those topics send to it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .clients import Clients
from .config import DeployConfig
from .naming import MANAGED_BY_TAG, arn, created_topics, topic_arn
from .say import say

if TYPE_CHECKING:
    from types_boto3_sns.type_defs import CreateTopicInputTypeDef, SubscribeInputTypeDef
    from types_boto3_sqs.type_defs import CreateQueueRequestTypeDef


def topic_requests(config: DeployConfig) -> list[CreateTopicInputTypeDef]:
    return [{"Name": name, "Tags": [{"Key": MANAGED_BY_TAG, "Value": config.name}]} for name in created_topics(config)]


def subscribed_topics(config: DeployConfig, region: str) -> list[str]:
    notes = config.notifications
    topics = [topic_arn(config, region, t) for t in (notes.success_topic, notes.error_topic) if t]
    return list(dict.fromkeys(topics))


def queue_arn(config: DeployConfig, region: str) -> str:
    return arn(config, "sqs", region, str(config.notifications.queue))


def queue_request(config: DeployConfig, region: str) -> CreateQueueRequestTypeDef:
    """The queue, with a policy that accepts messages from this deployment's topics only."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "FromTheEndpointTopics",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn(config, region),
                "Condition": {"ArnEquals": {"aws:SourceArn": subscribed_topics(config, region)}},
            }
        ],
    }
    return {
        "QueueName": str(config.notifications.queue),
        "Attributes": {"Policy": json.dumps(policy, sort_keys=True)},
        "tags": {MANAGED_BY_TAG: config.name},
    }


def subscription_requests(config: DeployConfig, region: str) -> list[SubscribeInputTypeDef]:
    endpoint = queue_arn(config, region)
    return [{"TopicArn": t, "Protocol": "sqs", "Endpoint": endpoint} for t in subscribed_topics(config, region)]


def ensure_notifications(clients: Clients, config: DeployConfig) -> None:
    """Creates the named topics, and the queue with its subscriptions; safe to run again."""
    for request in topic_requests(config):
        clients.sns.create_topic(**request)
        say(f"topic {request['Name']}: ready")
    if config.notifications.queue:
        _ensure_queue(clients, config)


def _ensure_queue(clients: Clients, config: DeployConfig) -> None:
    request = queue_request(config, clients.region)
    url = describe_queue_url(clients, config)
    if url is None:
        clients.sqs.create_queue(**request)
    else:  # keeps the queue policy in step with the topics
        clients.sqs.set_queue_attributes(QueueUrl=url, Attributes=request["Attributes"])
    subscriptions = subscription_requests(config, clients.region)
    for subscription in subscriptions:
        if not _subscription_arns(clients, subscription["TopicArn"], subscription["Endpoint"]):
            clients.sns.subscribe(**subscription)
    say(f"queue {request['QueueName']}: subscribed to {len(subscriptions)} topic(s)")


def _subscription_arns(clients: Clients, topic: str, endpoint: str) -> list[str]:
    pages = clients.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
    found = [s for page in pages for s in page["Subscriptions"] if s.get("Endpoint") == endpoint]
    return [s["SubscriptionArn"] for s in found if s.get("SubscriptionArn", "").startswith("arn:")]


def queue_url(clients: Clients, config: DeployConfig) -> str | None:
    name = config.notifications.queue
    return clients.sqs.get_queue_url(QueueName=name)["QueueUrl"] if name else None


def remove_notifications(clients: Clients, config: DeployConfig) -> None:
    """Unsubscribes and deletes the queue, then deletes the topics deploy created (not given ARNs)."""
    if config.notifications.queue:
        _remove_queue(clients, config)
    for request in topic_requests(config):
        clients.sns.delete_topic(TopicArn=topic_arn(config, clients.region, request["Name"]))
        say(f"topic {request['Name']}: deleted")


def _remove_queue(clients: Clients, config: DeployConfig) -> None:
    endpoint = queue_arn(config, clients.region)
    for topic in subscribed_topics(config, clients.region):
        for subscription in _subscriptions_if_topic_exists(clients, topic, endpoint):
            clients.sns.unsubscribe(SubscriptionArn=subscription)
    url = describe_queue_url(clients, config)
    if url:
        clients.sqs.delete_queue(QueueUrl=url)
        say(f"queue {config.notifications.queue}: deleted")


def _subscriptions_if_topic_exists(clients: Clients, topic: str, endpoint: str) -> list[str]:
    try:
        return _subscription_arns(clients, topic, endpoint)
    except clients.sns.exceptions.NotFoundException:
        return []


def describe_queue_url(clients: Clients, config: DeployConfig) -> str | None:
    try:
        return queue_url(clients, config)
    except clients.sqs.exceptions.QueueDoesNotExist:
        return None
