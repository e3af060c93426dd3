"""The gateway library on the moto server: hits without SageMaker, one queued request per miss and per
burst of identical seeded misses, stale claims taken over, status by inference id, one-line errors.
InvokeEndpointAsync calls are counted by moto itself (`Aws.async_invocations`)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sdxl_inf2.core.cache.entry import pack
from sdxl_inf2.core.errors import BadRequest, NotFound, PayloadTooLarge
from sdxl_inf2.gateway.errors import IncompatibleCard, NoModelCard
from sdxl_inf2.gateway.records import Ticket
from sdxl_inf2.gateway.submit import Gateway
from tests.aws import Aws
from tests.gateway_support import CACHE_BUCKET, CACHE_PREFIX, new_gateway, publish_card, s3_text

CAT = json.dumps({"prompt": "a cat", "seed": 7}).encode()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def gateway(aws: Aws, tiny_model: Path) -> Gateway:
    publish_card(aws, tiny_model)
    return new_gateway()


def store_entry(aws: Aws, gateway: Gateway, body: bytes, images: list[bytes], accept: str | None = None) -> str:
    _, key = gateway.read(body, accept)
    assert key is not None
    aws.client("s3").put_object(Bucket=CACHE_BUCKET, Key=CACHE_PREFIX + key, Body=pack(images))
    return key


def test_a_miss_queues_exactly_one_request_with_the_body_as_sent(aws: Aws, gateway: Gateway) -> None:
    outcome = gateway.submit(CAT, "image/png")
    assert (outcome.status, outcome.cache, aws.async_invocations()) == ("queued", "miss", 1)
    ticket = outcome.ticket
    assert ticket is not None and ticket.inference_id == outcome.inference_id
    assert s3_text(aws, ticket.input_location) == CAT  # byte for byte what the client sent
    assert gateway.records.get(ticket.inference_id) == ticket  # GET by id finds it
    assert outcome.body()["output_location"] == ticket.output_location


def test_identical_seeded_submissions_at_once_queue_one(aws: Aws, tiny_model: Path) -> None:
    publish_card(aws, tiny_model)
    gateways = [new_gateway() for _ in range(8)]  # eight Lambda instances: own clients, own memory
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda g: g.submit(CAT, "image/png"), gateways))
    assert aws.async_invocations() == 1
    assert len({o.inference_id for o in outcomes}) == 1  # all eight follow the one inference
    assert sorted(o.cache for o in outcomes) == ["coalesced"] * 7 + ["miss"]
    assert all(o.status == "queued" or o.status == "done" for o in outcomes)


def test_requests_without_a_seed_are_each_queued(aws: Aws, gateway: Gateway) -> None:
    body = json.dumps({"prompt": "a cat"}).encode()
    outcomes = [gateway.submit(body) for _ in range(2)]
    assert [o.cache for o in outcomes] == ["off", "off"] and aws.async_invocations() == 2


def test_the_same_request_answered_as_json_is_another_pending_result(aws: Aws, gateway: Gateway) -> None:
    raw, as_json = gateway.submit(CAT, "image/png"), gateway.submit(CAT, "application/json")
    assert (raw.cache, as_json.cache, aws.async_invocations()) == ("miss", "miss", 2)


def test_a_hit_returns_the_entry_byte_identical_without_sagemaker(aws: Aws, gateway: Gateway) -> None:
    store_entry(aws, gateway, CAT, [PNG])
    same = [CAT, json.dumps({"inputs": "a cat", "parameters": {"seed": 7, "num_images_per_prompt": 1}}).encode()]
    for body in same:
        outcome = gateway.submit(body, "image/png")
        assert (outcome.status, outcome.cache, outcome.images) == ("done", "hit", [PNG])
        assert outcome.body()["seed"] == 7 and outcome.body()["format"] == "png"
    assert aws.async_invocations() == 0
    assert not aws.client("s3").list_objects_v2(Bucket="example-sdxl-data").get("KeyCount")  # nothing uploaded


def test_a_corrupt_entry_is_a_miss(aws: Aws, gateway: Gateway) -> None:
    key = store_entry(aws, gateway, CAT, [PNG])
    damaged = pack([PNG])[:-1] + b"\x00"
    aws.client("s3").put_object(Bucket=CACHE_BUCKET, Key=CACHE_PREFIX + key, Body=damaged)
    assert gateway.submit(CAT).cache == "miss" and aws.async_invocations() == 1


def test_a_failed_pending_request_is_taken_over(aws: Aws, gateway: Gateway) -> None:
    aws.queue_async_results({"data": '{"error": {"type": "internal_error", "message": "x"}}', "is_failure": True})
    first = gateway.submit(CAT)
    assert gateway.status(first.inference_id).state == "failed"
    second = new_gateway().submit(CAT)
    assert (second.cache, aws.async_invocations()) == ("miss", 2)
    assert second.inference_id != first.inference_id


def test_a_done_pending_request_answers_with_its_output(aws: Aws, gateway: Gateway) -> None:
    first = gateway.submit(CAT)  # moto writes its output at once; the cache entry is not there
    second = new_gateway().submit(CAT)
    assert (second.status, second.cache, second.inference_id) == ("done", "coalesced", first.inference_id)
    assert second.body()["output_location"] == first.body()["output_location"]
    assert aws.async_invocations() == 1


def test_status_by_inference_id(aws: Aws, gateway: Gateway) -> None:
    aws.queue_async_results({"data": '{"error": {"type": "timeout", "message": "took too long"}}', "is_failure": True})
    failed = gateway.status(gateway.submit(CAT).inference_id)
    assert failed.state == "failed" and failed.error is not None and "timeout: took too long" in failed.error
    done = gateway.submit(json.dumps({"prompt": "a dog", "seed": 1}).encode())
    assert gateway.status(done.inference_id).state == "done"
    assert done.ticket is not None
    bucket, _, key = done.ticket.output_location.removeprefix("s3://").partition("/")
    aws.client("s3").delete_object(Bucket=bucket, Key=key)  # not written yet
    assert gateway.status(done.inference_id).state == "queued"
    expired = Ticket("old-1", "s3://b/i", done.ticket.output_location, done.ticket.failure_location, None, 0, 1)
    gateway.records.put(expired)
    assert gateway.status("old-1").error == "expired: no result within the request TTL plus the invocation timeout"
    for unknown in ("nope", "../../etc", "x" * 65):
        with pytest.raises(NotFound):
            gateway.status(unknown)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "(body)"),
        (json.dumps({"prompt": "a", "bogus": 1}).encode(), "bogus"),
        (json.dumps({"prompt": "a", "width": 640}).encode(), "width"),
        (json.dumps({"prompt": "a", "scheduler": "nope"}).encode(), "scheduler"),
    ],
)
def test_bad_requests_are_refused_as_the_container_would(aws: Aws, gateway: Gateway, body: bytes, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        gateway.submit(body)
    assert caught.value.field == field and "\n" not in caught.value.message
    assert aws.async_invocations() == 0


def test_a_body_over_the_containers_limit_is_413(aws: Aws, tiny_model: Path) -> None:
    publish_card(aws, tiny_model, max_body_bytes=64)
    with pytest.raises(PayloadTooLarge):
        new_gateway().submit(json.dumps({"prompt": "a" * 100}).encode())


def test_no_model_card_is_one_line_naming_the_prefix(aws: Aws) -> None:
    for _ in range(2):  # no bucket, then an empty one
        with pytest.raises(NoModelCard) as caught:
            new_gateway().submit(CAT)
        message = caught.value.message
        assert "s3://sdxl-cache/results/model-card.json" in message and "SDXL_CACHE_S3_URI" in message
        aws.client("s3").create_bucket(Bucket=CACHE_BUCKET)
    assert aws.async_invocations() == 0


@pytest.mark.parametrize(
    ("fields", "words"), [({"key_version": 99}, ["cache-key version 99"]), ({"schedulers": ("x",)}, ["schedulers x"])]
)
def test_a_card_of_another_version_is_refused(
    aws: Aws, tiny_model: Path, fields: dict[str, object], words: list[str]
) -> None:
    publish_card(aws, tiny_model, **fields)
    with pytest.raises(IncompatibleCard) as caught:
        new_gateway().submit(CAT)
    assert all(word in caught.value.message for word in words)


def test_the_card_is_read_again_after_its_ttl(aws: Aws, tiny_model: Path) -> None:
    publish_card(aws, tiny_model, {"max_images": 1})
    gateway = new_gateway(card_ttl_s=0.2)
    body = json.dumps({"prompt": "a", "num_images": 2}).encode()
    with pytest.raises(BadRequest):
        gateway.submit(body, "application/json")
    publish_card(aws, tiny_model, {"max_images": 2})
    time.sleep(0.25)
    assert gateway.submit(body, "application/json").status == "queued"
