"""The Lambda handler on Function URL (payload 2.0) and API Gateway REST (1.0) proxy events, in this
process against the moto server (moto's Lambda cannot invoke functions without Docker; the zip's own
import-and-run check is in test_gateway_package.py). In Lambda the demand counts go to stdout as EMF."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sdxl_inf2.core.cache.entry import pack
from sdxl_inf2.gateway.lambda_handler import handler, proxy_response, shared_gateway
from sdxl_inf2.gateway.routes import HttpResponse
from tests.aws import Aws
from tests.emf import datapoints, emf_documents_in, metric_sum
from tests.gateway_support import CACHE_BUCKET, CACHE_PREFIX, gateway_settings, new_gateway, publish_card

CAT = {"prompt": "a cat", "seed": 7}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
DIMENSIONS = {"EndpointName": "sdxl-inf2-prod", "VariantName": "blue"}


@pytest.fixture
def lambda_env(aws: Aws, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The function's environment as deploy writes it, inside a (pretend) Lambda execution environment."""
    publish_card(aws, tiny_model)
    for name, value in (
        gateway_settings(metrics_endpoint_name="sdxl-inf2-prod", metrics_variant_name="blue").environment().items()
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "sdxl-inf2-prod-gateway")
    shared_gateway.cache_clear()
    yield aws
    shared_gateway.cache_clear()


