"""Workers per instance from the artifact: `package --upload` puts the worker plan file beside the
archive, and deploy, autoscale, plan, cost and simulate count with it (moto on loopback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdxl_inf2.compile.describe import write_folder_manifest
from sdxl_inf2.compile.package import package
from sdxl_inf2.compile.upload import upload, upload_plan
from sdxl_inf2.core.manifest import Defaults
from tests.aws import Aws, assert_one_line_error, cli, write_config
from tests.neuron_layout import make_neuron_artifact
from tests.test_package import run_package

Capsys = pytest.CaptureFixture[str]
ARCHIVE = "s3://example-sdxl-models/sdxl-inf2/1024x1024/model.tar.gz"  # the example config's model_data_url
PLAN = "s3://example-sdxl-models/sdxl-inf2/1024x1024/model.workers.json"
LIGHTNING = Defaults(num_inference_steps=4, guidance_scale=0.0, scheduler="euler_trailing")
BASE = Defaults(num_inference_steps=30, guidance_scale=5.0, scheduler="euler")
UNSET = {"workers_per_instance": None, "async_inference.max_concurrent_invocations_per_instance": None}


def packaged(tiny_model: Path, out: Path, defaults: Defaults) -> tuple[Path, Path, str]:
    """(archive, plan file, sha256) of a compiled-layout artifact with these defaults."""
    folder = make_neuron_artifact(tiny_model, out / "artifact")
    write_folder_manifest(folder, {"model_id": "stabilityai/stable-diffusion-xl-base-1.0", "revision": None}, defaults)
    result = package(folder, out / "model.tar.gz", progress=False)
    assert result.plan_path is not None and result.plan_path.name == "model.workers.json"
    return result.path, result.plan_path, result.sha256


def uploaded(tiny_model: Path, tmp_path: Path, defaults: Defaults) -> None:
    archive, plan, sha256 = packaged(tiny_model, tmp_path / "pkg", defaults)
    assert upload(archive, ARCHIVE, sha256, progress=False) == ARCHIVE
    assert upload_plan(plan, ARCHIVE) == PLAN


def concurrency(aws: Aws, release: str) -> int:
    described = aws.client("sagemaker").describe_endpoint_config(EndpointConfigName=release)
    return int(described["AsyncInferenceConfig"]["ClientConfig"]["MaxConcurrentInvocationsPerInstance"])


def usage_rate(aws: Aws) -> str:
    found = aws.client("application-autoscaling").describe_scaling_policies(ServiceNamespace="sagemaker")
    [policy] = [p for p in found["ScalingPolicies"] if p["PolicyName"].endswith("-usage-rate")]
    return str(
        policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]["Metrics"][2]["Expression"]
    )


def test_package_upload_puts_the_plan_beside_the_archive(aws: Aws, tiny_model: Path, tmp_path: Path) -> None:
    folder = make_neuron_artifact(tiny_model, tmp_path / "artifact")
    write_folder_manifest(folder, {"model_id": "x", "revision": None}, LIGHTNING)
    result = run_package(
        str(folder), "--out", str(tmp_path / "model.tar.gz"), "--upload", "s3://example-sdxl-models/m/", "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    assert "ml.inf2.48xlarge 24 (default 1 NeuronCore(s) a worker)" in result.stdout
    assert "uploaded: s3://example-sdxl-models/m/model.workers.json (the worker plan deploy reads)" in result.stdout
    body = aws.client("s3").get_object(Bucket="example-sdxl-models", Key="m/model.workers.json")["Body"].read()
    assert json.loads(body) == json.loads((tmp_path / "model.workers.json").read_text())
    [variant] = json.loads(body)["variants"]
    assert (variant["name"], variant["guidance_scale"], variant["compiled"]["cores"]) == ("default", 0.0, 1)


def test_a_guidance_free_artifact_counts_one_worker_per_core(
    aws: Aws, tiny_model: Path, tmp_path: Path, capsys: Capsys
) -> None:
    uploaded(tiny_model, tmp_path, LIGHTNING)
    config = str(write_config(tmp_path, **UNSET))
    run = cli(capsys, "deploy", config)
    assert run.code == 0, run.err
    assert concurrency(aws, run.out.strip()) == 25  # 24 workers + 1
    assert cli(capsys, "status", config).code == 0  # its usage rate reads the same capacity
    assert usage_rate(aws) == "IF(m1 != 0, m2 / (m1 * 60 / 10 * 24))"
    assert f"workers per instance: 24 on ml.inf2.48xlarge (default: 24 x 1 NeuronCore(s); {PLAN})" in run.err
    board = aws.client("cloudwatch").get_dashboard(DashboardName="sdxl-inf2-prod-us-east-1")["DashboardBody"]
    assert "in service * 24 workers" in board


def test_a_cfg_artifact_and_the_container_environment(
    aws: Aws, tiny_model: Path, tmp_path: Path, capsys: Capsys
) -> None:
    uploaded(tiny_model, tmp_path, BASE)
    run = cli(capsys, "deploy", str(write_config(tmp_path, **UNSET)))
    assert run.code == 0 and concurrency(aws, run.out.strip()) == 13  # one worker per chip
    uploaded(tiny_model, tmp_path / "again", LIGHTNING)
    two_cores = {**UNSET, "environment": {"SDXL_CORES_PER_WORKER": "2"}}  # what the container will run, too
    assert "workers per instance: 12" in cli(capsys, "plan", str(write_config(tmp_path, **two_cores))).err


def test_a_config_that_contradicts_the_artifact_is_refused(
    aws: Aws, tiny_model: Path, tmp_path: Path, capsys: Capsys
) -> None:
    uploaded(tiny_model, tmp_path, LIGHTNING)
    run = cli(capsys, "deploy", str(write_config(tmp_path)))  # the example says 12
    assert_one_line_error(run, "workers_per_instance: 12, but the artifact's worker plan", "runs 24 workers", "set 24")
    autoscale = cli(capsys, "autoscale", str(write_config(tmp_path)))
    assert_one_line_error(autoscale, "workers_per_instance: 12")
    uploaded(tiny_model, tmp_path / "base", BASE)
    one_core = cli(capsys, "deploy", str(write_config(tmp_path, environment={"SDXL_CORES_PER_WORKER": "1"})))
    assert_one_line_error(one_core, "environment:", "SDXL_CORES_PER_WORKER=1: variant 'default'", "compiled at batch 1")


def test_without_a_plan_file(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    run = cli(capsys, "deploy", str(write_config(tmp_path, **UNSET)))
    assert_one_line_error(run, "workers_per_instance: not set", f"{PLAN} does not exist", "package DIR --upload")
    given = cli(capsys, "deploy", str(write_config(tmp_path)))  # workers_per_instance: 12, as given
    assert given.code == 0, given.err
    assert f"workers_per_instance 12: not checked against the artifact ({PLAN} does not exist)" in given.err


def test_a_plan_left_from_another_archive_is_refused(
    aws: Aws, tiny_model: Path, tmp_path: Path, capsys: Capsys
) -> None:
    uploaded(tiny_model, tmp_path, LIGHTNING)
    other, _, sha256 = packaged(tiny_model, tmp_path / "other", BASE)
    upload(other, ARCHIVE, sha256, progress=False)  # the archive replaced, its plan not
    run = cli(capsys, "deploy", str(write_config(tmp_path, **UNSET)))
    assert_one_line_error(run, f"model_data_url: {PLAN} belongs to another archive", "package DIR --upload")


def test_plan_cost_and_simulate_read_the_artifact(aws: Aws, tiny_model: Path, tmp_path: Path, capsys: Capsys) -> None:
    uploaded(tiny_model, tmp_path, LIGHTNING)
    config = str(write_config(tmp_path, **UNSET))
    shown = cli(capsys, "plan", config)
    assert shown.code == 0 and '"MaxConcurrentInvocationsPerInstance": 25' in shown.out
    cost = cli(capsys, "cost", "--config", config, "--json")
    assert cost.code == 0 and json.loads(cost.out)["workers"] == 24
    figures = tmp_path / "sim.json"
    simulated = cli(capsys, "simulate", config, "--trace", "steady:1:2", "--policy", "none", "--json", str(figures))
    assert simulated.code == 0, simulated.err
    fleet = json.loads(figures.read_text())["inputs"]["fleet"]
    assert (fleet["workers"], fleet["max_concurrency"]) == (24, 25)
