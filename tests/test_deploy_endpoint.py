"""`deploy`, `plan`, `status` and `teardown` against a real moto server."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdxl_inf2.deploy.config import load_config
from sdxl_inf2.deploy.plan import deploy_calls
from tests.aws import REGION, Aws, ConnectionCounter, assert_one_line_error, cli, write_config
from tests.test_deploy_workers import BASE, uploaded

Capsys = pytest.CaptureFixture[str]


def deploy(capsys: Capsys, config: Path) -> str:
    run = cli(capsys, "deploy", str(config))
    assert run.code == 0, run.err
    return run.out.strip()


def test_deploy_creates_everything_with_the_configured_fields(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    config = write_config(tmp_path)
    release = deploy(capsys, config)
    sm = aws.client("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName="sdxl-inf2-prod")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", release)
    model = sm.describe_model(ModelName=release)
    assert model["PrimaryContainer"]["Image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/sdxl-inf2:0.1.0"
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("/1024x1024/model.tar.gz")
    assert model["ExecutionRoleArn"] == "arn:aws:iam::123456789012:role/sdxl-inf2-endpoint"
    variant = sm.describe_endpoint_config(EndpointConfigName=release)["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.inf2.48xlarge"
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 1800
    assert variant["ModelDataDownloadTimeoutInSeconds"] == 1200
    assert (variant["ModelName"], variant["InitialInstanceCount"]) == (release, 1)


def test_async_inference_config_is_complete(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    release = deploy(capsys, write_config(tmp_path))
    described = aws.client("sagemaker").describe_endpoint_config(EndpointConfigName=release)
    assert described["AsyncInferenceConfig"] == {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 13},
        "OutputConfig": {
            "S3OutputPath": "s3://example-sdxl-data/sdxl-inf2-prod/results/",
            "S3FailurePath": "s3://example-sdxl-data/sdxl-inf2-prod/failures/",
            "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "NotificationConfig": {
                "SuccessTopic": "arn:aws:sns:us-east-1:123456789012:sdxl-inf2-prod-success",
                "ErrorTopic": "arn:aws:sns:us-east-1:123456789012:sdxl-inf2-prod-error",
            },
        },
    }


def test_concurrency_defaults_to_one_more_than_the_workers(
    aws: Aws, tiny_model: Path, tmp_path: Path, capsys: Capsys
) -> None:
    uploaded(tiny_model, tmp_path, BASE)  # a CFG artifact's worker plan: one worker per chip, 6 on a 24xlarge
    config = write_config(
        tmp_path,
        instance_type="ml.inf2.24xlarge",
        workers_per_instance=None,
        **{"async_inference.max_concurrent_invocations_per_instance": None},
    )
    release = deploy(capsys, config)
    described = aws.client("sagemaker").describe_endpoint_config(EndpointConfigName=release)
    assert described["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 7}


def test_topics_and_queue_are_created_and_subscribed(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    deploy(capsys, write_config(tmp_path))
    topics = sorted(t["TopicArn"].rsplit(":", 1)[1] for t in aws.client("sns").list_topics()["Topics"])
    assert topics == ["sdxl-inf2-prod-error", "sdxl-inf2-prod-success"]
    subscriptions = aws.client("sns").list_subscriptions()["Subscriptions"]
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:sdxl-inf2-prod-results"
    assert sorted(s["TopicArn"].rsplit(":", 1)[1] for s in subscriptions if s["Endpoint"] == queue_arn) == topics


def inventory(aws: Aws) -> dict[str, int]:
    sm, aas = aws.client("sagemaker"), aws.client("application-autoscaling")
    return {
        "models": len(sm.list_models()["Models"]),
        "endpoint configs": len(sm.list_endpoint_configs()["EndpointConfigs"]),
        "endpoints": len(sm.list_endpoints()["Endpoints"]),
        "topics": len(aws.client("sns").list_topics()["Topics"]),
        "subscriptions": len(aws.client("sns").list_subscriptions()["Subscriptions"]),
        "queues": len(aws.client("sqs").list_queues().get("QueueUrls", [])),
        "targets": len(aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]),
        "policies": len(aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]),
        "schedules": len(aas.describe_scheduled_actions(ServiceNamespace="sagemaker")["ScheduledActions"]),
        "alarms": len(aws.client("cloudwatch").describe_alarms()["MetricAlarms"]),
        "dashboards": len(aws.client("cloudwatch").list_dashboards()["DashboardEntries"]),
    }


def test_deploy_twice_duplicates_nothing(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    config = write_config(tmp_path)
    first = deploy(capsys, config)
    after_first = inventory(aws)
    run = cli(capsys, "deploy", str(config))
    assert (run.code, run.out.strip()) == (0, first)
    assert inventory(aws) == after_first
    assert after_first == {
        "models": 1,
        "endpoint configs": 1,
        "endpoints": 1,
        "topics": 2,
        "subscriptions": 2,
        "queues": 1,
        "targets": 1,
        "policies": 2,
        "schedules": 2,
        "alarms": 1,
        "dashboards": 1,
    }
    assert f"model {first}: exists" in run.err and "endpoint sdxl-inf2-prod: unchanged" in run.err


def test_a_changed_config_is_a_new_release_and_an_update(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    first = deploy(capsys, write_config(tmp_path))
    new_image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sdxl-inf2:0.2.0"
    run = cli(capsys, "deploy", str(write_config(tmp_path, image_uri=new_image)))
    # moto has no UpdateEndpoint (it answers 500): the new release exists, the endpoint is untouched,
    # and the failure is one line naming the call.
    assert_one_line_error(run, "UpdateEndpoint")
    sm = aws.client("sagemaker")
    names = sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"])
    assert len(names) == 2 and first in names
    assert len(sm.list_models()["Models"]) == 2
    assert sm.describe_endpoint(EndpointName="sdxl-inf2-prod")["EndpointConfigName"] == first


def test_an_instance_type_change_frees_the_scaling_target_and_restores_it_if_refused(
    aws: Aws, tmp_path: Path, capsys: Capsys
) -> None:
    deploy(capsys, write_config(tmp_path))
    changes = {"instance_type": "ml.inf2.24xlarge", "workers_per_instance": 6}
    run = cli(capsys, "deploy", str(write_config(tmp_path, **changes)))
    assert_one_line_error(run, "UpdateEndpoint")  # moto: not implemented
    assert "scalable target endpoint/sdxl-inf2-prod/variant/AllTraffic: deregistered" in run.err
    assert inventory(aws)["targets"] == 1 and inventory(aws)["policies"] == 2 and inventory(aws)["alarms"] == 1


def test_no_wait_leaves_autoscaling_for_later(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    run = cli(capsys, "deploy", str(write_config(tmp_path)), "--no-wait")
    assert run.code == 0, run.err
    assert "run `sdxl-inf2 autoscale` once sdxl-inf2-prod is InService" in run.err
    assert inventory(aws)["endpoints"] == 1 and inventory(aws)["targets"] == 0


def test_plan_makes_no_call(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    listener = ConnectionCounter()
    monkeypatch.setenv("AWS_ENDPOINT_URL", listener.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        run = cli(capsys, "plan", str(write_config(tmp_path)))
        assert listener.connections() == 0
    finally:
        listener.close()
    assert run.code == 0, run.err
    steps = [line for line in run.out.splitlines() if line[:1].isdigit()]
    assert steps[5:9] == [
        "6. sagemaker create_model",
        "7. sagemaker create_endpoint_config",
        "8. sagemaker create_endpoint",
        "9. application-autoscaling register_scalable_target",
    ]
    assert steps[-1] == "15. cloudwatch put_dashboard"


def test_what_deploy_creates_is_what_plan_shows(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    path = write_config(tmp_path)
    deploy(capsys, path)
    sm = aws.client("sagemaker")
    for call in deploy_calls(load_config(path), REGION):
        if call.operation == "create_model":
            described = sm.describe_model(ModelName=call.params["ModelName"])
            assert described["PrimaryContainer"] == call.params["PrimaryContainer"]
        if call.operation == "create_endpoint_config":
            described = sm.describe_endpoint_config(EndpointConfigName=call.params["EndpointConfigName"])
            assert described["ProductionVariants"][0].items() >= call.params["ProductionVariants"][0].items()


def test_status_reports_endpoint_and_scaling(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    config = write_config(tmp_path)
    release = deploy(capsys, config)
    run = cli(capsys, "status", str(config))
    assert run.code == 0, run.err
    assert f"release: {release}" in run.out
    assert "endpoint sdxl-inf2-prod: InService" in run.out
    assert "autoscaling: min 0, max 4" in run.out
    assert "ApproximateBacklogSize: no data" in run.out
    assert "schedule sdxl-inf2-prod-weekday-morning: cron(0 8 ? * MON-FRI *) (Europe/London)" in run.out


def test_status_of_nothing_is_one_line(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    assert_one_line_error(cli(capsys, "status", str(write_config(tmp_path))), "sdxl-inf2-prod does not exist")


def test_teardown_leaves_nothing_but_data(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    config = write_config(tmp_path)
    deploy(capsys, config)
    cli(capsys, "deploy", str(write_config(tmp_path, **{"environment": {"SDXL_LOG_LEVEL": "debug"}})))  # 2nd release
    aws.client("s3").put_object(Bucket="example-sdxl-data", Key="sdxl-inf2-prod/results/a.out", Body=b"x")
    run = cli(capsys, "teardown", str(config))
    assert run.code == 0, run.err
    assert set(inventory(aws).values()) == {0}
    assert aws.client("s3").list_objects_v2(Bucket="example-sdxl-data")["KeyCount"] == 1


def test_teardown_delete_data_empties_the_prefixes(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    config = write_config(tmp_path)
    s3 = aws.client("s3")
    for key in ("sdxl-inf2-prod/results/a.out", "sdxl-inf2-prod/requests/a.json", "elsewhere/keep.txt"):
        s3.put_object(Bucket="example-sdxl-data", Key=key, Body=b"x")
    assert cli(capsys, "teardown", str(config), "--delete-data").code == 0
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="example-sdxl-data")["Contents"]] == ["elsewhere/keep.txt"]


def test_given_topic_arns_are_used_and_kept(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    given = aws.client("sns").create_topic(Name="shared-results")["TopicArn"]
    changes = {"async_inference.notifications": {"success_topic": given, "error_topic": given}}
    config = write_config(tmp_path, **changes)
    release = deploy(capsys, config)
    output = aws.client("sagemaker").describe_endpoint_config(EndpointConfigName=release)["AsyncInferenceConfig"]
    assert output["OutputConfig"]["NotificationConfig"] == {"SuccessTopic": given, "ErrorTopic": given}
    assert cli(capsys, "teardown", str(config)).code == 0
    assert [t["TopicArn"] for t in aws.client("sns").list_topics()["Topics"]] == [given]
