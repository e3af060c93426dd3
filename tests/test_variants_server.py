"""Serving a two-variant artifact through the real server: routing by size or name (the worker id
in the response proves where a request ran), one queue per variant, /ping per variant, the
worker plan, and the Variant metric dimension."""

from __future__ import annotations

import io
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sdxl_inf2.compile.package import package
from tests.conftest import ServerFactory
from tests.emf import datapoints, metric_sum, wait_metrics
from tests.server import FAKE, Server, pid_alive
from tests.test_package import extract
from tests.test_server_lifecycle import assert_one_line_error, run_serve

JSON = {"Accept": "application/json"}
PLAN = {"SDXL_VARIANT_WORKERS": "64x64:1,96x64:1"}


def lanes(server: Server) -> dict[str, list[int]]:
    """variant -> the worker ids (slot indexes) that serve it, as /ping reports them."""
    found: dict[str, list[int]] = {}
    for slot in server.ping().json()["slots"]:
        found.setdefault(slot["variant"], []).append(slot["index"])
    return found


def worker_of(server: Server, body: dict[str, Any]) -> int:
    response = server.invoke(body, headers=JSON)
    assert response.status_code == 200, response.text
    return int(response.json()["worker"])


def test_each_size_runs_on_its_variants_own_model(servers: ServerFactory, tiny_variants: Path) -> None:
    server = servers(tiny_variants)  # the torch backend: each variant's worker loads its own tiny SDXL
    body = server.wait_ping(200)
    assert {name: v["workers"] for name, v in body["variants"].items()} == {
        "64x64": {"ready": 1, "total": 1},
        "96x64": {"ready": 1, "total": 1},
    }  # one worker per variant by default on the CPU
    assert body["variants"]["96x64"]["shapes"] == [{"height": 64, "width": 96}]
    assert [s["height"] * 1000 + s["width"] for s in body["shapes"]] == [64064, 64096]
    workers = lanes(server)
    assert worker_of(server, {"prompt": "a cat", "seed": 1, "width": 96, "height": 64}) == workers["96x64"][0]
    assert worker_of(server, {"prompt": "a cat", "seed": 1}) == workers["64x64"][0]  # no size: the default
    assert worker_of(server, {"prompt": "a cat", "seed": 1, "variant": "96x64"}) == workers["96x64"][0]
    wide = server.invoke({"inputs": "a cat", "parameters": {"seed": 1, "width": 96}})
    assert Image.open(io.BytesIO(wide.content)).size == (96, 64)
    echoed = server.invoke({"prompt": "a cat", "height": 64, "width": 96}, headers=JSON).json()["parameters"]
    assert echoed["variant"] == "96x64" and echoed["num_inference_steps"] == 4  # the variant's defaults
    again = server.invoke({"prompt": "a cat", "seed": 1, "width": 96, "height": 64})
    assert again.content == wide.content  # deterministic per variant


def test_a_packaged_two_variant_artifact_is_served(servers: ServerFactory, tiny_variants: Path, tmp_path: Path) -> None:
    archive = package(tiny_variants, tmp_path / "model.tar.gz", progress=False).path
    model_dir = extract(archive, tmp_path / "opt_ml_model")  # what SageMaker unpacks into /opt/ml/model
    server = servers(None, env={"SM_MODEL_DIR": str(model_dir)})  # verified in full at start
    assert sorted(server.wait_ping(200)["variants"]) == ["64x64", "96x64"]
    workers = lanes(server)
    for name, width in (("64x64", 64), ("96x64", 96)):
        response = server.invoke({"prompt": "a cat", "seed": 2, "width": width}, headers=JSON).json()
        assert (response["worker"], response["parameters"]["variant"]) == (workers[name][0], name)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"prompt": "x", "width": 128, "height": 128}, "height", "compiled sizes: 64x64, 96x64"),
        ({"prompt": "x", "variant": "1024x1024"}, "variant", "served variants: 64x64 (64x64), 96x64 (96x64)"),
        ({"prompt": "x", "variant": "96x64", "width": 64}, "width", "not compiled into variant '96x64'"),
        ({"prompt": "x", "variant": ""}, "variant", "at least 1 character"),
    ],
)
def test_unknown_sizes_and_variants_are_400(
    module_servers: ServerFactory, tiny_variants: Path, body: dict[str, Any], field: str, words: str
) -> None:
    server = module_servers(tiny_variants, env={"SDXL_BACKEND": FAKE.format("ok")})
    server.wait_ping(200)
    response = server.invoke(body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["field"]) == ("validation_error", field) and words in error["message"]


