"""`invoke` against moto: results and failures in S3, notifications on the queue, timeouts.

moto runs no container: its InvokeEndpointAsync writes the next queued result (or a default one)
to an output or failure location of its own and returns those locations, and it remembers them per
(endpoint, input location). Tests that need a particular object there invoke once themselves with
the input location `invoke` will use (fixed by --inference-id), then place or remove the object.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.aws import Aws, assert_one_line_error, cli, write_config

Capsys = pytest.CaptureFixture[str]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24  # the signature is what `invoke` looks at
INPUT_PREFIX = "s3://example-sdxl-data/sdxl-inf2-prod/requests"


def no_queue(tmp_path: Path) -> Path:
    return write_config(tmp_path, **{"async_inference.notifications": {}})


def invoke(capsys: Capsys, config: Path, *args: str) -> Any:
    return cli(capsys, "invoke", str(config), "--prompt", "a cat", "--out", str(config.parent / "out"), *args)


def locations_for(aws: Aws, inference_id: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """Invokes as `invoke` will for this id; moto then returns the same locations to it."""
    answer = aws.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName="sdxl-inf2-prod", InputLocation=f"{INPUT_PREFIX}/{inference_id}.json"
    )
    split = [loc.removeprefix("s3://").split("/", 1) for loc in (answer["OutputLocation"], answer["FailureLocation"])]
    return (split[0][0], split[0][1]), (split[1][0], split[1][1])


def test_json_result_is_saved_and_its_images_decoded(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    aws.queue_async_results({"data": json.dumps({"images": [base64.b64encode(PNG).decode()], "format": "png"})})
    run = invoke(capsys, no_queue(tmp_path), "--inference-id", "cat-1", "--accept", "application/json")
    assert run.code == 0, run.err
    saved = [Path(line) for line in run.out.split()]
    assert [p.name for p in saved] == ["cat-1.json", "cat-1-0.png"]
    assert saved[1].read_bytes() == PNG
    request = aws.client("s3").get_object(Bucket="example-sdxl-data", Key="sdxl-inf2-prod/requests/cat-1.json")
    assert json.loads(request["Body"].read()) == {"prompt": "a cat"}
    assert all(f"{phase} " in run.err for phase in ("upload", "submit", "wait", "download"))


def test_image_result_in_the_output_location(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    (bucket, key), _ = locations_for(aws, "cat-2")
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=PNG)
    run = invoke(capsys, no_queue(tmp_path), "--inference-id", "cat-2")
    assert run.code == 0, run.err
    assert Path(run.out.strip()).name == "cat-2.png"
    assert Path(run.out.strip()).read_bytes() == PNG


def test_failure_location_is_one_line_with_the_containers_message(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    error = {"error": {"type": "validation_error", "message": "height 640 was not compiled", "field": "height"}}
    aws.queue_async_results({"data": json.dumps(error), "is_failure": True})
    run = invoke(capsys, no_queue(tmp_path), "--inference-id", "cat-3")
    assert_one_line_error(run, "inference cat-3 failed", "validation_error: height 640 was not compiled", "s3://")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_timeout_names_where_the_result_will_appear(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    (bucket, key), _ = locations_for(aws, "cat-4")
    aws.client("s3").delete_object(Bucket=bucket, Key=key)  # nothing has arrived (yet)
    run = invoke(capsys, no_queue(tmp_path), "--inference-id", "cat-4", "--timeout", "0.3")
    assert_one_line_error(run, "no result for cat-4 after 0.3s", f"s3://{bucket}/{key}")


def test_no_wait_prints_the_output_location(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    (bucket, key), _ = locations_for(aws, "cat-5")
    run = invoke(capsys, no_queue(tmp_path), "--inference-id", "cat-5", "--no-wait")
    assert (run.code, run.out.strip()) == (0, f"s3://{bucket}/{key}")


def test_a_request_without_a_prompt_is_refused(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "req.json").write_text(json.dumps({"seed": 1}))
    run = cli(capsys, "invoke", str(no_queue(tmp_path)), "--request", str(tmp_path / "req.json"))
    assert_one_line_error(run, "no prompt")


def notify(aws: Aws, topic: str, message: dict[str, Any]) -> None:
    arn = f"arn:aws:sns:us-east-1:123456789012:{topic}"
    aws.client("sns").publish(TopicArn=arn, Message=json.dumps(message))


def result_note(inference_id: str, output: str) -> dict[str, Any]:
    """A success notification as SageMaker documents it."""
    return {
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
        "invocationStatus": "Completed",
        "inferenceId": inference_id,
        "responseParameters": {"contentType": "image/png", "outputLocation": output},
    }


def test_queue_notifications(aws: Aws, tmp_path: Path, capsys: Capsys) -> None:
    config = write_config(tmp_path)
    assert cli(capsys, "deploy", str(config)).code == 0  # creates the topics, the queue, the subscriptions
    (bucket, key), _ = locations_for(aws, "cat-6")
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=PNG)
    notify(aws, "sdxl-inf2-prod-success", {"eventSource": "aws:sagemaker", "eventName": "TestNotification"})
    notify(aws, "sdxl-inf2-prod-success", result_note("someone-else", "s3://elsewhere/x.out"))
    notify(aws, "sdxl-inf2-prod-success", result_note("cat-6", f"s3://{bucket}/{key}"))
    run = invoke(capsys, config, "--inference-id", "cat-6")
    assert run.code == 0, run.err
    assert Path(run.out.strip()).read_bytes() == PNG
    left = remaining_notes(aws)
    assert [note["inferenceId"] for note in left] == ["someone-else"]  # handed back; the test message is gone


def remaining_notes(aws: Aws) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="sdxl-inf2-prod-results")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]


def error_note(inference_id: str, status: str, reason: str) -> dict[str, Any]:
    """An error notification in the shape captured from AWS (docs/local-endpoint-fidelity.md)."""
    failure = f"s3://example-sdxl-data/sdxl-inf2-prod/failures/{inference_id}.out"
    return {
        "eventName": "InferenceResult",
        "invocationStatus": status,
        "inferenceId": inference_id,
        "failureReason": reason,
        "responseParameters": {"contentType": "application/json", "failureLocation": failure},
    }


@pytest.mark.parametrize(
    ("status", "reason", "words"),
    [
        ("Failed", "ClientError: Received server error (500) from model. See", "failed: ClientError: Received server"),
        ("Expired", "Request expired: it waited 61.0s in the queue", "expired: Request expired: it waited 61.0s"),
    ],
)
def test_queue_error_notification_is_one_line(
    aws: Aws, tmp_path: Path, capsys: Capsys, status: str, reason: str, words: str
) -> None:
    config = write_config(tmp_path)
    assert cli(capsys, "deploy", str(config)).code == 0
    locations_for(aws, "cat-7")
    notify(aws, "sdxl-inf2-prod-error", error_note("cat-7", status, reason))
    run = invoke(capsys, config, "--inference-id", "cat-7")
    assert_one_line_error(run, f"inference cat-7 {words}", "failures/cat-7.out")
