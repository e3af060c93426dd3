"""The SageMaker container contract on the real tiny SDXL, through the real server."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from sdxl_inf2.core.schedulers import SCHEDULERS
from tests.conftest import ServerFactory
from tests.server import Server, request_log

CAT = {"prompt": "a photo of a cat", "seed": 7}
MAGIC = {"png": b"\x89PNG", "jpeg": b"\xff\xd8\xff", "webp": b"RIFF"}


@pytest.fixture(scope="module")
def server(module_servers: ServerFactory, tiny_model: Path) -> Iterator[Server]:
    started = module_servers(tiny_model, env={"SDXL_MAX_BODY_BYTES": "4096"})
    started.wait_ping(200)
    yield started


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_ping_reports_workers_backend_and_shapes(server: Server) -> None:
    response = server.ping()
    body = response.json()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert body["status"] == "ready"
    assert body["workers"] == {"ready": 1, "total": 1}
    assert body["backend"] == "torch"
    assert body["shapes"] == [{"height": 64, "width": 64}, {"height": 64, "width": 96}]


def test_default_response_is_a_png_with_content_length(server: Server) -> None:
    response = server.invoke(CAT)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert "chunked" not in response.headers.get("Transfer-Encoding", "")
    image = decode(response.content)
    assert (image.format, image.size, image.mode) == ("PNG", (64, 64), "RGB")
    assert response.headers["X-Seed"] == "7"
    assert "inference;dur=" in response.headers["Server-Timing"]


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_accept_selects_raw_image_format(server: Server, fmt: str) -> None:
    response = server.invoke(CAT, headers={"Accept": f"image/{fmt}"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == f"image/{fmt}"
    assert response.content.startswith(MAGIC[fmt])
    assert decode(response.content).size == (64, 64)


def test_output_format_and_quality_in_body(server: Server) -> None:
    low = server.invoke({**CAT, "output_format": "jpeg", "quality": 10})
    high = server.invoke({**CAT, "output_format": "jpeg", "quality": 95})
    assert low.headers["Content-Type"] == high.headers["Content-Type"] == "image/jpeg"
    assert len(low.content) < len(high.content)


def test_json_response_carries_images_seed_parameters_timings(server: Server) -> None:
    response = server.invoke(
        {**CAT, "num_images": 2, "output_format": "webp"},
        headers={"Accept": "application/json", "X-Amzn-SageMaker-Inference-Id": "req-42"},
    )
    body = response.json()
    assert response.status_code == 200, body
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert set(body) >= {"images", "format", "seed", "parameters", "timings_ms", "inference_id"}
    assert body["inference_id"] == "req-42" and body["format"] == "webp" and body["seed"] == 7
    images = [decode(base64.b64decode(b)) for b in body["images"]]
    assert [(i.format, i.size) for i in images] == [("WEBP", (64, 64))] * 2
    assert images[0].tobytes() != images[1].tobytes()
    assert body["parameters"]["num_inference_steps"] == 4  # the manifest's default
    assert body["parameters"]["prompt"] == CAT["prompt"]
    assert set(body["timings_ms"]) >= {"queue", "inference", "encode", "total"}


def test_huggingface_request_shape(server: Server) -> None:
    flat = server.invoke({**CAT, "num_inference_steps": 3, "guidance_scale": 2.0})
    hf = server.invoke(
        {"inputs": CAT["prompt"], "parameters": {"seed": 7, "num_inference_steps": 3, "guidance_scale": 2.0}}
    )
    assert hf.status_code == 200, hf.text
    assert hf.content == flat.content


def test_same_seed_same_bytes_other_seed_other_image(server: Server) -> None:
    request = {**CAT, "negative_prompt": "blurry", "prompt_2": "studio light", "guidance_scale": 6.5}
    first, second = server.invoke(request), server.invoke(request)
    other = server.invoke({**request, "seed": 8})
    assert first.content == second.content
    assert decode(first.content).tobytes() != decode(other.content).tobytes()


def test_missing_seed_is_random_and_reported(server: Server) -> None:
    responses = [server.invoke({"prompt": "a dog"}, headers={"Accept": "application/json"}) for _ in range(2)]
    seeds = [r.json()["seed"] for r in responses]
    assert all(isinstance(s, int) for s in seeds) and seeds[0] != seeds[1]
    replay = server.invoke({"prompt": "a dog", "seed": seeds[0]}, headers={"Accept": "application/json"})
    assert replay.json()["images"] == responses[0].json()["images"]


def test_other_compiled_shape(server: Server) -> None:
    response = server.invoke({**CAT, "width": 96})
    assert response.status_code == 200, response.text
    assert decode(response.content).size == (96, 64)


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_every_documented_scheduler(server: Server, scheduler: str) -> None:
    response = server.invoke(
        {**CAT, "scheduler": scheduler, "num_inference_steps": 3}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["parameters"]["scheduler"] == scheduler
    assert decode(base64.b64decode(response.json()["images"][0])).size == (64, 64)


def test_scheduler_changes_the_image(server: Server) -> None:
    euler = server.invoke({**CAT, "scheduler": "euler"})
    ddim = server.invoke({**CAT, "scheduler": "ddim"})
    assert euler.content != ddim.content


def error_of(response: requests.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    error: dict[str, str] = response.json()["error"]
    assert "\n" not in error["message"] and "Traceback" not in error["message"]
    return error


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "prompt", "required"),
        ({"prompt": ""}, "prompt", "at least 1"),
        ({"prompt": "x", "steps": 3}, "steps", "unknown field"),
        ({"prompt": "x", "num_inference_steps": "3"}, "num_inference_steps", "integer"),
        ({"prompt": "x", "num_inference_steps": 0}, "num_inference_steps", "greater than or equal"),
        ({"prompt": "x", "guidance_scale": "high"}, "guidance_scale", "number"),
        ({"prompt": "x", "seed": -1}, "seed", "greater than or equal"),
        ({"prompt": "x", "seed": 1.5}, "seed", "integer"),
        ({"prompt": "x", "height": 128, "width": 128}, "height", "compiled sizes: 64x64, 96x64"),
        ({"prompt": "x", "width": 72}, "width", "compiled sizes: 64x64, 96x64"),
        ({"prompt": "x", "num_images": 5}, "num_images", "at most 4"),
        ({"prompt": "x", "scheduler": "magic"}, "scheduler", "euler"),
        ({"prompt": "x", "output_format": "gif"}, "output_format", "png"),
        ({"prompt": "x", "quality": 50}, "quality", "jpeg and webp only"),
        ({"inputs": "x", "parameters": {"bogus": 1}}, "parameters.bogus", "unknown field"),
        ({"inputs": "x", "prompt": "y"}, "prompt", "unknown field"),
        ([1, 2], "(body)", "JSON object"),
    ],
)
def test_validation_errors_name_the_field(server: Server, body: object, field: str, words: str) -> None:
    error = error_of(server.invoke(body), 400)
    assert error["type"] == "validation_error"
    assert error["field"] == field
    assert words in error["message"]


def test_malformed_json_is_400(server: Server) -> None:
    error = error_of(server.invoke(data=b'{"prompt": '), 400)
    assert "not valid JSON" in error["message"]


def test_wrong_content_type_is_415(server: Server) -> None:
    error = error_of(server.invoke(data=b"prompt=x", headers={"Content-Type": "text/plain"}), 415)
    assert "application/json" in error["message"]


def test_unacceptable_accept_is_406(server: Server) -> None:
    assert error_of(server.invoke(CAT, headers={"Accept": "text/html"}), 406)["type"] == "not_acceptable"
    mismatch = server.invoke({**CAT, "output_format": "jpeg"}, headers={"Accept": "image/png"})
    assert "output_format" in error_of(mismatch, 406)["message"]
    many = server.invoke({**CAT, "num_images": 2}, headers={"Accept": "image/png"})
    assert "application/json" in error_of(many, 406)["message"]


def test_body_over_limit_is_413(server: Server) -> None:
    error = error_of(server.invoke({"prompt": "x" * 5000}), 413)
    assert error["type"] == "payload_too_large"
    assert error["message"] == "body over SDXL_MAX_BODY_BYTES=4096"


def test_unknown_route_404_and_wrong_method_405(server: Server) -> None:
    assert error_of(requests.get(server.url("/nope"), timeout=10), 404)["type"] == "not_found"
    assert error_of(requests.get(server.url("/invocations"), timeout=10), 405)["type"] == "method_not_allowed"
    assert error_of(requests.post(server.url("/ping"), timeout=10), 405)["type"] == "method_not_allowed"


def test_request_log_is_one_json_line_without_prompt(server: Server) -> None:
    server.invoke(
        {"prompt": "a secret campaign slogan", "seed": 3},
        headers={
            "X-Amzn-SageMaker-Inference-Id": "log-check-1",
            "X-Amzn-SageMaker-Custom-Attributes": "campaign=spring",
        },
    )
    entries = request_log(server, "log-check-1")
    assert len(entries) == 1
    entry = entries[0]
    assert entry["status"] == 200 and entry["worker"] == 0
    assert entry["custom_attributes"] == "campaign=spring"
    assert set(entry["timings_ms"]) >= {"queue", "inference", "encode", "total"}
    assert entry["parameters"]["seed"] == 3
    assert "a secret campaign slogan" not in server.log_text()


def test_error_responses_carry_the_inference_id(server: Server) -> None:
    response = server.invoke({"prompt": "x", "bogus": 1}, headers={"X-Amzn-SageMaker-Inference-Id": "bad-1"})
    assert error_of(response, 400)["inference_id"] == "bad-1"
    logged = request_log(server, "bad-1")
    assert logged[0]["status"] == 400 and logged[0]["error"] == "validation_error"


def test_json_accept_with_quality_weights(server: Server) -> None:
    response = server.invoke(CAT, headers={"Accept": "image/png;q=0.5, application/json"})
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.content)["format"] == "png"


def test_a_path_flask_routes_to_invocations_is_served_alike(server: Server) -> None:
    """POST /invocations is answered before Flask (container/invocations.py); another spelling Flask
    routes to the same rule (//invocations) goes through Flask's hooks and must answer alike."""
    ids = {"X-Amzn-SageMaker-Inference-Id": "spelled-1"}
    direct = server.invoke(CAT)
    routed = requests.post(
        server.url("//invocations"),
        data=json.dumps(CAT),
        headers={"Content-Type": "application/json", **ids},
        timeout=60,
    )
    assert routed.status_code == direct.status_code == 200
    assert routed.content == direct.content
    varying = {"Date", "X-Inference-Id", "X-Amzn-SageMaker-Custom-Attributes", "Server-Timing"}
    assert {k: v for k, v in routed.headers.items() if k not in varying} == {
        k: v for k, v in direct.headers.items() if k not in varying
    }
    assert routed.headers["X-Inference-Id"] == "spelled-1"
    assert [e["status"] for e in request_log(server, "spelled-1")] == [200]
    bad = requests.post(
        server.url("//invocations"), data=b"{", headers={"Content-Type": "application/json"}, timeout=60
    )
    assert error_of(bad, 400)["type"] == "validation_error"