def wait_for(condition: Any, server: Server, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = server.ping().json()
        if condition(body):
            return body
        time.sleep(0.05)
    raise AssertionError(f"/ping never got there: {server.ping().text}\n{server.log_text()}")


def test_a_variant_with_every_worker_busy_does_not_delay_the_other(
    servers: ServerFactory, tiny_variants: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    env = {"SDXL_BACKEND": FAKE.format("gated"), "FAKE_GATE": str(gate), "SDXL_MAX_QUEUE": "1", **PLAN}
    server = servers(tiny_variants, env=env)
    server.wait_ping(200)
    with ThreadPoolExecutor(4) as pool:
        held = [pool.submit(server.invoke, {"prompt": "block", "seed": i}) for i in range(2)]
        busy = wait_for(lambda b: b["variants"]["64x64"]["queued"] == 1, server)  # one running, one waiting
        assert busy["status"] == "ready" and busy["variants"]["96x64"]["queued"] == 0
        full = server.invoke({"prompt": "more"})  # SDXL_MAX_QUEUE counts per variant
        assert full.status_code == 503 and "for variant 64x64" in full.json()["error"]["message"]
        other = server.invoke({"prompt": "a cat", "width": 96}, headers=JSON)
        assert other.status_code == 200 and other.json()["worker"] == lanes(server)["96x64"][0]
        assert not any(f.done() for f in held)  # answered while the other variant's worker is still held
        gate.unlink()
        assert [f.result().status_code for f in held] == [200, 200]


def test_ping_is_503_while_a_variants_only_worker_is_down(servers: ServerFactory, tiny_variants: Path) -> None:
    env = {"SDXL_BACKEND": FAKE.format("slow_load"), "FAKE_LOAD_S": "2", **PLAN}
    server = servers(tiny_variants, env=env)
    server.wait_ping(200, timeout=120)
    [victim] = [s["pid"] for s in server.ping().json()["slots"] if s["variant"] == "96x64"]
    os.kill(victim, signal.SIGKILL)
    down = wait_for(lambda b: b["variants"]["96x64"]["status"] != "ready", server)
    response = server.ping()
    assert response.status_code == 503 and down["status"] == "restarting"
    assert down["variants"]["96x64"]["workers"] == {"ready": 0, "total": 1}
    assert down["variants"]["64x64"]["status"] == "ready"
    assert server.invoke({"prompt": "meanwhile"}).status_code == 200  # the other variant still serves
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(server.invoke, {"prompt": "wait for it", "width": 96})  # queued for the replacement
        back = server.wait_ping(200, timeout=60)
        assert waiting.result().status_code == 200
    [replacement] = [s for s in back["slots"] if s["variant"] == "96x64"]
    assert replacement["pid"] != victim and replacement["restarts"] == 1 and not pid_alive(victim)


def test_the_worker_plan_is_a_start_up_setting(servers: ServerFactory, tiny_variants: Path) -> None:
    server = servers(tiny_variants, env={"SDXL_BACKEND": FAKE.format("ok"), "SDXL_VARIANT_WORKERS": "96x64:2,64x64:1"})
    server.wait_ping(200)
    assert lanes(server) == {"64x64": [0], "96x64": [1, 2]}  # contiguous slots, default variant first
    workers = {worker_of(server, {"prompt": f"p{i}", "width": 96}) for i in range(6)}
    assert workers <= {1, 2}


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SDXL_WORKERS": "1"}, ["worker plan: 1 worker(s) for 2 variants (64x64, 96x64)", "SDXL_VARIANT_WORKERS"]),
        ({"SDXL_VARIANT_WORKERS": "64x64:2"}, ["SDXL_VARIANT_WORKERS='64x64:2'", "variant '96x64' has no worker"]),
        ({"SDXL_VARIANT_WORKERS": "64x64:1,128x128:1"}, ["unknown variant '128x128'; the variants are 64x64, 96x64"]),
        ({"SDXL_VARIANT_WORKERS": "64x64:1,96x64:1", "SDXL_WORKERS": "1"}, ["asks for 2 workers; 1 available"]),
        ({"SDXL_VARIANT_WORKERS": "64x64=1"}, ["SDXL_VARIANT_WORKERS=", "expected name:number"]),
    ],
)
def test_worker_plans_that_cannot_be_met_stop_serve_in_one_line(
    tiny_variants: Path, env: dict[str, str], words: list[str]
) -> None:
    assert_one_line_error(run_serve("--model-dir", str(tiny_variants), env=env), *words)


def test_metrics_carry_the_variant(servers: ServerFactory, tiny_variants: Path) -> None:
    env = {
        "SDXL_BACKEND": FAKE.format("raises"),
        "SDXL_METRICS_ENDPOINT_NAME": "ep",
        "SDXL_METRICS_VARIANT_NAME": "blue",
    }
    server = servers(tiny_variants, env=env)
    server.wait_ping(200)
    for body in ({"prompt": "a"}, {"prompt": "b", "width": 96}, {"prompt": "c", "width": 96}, {"prompt": "raise"}):
        server.invoke(body)
    documents = wait_metrics(server, 4, errors=1)  # four requests, one of them failed
    policy = {"EndpointName": "ep", "VariantName": "blue"}
    request = next(d for d in documents if "NumberOfInferenceRequests" in d and d["Variant"] == "96x64")
    assert request["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [  # type: ignore[index]
        ["EndpointName", "VariantName"],
        ["EndpointName", "VariantName", "Variant"],
    ]
    points = datapoints(documents)
    assert metric_sum(points, "NumberOfInferenceRequests", policy) == 4  # what the usage-rate policy reads
    assert metric_sum(points, "NumberOfInferenceRequests", {**policy, "Variant": "96x64"}) == 2
    assert metric_sum(points, "NumberOfInferenceRequests", {**policy, "Variant": "64x64"}) == 2
    assert metric_sum(points, "Errors", {**policy, "Variant": "64x64"}) == 1
