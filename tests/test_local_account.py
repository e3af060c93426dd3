"""What `sdxl-inf2 local-endpoint` puts in its local account before `deploy` (local_endpoint/account.py),
against its own moto process: the account is the one the config's ARNs name, and the roles the config
names exist there with those ARNs, their trust and the policies `iam-policy` prints."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from sdxl_inf2.deploy.clients import Clients
from sdxl_inf2.deploy.config import load_config
from sdxl_inf2.deploy.iam import execution_role_policy, gateway_role_policy
from sdxl_inf2.local_endpoint.account import prepare_account, split_role_arn
from sdxl_inf2.local_endpoint.moto_stack import local_aws
from tests.aws import write_config

ACCOUNT = "210987654321"  # not moto's default
ENDPOINT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/sdxl-endpoint"
GATEWAY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/sdxl-gateway"


@pytest.fixture
def clean_environment() -> Iterator[None]:
    """local_aws points this process's boto3 at its moto (as the command does); put it back after."""
    saved = dict(os.environ)
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize(
    ("arn", "parts"),
    [
        ("arn:aws:iam::123456789012:role/x", ("123456789012", "/", "x")),
        ("arn:aws:iam::123456789012:role/service-role/team/x", ("123456789012", "/service-role/team/", "x")),
    ],
)
def test_split_role_arn(arn: str, parts: tuple[str, str, str]) -> None:
    assert split_role_arn(arn) == parts


def test_the_roles_are_made_in_the_configs_account(clean_environment: None, tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            execution_role_arn=ENDPOINT_ROLE,
            gateway={"role_arn": GATEWAY_ROLE},
            environment={"SDXL_CACHE_S3_URI": "s3://example-sdxl-data/sdxl-inf2-prod/cache/"},
        )
    )
    with local_aws(config) as aws:
        clients = Clients(aws.region)
        prepare_account(clients, config)
        prepare_account(clients, config)  # a second run finds them there
        assert boto3.client("sts").get_caller_identity()["Account"] == ACCOUNT
        iam = boto3.client("iam")
        endpoint = iam.get_role(RoleName="sdxl-endpoint")["Role"]
        assert (endpoint["Arn"], endpoint["Path"]) == (ENDPOINT_ROLE, "/service-role/")
        assert iam.get_role(RoleName="sdxl-gateway")["Role"]["Arn"] == GATEWAY_ROLE
        assert iam.get_role_policy(RoleName="sdxl-endpoint", PolicyName="sdxl-inf2")["PolicyDocument"] == (
            execution_role_policy(config, aws.region)
        )
        assert iam.get_role_policy(RoleName="sdxl-gateway", PolicyName="sdxl-inf2")["PolicyDocument"] == (
            gateway_role_policy(config, aws.region)
        )
        assert "example-sdxl-data" in {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}
