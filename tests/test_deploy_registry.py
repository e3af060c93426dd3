"""`register` against moto: group if missing, one version per image + artifact, approval."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.aws import Aws, assert_one_line_error, cli, write_config

Capsys = pytest.CaptureFixture[str]


def register(capsys: Capsys, config: Path, *flags: str) -> str:
    run = cli(capsys, "register", str(config), *flags)
    assert run.code == 0, run.err
    return run.out.strip()


def test_register_creates_the_group_and_a_pending_version(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    arn = register(capsys, write_config(tmp_path))
    sm = aws.client("sagemaker")
    assert sm.describe_model_package_group(ModelPackageGroupName="sdxl-inf2")["ModelPackageGroupStatus"] == "Completed"
    package = sm.describe_model_package(ModelPackageName=arn)
    assert arn.endswith(":model-package/sdxl-inf2/1")
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    spec = package["InferenceSpecification"]
    assert spec["Containers"][0]["Image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/sdxl-inf2:0.1.0"
    assert spec["Containers"][0]["ModelDataUrl"] == "s3://example-sdxl-models/sdxl-inf2/1024x1024/model.tar.gz"
    assert spec["SupportedContentTypes"] == ["application/json"]
    assert spec["SupportedResponseMIMETypes"] == ["image/png", "image/jpeg", "image/webp", "application/json"]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == ["ml.inf2.48xlarge"]


def test_register_twice_keeps_one_version_and_approve_flips_it(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    config = write_config(tmp_path)
    first = register(capsys, config)
    assert register(capsys, config, "--approve") == first
    sm = aws.client("sagemaker")
    assert len(sm.list_model_packages(ModelPackageGroupName="sdxl-inf2")["ModelPackageSummaryList"]) == 1
    assert sm.describe_model_package(ModelPackageName=first)["ModelApprovalStatus"] == "Approved"


def test_a_new_artifact_is_a_new_version(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    first = register(capsys, write_config(tmp_path))
    second = register(capsys, write_config(tmp_path, model_data_url="s3://example-sdxl-models/v2/model.tar.gz"))
    assert (first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]) == ("1", "2")


def test_approve_from_the_config(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    arn = register(capsys, write_config(tmp_path, **{"registry.approve": True}))
    assert aws.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"


def test_register_without_a_registry_section_is_one_line(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    assert_one_line_error(cli(capsys, "register", str(write_config(tmp_path, registry=None))), "registry")
