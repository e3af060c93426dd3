"""The deployment config: the checked-in example is valid and complete; every error is one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from sdxl_inf2.deploy.config import DeployConfig, load_config
from tests.aws import EXAMPLE, assert_one_line_error, cli, write_config

Capsys = pytest.CaptureFixture[str]


def key_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every dotted key of the config model, sections included."""
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        paths.add(prefix + name)
        for kind in (field.annotation, *getattr(field.annotation, "__args__", ())):
            inner = getattr(kind, "__args__", (kind,))[0] if getattr(kind, "__origin__", None) is list else kind
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                paths |= key_paths(inner, f"{prefix}{name}.")
    return paths


def yaml_paths(data: Any, prefix: str = "") -> set[str]:
    if isinstance(data, list):
        return set().union(*(yaml_paths(item, prefix) for item in data)) if data else set()
    if not isinstance(data, dict) or (prefix in {"environment.", "tags."}):
        return set()
    return {prefix + key for key in data} | set().union(*(yaml_paths(v, f"{prefix}{k}.") for k, v in data.items()))


def test_the_example_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert (config.instance_type, config.workers, config.max_concurrency) == ("ml.inf2.48xlarge", 12, 13)
    assert (config.container_startup_health_check_timeout_s, config.model_data_download_timeout_s) == (1800, 1200)


def test_the_example_documents_every_key() -> None:
    assert key_paths(DeployConfig) - yaml_paths(yaml.safe_load(EXAMPLE.read_text())) == set()


def test_defaults_for_a_minimal_config(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    minimal = {key: data[key] for key in ("name", "image_uri", "model_data_url", "execution_role_arn")}
    minimal["async_inference"] = {k: data["async_inference"][k] for k in ("input_path", "output_path", "failure_path")}
    (tmp_path / "min.yaml").write_text(yaml.safe_dump(minimal))
    config = load_config(tmp_path / "min.yaml")
    # workers_per_instance: the artifact's worker plan, read when deploying (tests/test_deploy_workers.py)
    assert (config.instance_type, config.workers_per_instance, config.initial_instance_count) == (
        "ml.inf2.48xlarge",
        None,
        1,
    )
    assert (config.region, config.autoscaling, config.registry) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"nmae": "x"}, ["nmae", "unknown key"]),
        ({"name": "has_underscore"}, ["name:", "letters, digits and hyphens", "has_underscore"]),
        ({"name": "n" * 55}, ["name:", "at most 54"]),
        ({"image_uri": "docker.io/library/nginx:1"}, ["image_uri:", "dkr.ecr"]),
        ({"model_data_url": "s3://example-sdxl-models/model.zip"}, ["model_data_url:", ".tar.gz"]),
        ({"execution_role_arn": "sdxl-role"}, ["execution_role_arn:", "arn:aws:iam::"]),
        ({"instance_type": "ml.g5.2xlarge", "workers_per_instance": None}, ["workers_per_instance:", "ml.g5.2xlarge"]),
        ({"initial_instance_count": 0}, ["initial_instance_count:", "greater than or equal to 1", "(got 0)"]),
        ({"container_startup_health_check_timeout_s": 7200}, ["container_startup_health_check_timeout_s:", "3600"]),
        ({"async_inference.output_path": "results/"}, ["async_inference.output_path:", "s3://bucket/prefix/"]),
        ({"async_inference.max_concurrent_invocations_per_instance": 0}, ["max_concurrent_invocations_per_instance:"]),
        ({"async_inference.kms_key_id": "alias/mine"}, ["async_inference.kms_key_id:", "key/<id>"]),
        ({"async_inference.notifications.success_topic": "bad topic"}, ["notifications.success_topic:"]),
        ({"async_inference.notifications": {"queue": "q"}}, ["async_inference.notifications.queue:", "topic"]),
        ({"autoscaling.policy": "cpu"}, ["autoscaling.policy:", "'usage-rate' or 'backlog'"]),
        ({"autoscaling.min_capacity": 5}, ["autoscaling.min_capacity:", "above max_capacity 4"]),
        ({"autoscaling.max_capacity": None}, ["autoscaling.max_capacity:", "required key is missing"]),
        ({"autoscaling.usage_rate.target_value": -1}, ["autoscaling.usage_rate.target_value:", "(got -1)"]),
        ({"autoscaling.schedules": [{"name": "x", "schedule": "8am"}]}, ["autoscaling.schedules[0].schedule:"]),
        ({"autoscaling.schedules": [{"name": "x", "schedule": "rate(1 day)"}]}, ["schedules[0].min_capacity:"]),
        ({"invoke.request_ttl_s": 30}, ["invoke.request_ttl_s:", "greater than or equal to 60"]),
        ({"environment": {"SDXL_WORKERS": 2}}, ["environment.SDXL_WORKERS:", "valid string"]),
    ],
    ids=lambda value: None if isinstance(value, list) else ",".join(value),
)
def test_each_error_is_one_line_naming_the_key(
    tmp_path: Path, capsys: Capsys, changes: dict[str, Any], words: list[str]
) -> None:
    path = write_config(tmp_path, **changes)
    line = assert_one_line_error(cli(capsys, "plan", str(path)), str(path), *words)
    assert len(line) < 300


def test_not_yaml(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    assert_one_line_error(cli(capsys, "plan", str(tmp_path / "bad.yaml")), "not valid YAML", "line")


def test_not_a_mapping(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert_one_line_error(cli(capsys, "plan", str(tmp_path / "list.yaml")), "expected a mapping")


def test_missing_file(tmp_path: Path, capsys: Capsys) -> None:
    assert_one_line_error(cli(capsys, "deploy", str(tmp_path / "nope.yaml")), "nope.yaml", "cannot read")
