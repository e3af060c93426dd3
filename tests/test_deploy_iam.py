"""`iam-policy`: every statement scoped to this deployment; "*" only where AWS allows nothing narrower."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.aws import cli, write_config

Capsys = pytest.CaptureFixture[str]


def policy(capsys: Capsys, tmp_path: Path, **changes: Any) -> dict[str, dict[str, Any]]:
    run = cli(capsys, "iam-policy", str(write_config(tmp_path, **changes)))
    assert run.code == 0, run.err
    document = json.loads(run.out)
    assert document["Version"] == "2012-10-17"
    return {statement["Sid"]: statement for statement in document["Statement"]}


def test_wildcards_only_where_aws_requires_them(tmp_path: Path, capsys: Capsys) -> None:
    statements = policy(capsys, tmp_path)
    starred = {sid for sid, s in statements.items() if s["Resource"] == "*"}
    assert starred == {"EcrLogin", "EndpointMetrics"}
    assert statements["EcrLogin"]["Action"] == ["ecr:GetAuthorizationToken"]
    assert statements["EndpointMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints", "SdxlInf2"]}
    }
    assert not [action for s in statements.values() for action in s["Action"] if "*" in action]


def test_resources_are_this_deployments(tmp_path: Path, capsys: Capsys) -> None:
    statements = policy(capsys, tmp_path)
    assert statements["PullTheImage"]["Resource"] == "arn:aws:ecr:us-east-1:123456789012:repository/sdxl-inf2"
    assert statements["ReadTheModelArtifact"] == {
        "Sid": "ReadTheModelArtifact",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": "arn:aws:s3:::example-sdxl-models/sdxl-inf2/1024x1024/model.tar.gz",
    }
    assert statements["ReadAsyncRequests"]["Resource"] == "arn:aws:s3:::example-sdxl-data/sdxl-inf2-prod/requests/*"
    assert statements["WriteAsyncResults"]["Resource"] == [
        "arn:aws:s3:::example-sdxl-data/sdxl-inf2-prod/failures/*",
        "arn:aws:s3:::example-sdxl-data/sdxl-inf2-prod/results/*",
    ]
    listing = statements["ListAsyncPrefixes0"]
    assert listing["Resource"] == "arn:aws:s3:::example-sdxl-data"
    assert listing["Condition"] == {
        "StringLike": {
            "s3:prefix": ["sdxl-inf2-prod/failures/*", "sdxl-inf2-prod/requests/*", "sdxl-inf2-prod/results/*"]
        }
    }
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/sdxl-inf2-prod"
    assert statements["EndpointLogGroup"]["Resource"] == f"{group}:*"
    assert statements["EndpointLogEvents"]["Resource"] == f"{group}:log-stream:*"
    assert statements["PublishResultNotifications"]["Resource"] == [
        "arn:aws:sns:us-east-1:123456789012:sdxl-inf2-prod-success",
        "arn:aws:sns:us-east-1:123456789012:sdxl-inf2-prod-error",
    ]
    assert statements["EncryptAsyncResults"]["Resource"].startswith("arn:aws:kms:us-east-1:123456789012:key/")


def test_no_kms_or_sns_statements_when_not_configured(tmp_path: Path, capsys: Capsys) -> None:
    changes = {"async_inference.kms_key_id": None, "async_inference.notifications": {}}
    statements = policy(capsys, tmp_path, **changes)
    assert "EncryptAsyncResults" not in statements and "PublishResultNotifications" not in statements
    assert not [s for s in statements.values() if any(a.startswith(("kms:", "sns:")) for a in s["Action"])]
