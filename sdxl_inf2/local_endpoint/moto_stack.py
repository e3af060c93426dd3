"""AWS on loopback: a moto server in the config's account, and the real `deploy` run against it
(account.py creates what the account has before that: buckets, roles).

moto runs in a child process (moto_process.py), in the account the config's ARNs name (its
execution role's), unless AWS_ENDPOINT_URL already names a reachable server.
boto3 finds it the standard way only (AWS_ENDPOINT_URL, test credentials and a region in this
process's environment), so `deploy` runs exactly the code it runs against AWS. moto's SageMaker
refuses `ml.inf2.*` in CreateEndpointConfig (its list of instance types predates Inferentia2): the
moto started here is patched to accept Inferentia2 and Trainium types, and to decide conditional
PutObjects atomically as S3 does; an external one cannot be.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from sdxl_inf2.deploy.clients import Clients, resolve_region
from sdxl_inf2.deploy.config import DeployConfig
from sdxl_inf2.deploy.errors import DeployError

from .errors import LocalEndpointError

TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_REGION = "us-east-1"
NEURON_TYPES = ("ml.inf2.", "ml.trn1.")
# What a shell may carry that would send boto3 elsewhere than the local server, or to a real account.
_LEAKS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


@contextlib.contextmanager
def accept_neuron_instance_types() -> Iterator[None]:
    """moto's CreateEndpointConfig also accepts ml.inf2.* and ml.trn1.* (in this process) while open."""
    from moto.sagemaker.models import FakeEndpointConfig

    original = FakeEndpointConfig.validate_instance_type

    def validate(self: Any, instance_type: str) -> None:
        if not instance_type.startswith(NEURON_TYPES):
            original(self, instance_type)

    setattr(FakeEndpointConfig, "validate_instance_type", validate)  # noqa: B010 - mypy refuses a method assignment
    try:
        yield
    finally:
        setattr(FakeEndpointConfig, "validate_instance_type", original)  # noqa: B010


@contextlib.contextmanager
def atomic_conditional_puts() -> Iterator[None]:
    """moto's PutObject decides If-None-Match / If-Match atomically (in this process) while open.

    moto checks the condition and then writes, without a lock; S3 lets exactly one of simultaneous
    `If-None-Match: *` writers win, which the gateway's pending claims (gateway/pending.py) rely on.
    One PutObject at a time makes moto's answer S3's."""
    import threading

    from moto.s3.responses import S3Response

    original = S3Response.put_object
    one_at_a_time = threading.Lock()

    def put_object(self: Any) -> Any:
        with one_at_a_time:
            return original(self)

    setattr(S3Response, "put_object", put_object)  # noqa: B010 - mypy refuses a method assignment
    try:
        yield
    finally:
        setattr(S3Response, "put_object", original)  # noqa: B010


@dataclass
class LocalAws:
    url: str
    region: str
    external: bool

    @property
    def environment(self) -> dict[str, str]:
        """What a boto3 program (an instance, a user's shell) needs to reach this AWS."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }


@contextlib.contextmanager
def local_aws(config: DeployConfig) -> Iterator[LocalAws]:
    """AWS for the lifetime of the block, with this process's boto3 pointed at it."""
    region = _region(config)
    external = os.environ.get("AWS_ENDPOINT_URL")
    if external:
        _check_reachable(external)
        os.environ.update({k: os.environ.get(k, v) for k, v in TEST_CREDENTIALS.items()})
        _point_boto3(external, region)
        yield LocalAws(external, region, external=True)
        return
    with _moto_process(config.account) as url:
        for name in [*_LEAKS, *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_"))]:
            os.environ.pop(name, None)
        os.environ.update(TEST_CREDENTIALS)
        _point_boto3(url, region)
        yield LocalAws(url, region, external=False)


@contextlib.contextmanager
def _moto_process(account: str) -> Iterator[str]:
    """moto in a child process (local_endpoint/moto_process.py) serving `account`; yields its URL."""
    if importlib.util.find_spec("moto") is None:
        raise LocalEndpointError("local-endpoint needs moto, which is not installed: pip install 'sdxl-inf2[local]'")
    command = [sys.executable, "-m", "sdxl_inf2.local_endpoint.moto_process"]
    environment = {**os.environ, "MOTO_ACCOUNT_ID": account}  # moto's own setting: every call is in that account
    child = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True, env=environment
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().decode().strip()
        if not url.startswith("http://"):
            raise LocalEndpointError(f"moto did not start (exit status {child.wait()})")
        yield url
    finally:
        assert child.stdin is not None
        child.stdin.close()  # its signal to stop
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _region(config: DeployConfig) -> str:
    try:
        return resolve_region(config.region)
    except DeployError:
        return DEFAULT_REGION


def _point_boto3(url: str, region: str) -> None:
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["AWS_REGION"] = region


def _check_reachable(url: str) -> None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=2):
            pass
    except OSError as exc:
        raise LocalEndpointError(
            f"AWS_ENDPOINT_URL={url} is not reachable ({exc.strerror or exc}): start that server, "
            "or unset AWS_ENDPOINT_URL to run moto inside local-endpoint"
        ) from None


def deploy_endpoint(clients: Clients, aws: LocalAws, config: DeployConfig) -> str:
    """`deploy` for this config against the local AWS; returns the release name."""
    from sdxl_inf2.deploy.rollout import deploy
    from sdxl_inf2.deploy.workers import settle_workers

    try:
        return deploy(clients, settle_workers(config, lambda: clients.s3), wait=True)  # as `deploy` counts workers
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        if aws.external and "enum value set" in message and config.instance_type.startswith(NEURON_TYPES):
            raise LocalEndpointError(
                f"the AWS endpoint at {aws.url} refuses instance type {config.instance_type} (moto's list predates "
                "Inferentia2): unset AWS_ENDPOINT_URL so that local-endpoint runs its own moto, which accepts it"
            ) from None
        raise