def url_event(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A Function URL event (payload format 2.0), trimmed to the fields the handler reads and a few it ignores."""
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws", **(headers or {})},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1"}, "stage": "$default"},
        "body": text,
        "isBase64Encoded": False,
    }


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = handler(event, None)
    assert answer["headers"]["Content-Type"] == "application/json" and answer["isBase64Encoded"] is False
    return answer["statusCode"], json.loads(answer["body"])


def test_a_miss_is_queued_and_its_status_read_back(lambda_env: Aws) -> None:
    status, body = call(url_event("POST", "/invocations", CAT, {"accept": "image/png"}))
    assert (status, body["status"], body["cache"]) == (202, "queued", "miss")
    assert body["output_location"].startswith("s3://") and lambda_env.async_invocations() == 1
    status, found = call(url_event("GET", f"/invocations/{body['inference_id']}"))
    assert (status, found["status"], found["output_location"]) == (200, "done", body["output_location"])


def test_a_hit_answers_with_the_images(lambda_env: Aws) -> None:
    _, key = new_gateway().read(json.dumps(CAT).encode(), None)
    assert key is not None
    lambda_env.client("s3").put_object(Bucket=CACHE_BUCKET, Key=CACHE_PREFIX + key, Body=pack([PNG]))
    status, body = call(url_event("POST", "/invocations", CAT))
    assert (status, body["status"], body["cache"], body["seed"]) == (200, "done", "hit", 7)
    assert base64.b64decode(body["images"][0]) == PNG and lambda_env.async_invocations() == 0


def test_an_api_gateway_rest_event_with_a_base64_body_and_a_stage(lambda_env: Aws) -> None:
    event = {
        "httpMethod": "POST",
        "path": "/prod/invocations",
        "headers": {"Content-Type": "application/json", "X-Amzn-SageMaker-Inference-Id": "rest-1"},
        "body": base64.b64encode(json.dumps(CAT).encode()).decode(),
        "isBase64Encoded": True,
    }
    status, body = call(event)
    assert (status, body["inference_id"]) == (202, "rest-1")


@pytest.mark.parametrize(
    ("event", "status", "kind", "field"),
    [
        (url_event("POST", "/invocations", "{not json"), 400, "validation_error", "(body)"),
        (url_event("POST", "/invocations", {"prompt": "a", "bogus": 1}), 400, "validation_error", "bogus"),
        (url_event("POST", "/invocations", CAT, {"content-type": "text/plain"}), 415, "unsupported_media_type", None),
        (
            url_event("POST", "/invocations", {**CAT, "num_images": 2}, {"accept": "image/png"}),
            406,
            "not_acceptable",
            None,
        ),
        (url_event("GET", "/invocations/no-such-id"), 404, "not_found", None),
        (url_event("GET", "/invocations"), 405, "method_not_allowed", None),
        (url_event("POST", "/elsewhere", CAT), 404, "not_found", None),
        (
            {**url_event("POST", "/invocations"), "body": "%%%", "isBase64Encoded": True},
            400,
            "validation_error",
            "(body)",
        ),
    ],
    ids=["bad-json", "unknown-field", "not-json", "raw-with-two-images", "unknown-id", "get-submit", "route", "base64"],
)
def test_errors_are_the_containers_json_shape(
    lambda_env: Aws, event: dict[str, Any], status: int, kind: str, field: str | None
) -> None:
    got, body = call(event)
    assert (got, body["error"]["type"], body["error"].get("field")) == (status, kind, field)
    assert "\n" not in body["error"]["message"] and lambda_env.async_invocations() == 0


def test_no_model_card_is_a_503_naming_the_prefix(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in gateway_settings().environment().items():
        monkeypatch.setenv(name, value)
    shared_gateway.cache_clear()
    status, body = call(url_event("POST", "/invocations", CAT))
    assert (status, body["error"]["type"]) == (503, "no_model_card")
    assert "s3://sdxl-cache/results/model-card.json" in body["error"]["message"]


def test_bad_settings_are_a_500_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SDXL_GATEWAY_ENDPOINT_NAME", raising=False)
    shared_gateway.cache_clear()
    status, body = call(url_event("POST", "/invocations", CAT))
    assert (status, body["error"]["type"]) == (500, "gateway_misconfigured")
    assert body["error"]["message"].startswith("SDXL_GATEWAY_ENDPOINT_NAME")


def test_demand_is_counted_on_stdout_as_emf(lambda_env: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    _, key = new_gateway().read(json.dumps(CAT).encode(), None)
    lambda_env.client("s3").put_object(Bucket=CACHE_BUCKET, Key=CACHE_PREFIX + str(key), Body=pack([PNG]))
    capsys.readouterr()
    bodies = [CAT, {"prompt": "a dog", "seed": 1}, {"prompt": "a dog", "seed": 1}, {"prompt": "no seed"}]
    caches = [call(url_event("POST", "/invocations", body))[1]["cache"] for body in bodies]
    call(url_event("POST", "/invocations", {"prompt": "x", "bogus": 1}))  # refused: not a request, not counted
    assert caches == ["hit", "miss", "coalesced", "off"]
    documents = emf_documents_in(capsys.readouterr().out)
    assert [d["cache"] for d in documents] == caches
    directive = documents[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "SdxlInf2" and directive["Dimensions"] == [["EndpointName", "VariantName"]]
    assert {m["Name"]: (m["Unit"], m["StorageResolution"]) for m in directive["Metrics"]} == {
        name: ("Count", 1)  # high resolution: the surge alarm reads them per 10 s
        for name in ("NumberOfInferenceRequests", "CacheHits", "CacheMisses", "CoalescedRequests")
    }
    points = datapoints(documents)
    sums = {name: metric_sum(points, name, DIMENSIONS) for name in ("NumberOfInferenceRequests", "CacheHits")}
    assert sums == {"NumberOfInferenceRequests": 4, "CacheHits": 1}
    assert (metric_sum(points, "CacheMisses", DIMENSIONS), metric_sum(points, "CoalescedRequests", DIMENSIONS)) == (
        3,
        1,
    )


def test_an_answer_over_lambdas_response_limit_is_a_clear_error() -> None:
    images = [base64.b64encode(b"x" * 2_500_000).decode()] * 2  # two 2.5 MB images: 6.7 MB of base64
    answer = proxy_response(HttpResponse(200, {"status": "done", "images": images}))
    error = json.loads(answer["body"])["error"]
    assert (answer["statusCode"], error["type"]) == (502, "response_too_large")
    assert "2 image(s)" in error["message"] and "output_format jpeg" in error["message"]
