"""`sdxl-inf2 local-endpoint` end to end, driven only through boto3 (s3, sagemaker-runtime, sqs, ...).

One stack for most tests: 2 real `serve` instances of the tiny model folder, each with 2 workers of
a fake backend whose prompt sets the time taken ("sleep 2"), MaxConcurrentInvocationsPerInstance
2, metrics every second. Its last test stops it with SIGTERM and checks nothing is left running.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.aws import cli, write_config
from tests.local_stack import LocalStack, boto3_pointed_at, max_in_flight

Capsys = pytest.CaptureFixture[str]
ENDPOINT = "sdxl-inf2-prod"
DATA = "example-sdxl-data"
INPUTS = f"s3://{DATA}/sdxl-inf2-prod/requests"
CONTAINER = {
    "SDXL_BACKEND": "tests.fakes.sleeps:Backend",
    "SDXL_WORKERS": "2",
    "FAKE_GENERATE_S": "0.1",
    "SDXL_LOG_LEVEL": "info",  # the request log shows what reached the container
    "SDXL_RESTART_BACKOFF_S": "0.2",
}
STACK = {
    "environment": CONTAINER,
    "workers_per_instance": 2,
    "async_inference.max_concurrent_invocations_per_instance": 2,
}


@pytest.fixture(scope="module")
def stack(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("local-endpoint")
    running = LocalStack(write_config(folder, **STACK), tiny_model, folder, "--instances", "2", "--metrics-period", "1")
    try:
        with boto3_pointed_at(running.wait_ready(), folder):
            yield running
    finally:
        running.close()


def client(service: str, **config: Any) -> Any:
    return boto3.client(service, config=Config(**config)) if config else boto3.client(service)  # type: ignore[call-overload]


def submit(body: dict[str, Any] | bytes, inference_id: str | None = None, **params: Any) -> dict[str, Any]:
    """Upload the body, then InvokeEndpointAsync as any client would."""
    inference_id = inference_id or uuid.uuid4().hex
    key = f"sdxl-inf2-prod/requests/{inference_id}.json"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    client("s3").put_object(Bucket=DATA, Key=key, Body=data)
    runtime = params.pop("runtime", None) or client("sagemaker-runtime")
    return dict(
        runtime.invoke_endpoint_async(
            EndpointName=ENDPOINT,
            InputLocation=f"s3://{DATA}/{key}",
            ContentType="application/json",
            InferenceId=inference_id,
            **params,
        )
    )


def s3_object(location: str) -> dict[str, Any] | None:
    bucket, key = location.removeprefix("s3://").split("/", 1)
    try:
        found = client("s3").get_object(Bucket=bucket, Key=key)
    except ClientError:
        return None
    return {"body": found["Body"].read(), "content_type": found["ContentType"]}


def notifications(ids: set[str], timeout: float = 30.0, duplicates: bool = False) -> dict[str, list[dict[str, Any]]]:
    """SageMaker's messages on the results queue for these inference ids (others are handed back);
    with `duplicates`, it also waits a little for any second message per id."""
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName="sdxl-inf2-prod-results")["QueueUrl"]
    found: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sum(map(len, found.values())) < len(ids):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            note = json.loads(json.loads(message["Body"])["Message"])
            if note.get("inferenceId") in ids:
                found.setdefault(note["inferenceId"], []).append(note)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    if not duplicates:
        return found
    time.sleep(0.5)  # a second message for any id would have arrived by now
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        note = json.loads(json.loads(message["Body"])["Message"])
        if note.get("inferenceId") in ids:
            found.setdefault(note["inferenceId"], []).append(note)
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return found


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def count(stack: LocalStack, text: str) -> int:
    return sum(text in line for line in stack.output())


def test_start_prints_the_environment_and_deploys_for_real(stack: LocalStack) -> None:
    output = stack.output()
    ready = output.index("ready")
    assert output[ready - 1] == f"endpoint {ENDPOINT}"
    assert stack.environment()["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == f"http://127.0.0.1:{stack.port}"
    assert stack.environment()["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    sm = client("sagemaker")
    release = sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    described = sm.describe_endpoint_config(EndpointConfigName=release)
    assert described["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 2}
    assert described["ProductionVariants"][0]["InstanceType"] == "ml.inf2.48xlarge"
    assert sum(" ready after " in line for line in output[:ready]) == 2
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName="sdxl-inf2-prod-results")["QueueUrl"]
    bodies = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    notes = [json.loads(json.loads(m["Body"])["Message"]) for m in bodies]
    assert [n["eventName"] for n in notes] == ["TestNotification", "TestNotification"]  # one per topic
    for message in bodies:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_hundred_requests_survive_an_instance_killed_while_it_holds_some(stack: LocalStack) -> None:
    answers = {}
    for index in range(100):  # 0.25 s each: 16/s through 4 slots, slower than they arrive, so a backlog builds
        answer = submit({"prompt": f"sleep 0.25 cat {index}", "seed": index, "height": 64, "width": 64})
        answers[answer["InferenceId"]] = answer
    wait_until(lambda: count(stack, "completed on instance 1") >= 5)
    os.killpg(stack.instance_pid(1), signal.SIGKILL)
    stack.wait_finished(list(answers), timeout=90)

    ids = set(answers)
    for inference_id, answer in answers.items():
        output, failure = s3_object(answer["OutputLocation"]), s3_object(answer["FailureLocation"])
        assert (output is None) != (failure is None), inference_id  # exactly one of the two
        assert output is not None and output["body"].startswith(b"\x89PNG"), stack.events(inference_id)
    requeued = [i for i in ids if "requeued" in stack.events(i)]
    assert requeued, "the killed instance held no request"
    assert all(stack.events(i)[-1] == "completed" and stack.events(i).count("dispatched") == 2 for i in requeued)
    notes = notifications(ids, duplicates=True)
    assert {i: len(n) for i, n in notes.items()} == dict.fromkeys(ids, 1)
    assert {n[0]["invocationStatus"] for n in notes.values()} == {"Completed"}
    assert any("instance 1 exited with status -9: replacing it" in line for line in stack.output())
    wait_until(lambda: count(stack, "instance 1 ready after") == 2)  # the replacement
    assert set(max_in_flight(stack.output()).values()) == {2}  # MaxConcurrentInvocationsPerInstance, reached


def test_a_success_notification_is_sagemakers_message(stack: LocalStack) -> None:
    answer = submit({"prompt": "a dog", "seed": 7}, CustomAttributes="trace=1", Accept="image/png")
    note = notifications({answer["InferenceId"]})[answer["InferenceId"]][0]
    assert note["eventName"] == "InferenceResult" and note["eventSource"] == "aws:sagemaker"
    assert note["invocationStatus"] == "Completed"
    assert note["requestParameters"] == {  # accept and customAttributes: given, so echoed (captured messages)
        "endpointName": ENDPOINT,
        "contentType": "application/json",
        "accept": "image/png",
        "customAttributes": "trace=1",
        "inputLocation": f"{INPUTS}/{answer['InferenceId']}.json",
    }
    assert note["responseParameters"] == {"contentType": "image/png", "outputLocation": answer["OutputLocation"]}
    assert note["receivedTime"] <= note["eventTime"] and note["awsRegion"] == "us-east-1"
    assert answer["OutputLocation"] == f"s3://{DATA}/sdxl-inf2-prod/results/{answer['InferenceId']}.out"
    [entry] = stack.request_logs(answer["InferenceId"])  # the id and the custom attributes reached the container
    assert (entry["status"], entry["custom_attributes"]) == (200, "trace=1")


@pytest.mark.parametrize(("accept", "fields"), [("image/png", {}), ("image/jpeg", {"output_format": "jpeg"})])
def test_seeded_requests_give_the_bytes_of_a_direct_invocation(
    stack: LocalStack, accept: str, fields: dict[str, Any]
) -> None:
    body = {"prompt": "a photo of a cat", "seed": 42, "height": 64, "width": 96, **fields}
    answer = submit(body, Accept=accept)
    stack.wait_finished([answer["InferenceId"]])
    direct = requests.post(f"{stack.instance_url(0)}/invocations", json=body, headers={"Accept": accept}, timeout=30)
    stored = s3_object(answer["OutputLocation"])
    assert direct.status_code == 200 and stored is not None
    assert stored["body"] == direct.content
    assert stored["content_type"] == direct.headers["Content-Type"] == accept


def test_a_bad_request_ends_in_the_failure_path_with_the_containers_message(stack: LocalStack) -> None:
    answer = submit({"prompt": "a cat", "height": 640})
    note = notifications({answer["InferenceId"]})[answer["InferenceId"]][0]
    failure = s3_object(answer["FailureLocation"])
    assert failure is not None and s3_object(answer["OutputLocation"]) is None
    error = json.loads(failure["body"])["error"]
    assert (error["type"], error["field"]) == ("validation_error", "height")
    assert note["invocationStatus"] == "Failed" and "failureLocation" not in note  # not at the top: AWS's shape
    assert note["responseParameters"] == {
        "contentType": "application/json",
        "failureLocation": answer["FailureLocation"],
    }
    assert note["failureReason"] == (  # word for word what AWS's notifications say; the message is in the object
        "ClientError: Received client error (400) from model. "
        "See the SageMaker Endpoint logs in your account for more information."
    )
    assert answer["FailureLocation"] == f"s3://{DATA}/sdxl-inf2-prod/failures/{answer['InferenceId']}-error.out"
    logged = next(line for line in stack.output() if f"{answer['InferenceId']} failed" in line)
    assert 'Received client error (400) from primary with message "{' in logged and error["message"] in logged


def test_invocation_timeout_expires_the_request(stack: LocalStack) -> None:
    answer = submit({"prompt": "sleep 4"}, InvocationTimeoutSeconds=1)
    started = time.monotonic()
    note = notifications({answer["InferenceId"]})[answer["InferenceId"]][0]
    assert time.monotonic() - started < 4  # expired at the timeout, not when the container finished
    assert note["invocationStatus"] == "Expired"  # botocore: past InvocationTimeoutSeconds "is marked as expired"
    assert "Your invocation timed out while waiting for a response from container primary" in note["failureReason"]
    failure = s3_object(answer["FailureLocation"])
    assert failure is not None and b"InvocationTimeoutSeconds 1" in failure["body"]
    assert note["responseParameters"] == {"contentType": "text/plain", "failureLocation": answer["FailureLocation"]}
    assert stack.events(answer["InferenceId"])[-1] == "expired"


def sdk_style_submit(body: dict[str, Any]) -> dict[str, Any]:
    """As the SageMaker Python SDK's AsyncPredictor(Predictor(..., serializer=JSONSerializer())).predict
    calls it (sagemaker 2.257): the JSON uploaded with its S3 content type, then InvokeEndpointAsync
    with InputLocation, EndpointName and Accept only, no ContentType."""
    key = f"sdxl-inf2-prod/requests/sdk-{uuid.uuid4().hex}"
    client("s3").put_object(Bucket=DATA, Key=key, Body=json.dumps(body).encode(), ContentType="application/json")
    answer = client("sagemaker-runtime").invoke_endpoint_async(
        InputLocation=f"s3://{DATA}/{key}", EndpointName=ENDPOINT, Accept="*/*"
    )
    return dict(answer)


def test_the_python_sdks_async_call_without_content_type_is_served(stack: LocalStack) -> None:
    good, bad = sdk_style_submit({"prompt": "a cat", "seed": 5}), sdk_style_submit({"prompt": "a cat", "width": 640})
    notes = notifications({good["InferenceId"], bad["InferenceId"]})
    assert notes[good["InferenceId"]][0]["invocationStatus"] == "Completed"
    assert "contentType" not in notes[good["InferenceId"]][0]["requestParameters"]  # none was given
    stored = s3_object(good["OutputLocation"])
    assert stored is not None and stored["body"].startswith(b"\x89PNG") and stored["content_type"] == "image/png"
    assert notes[bad["InferenceId"]][0]["invocationStatus"] == "Failed"
    failure = s3_object(bad["FailureLocation"])
    assert failure is not None and json.loads(failure["body"])["error"]["field"] == "width"  # our JSON error


def test_output_path_extension_and_filename(stack: LocalStack) -> None:
    answer = submit({"prompt": "a cat"}, S3OutputPathExtension="batch-7", Filename="cat.png")
    assert answer["OutputLocation"] == f"s3://{DATA}/sdxl-inf2-prod/results/batch-7/cat.png"
    stack.wait_finished([answer["InferenceId"]])
    assert s3_object(answer["OutputLocation"]) is not None


def test_runtime_errors_are_what_botocore_parses(stack: LocalStack) -> None:
    runtime = client("sagemaker-runtime")
    unchecked = client("sagemaker-runtime", parameter_validation=False)
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: runtime.invoke_endpoint_async(EndpointName="nope", InputLocation=f"{INPUTS}/x"), "nope of account"),
        (lambda: unchecked.invoke_endpoint_async(EndpointName=ENDPOINT), "InputLocation or an inline Body"),
        (lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}"), "call InvokeEndpointAsync"),
        (
            lambda: unchecked.invoke_endpoint_async(
                EndpointName=ENDPOINT, InputLocation=f"{INPUTS}/x", RequestTTLSeconds=30
            ),
            "Value '30' at 'requestTTLSeconds' failed to satisfy constraint: Member must have value greater than",
        ),
        (lambda: unchecked.invoke_endpoint_async(EndpointName=ENDPOINT, InputLocation="x"), "at 'inputLocation'"),
    ]
    for call, words in cases:
        with pytest.raises(ClientError) as caught:
            call()
        error = caught.value.response["Error"]
        assert (error["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("ValidationError", 400)
        assert words in error["Message"], error["Message"]


def test_invoke_cli_waits_on_the_queue_and_on_s3(stack: LocalStack, tmp_path: Path, capsys: Capsys) -> None:
    with_queue = write_config(tmp_path, **STACK)
    (tmp_path / "s3").mkdir()
    without_queue = write_config(tmp_path / "s3", **STACK, **{"async_inference.notifications": {}})
    for config, name in ((with_queue, "queued"), (without_queue, "polled")):
        out = tmp_path / f"out-{name}"
        run = cli(capsys, "invoke", str(config), "--prompt", "a cat", "--inference-id", name, "--out", str(out))
        assert run.code == 0, run.err
        saved = Path(run.out.strip())
        assert saved.name == f"{name}.png"
        stored = s3_object(f"s3://{DATA}/sdxl-inf2-prod/results/{name}.out")
        assert stored is not None and saved.read_bytes() == stored["body"]


def test_status_shows_the_backlog_and_the_usage_rate(stack: LocalStack, tmp_path: Path, capsys: Capsys) -> None:
    stack.wait_finished([submit({"prompt": "a cat"})["InferenceId"]])
    time.sleep(2.5)  # two metric periods
    run = cli(capsys, "status", str(write_config(tmp_path, **STACK)))
    assert run.code == 0, run.err
    assert re.search(r"ApproximateBacklogSize: \d", run.out), run.out
    assert "HasBacklogWithoutCapacity: 0" in run.out
    found = re.search(r"usage rate .*\n  (\S+) at \d\d:\d\d UTC \(m1 (\S+), m2 ([^;]+);", run.out)
    assert found is not None, run.out
    rate, instances = float(found[1]), float(found[2])
    requests_made = 0.0 if found[3] == "no data" else float(found[3])  # a new minute may have no request yet
    assert instances >= 1
    assert rate == pytest.approx(requests_made / (instances * 60 / 10 * 2), rel=1e-3)  # 10 s per image, 2 workers


def test_sigterm_stops_everything_it_started(stack: LocalStack) -> None:
    tree = stack.process_tree()
    assert len(tree) >= 1 + 2 * 4  # itself; per instance: master, front, two workers
    moto = stack.environment()["AWS_ENDPOINT_URL"]
    assert stack.stop(signal.SIGTERM, timeout=40) == 0
    _, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive, alive
    for url in (moto, f"http://127.0.0.1:{stack.port}"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)
