"""`sdxl-inf2 invoke` through the gateway library (a deployment with a shared cache tier), and
`sdxl-inf2 gateway serve` as a real process on a free port, both against the moto server."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from sdxl_inf2.core.cache.entry import pack
from tests.aws import Aws, Run, assert_one_line_error, cli, write_config
from tests.gateway_support import CACHE, CACHE_BUCKET, CACHE_PREFIX, new_gateway, publish_card
from tests.server import BIN, ROOT

Capsys = pytest.CaptureFixture[str]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 40
CAT = {"prompt": "a cat", "seed": 5}


def cached_config(tmp_path: Path) -> Path:
    return write_config(tmp_path, environment={"SDXL_CACHE_S3_URI": CACHE}, **{"async_inference.notifications": {}})


def invoke(capsys: Capsys, config: Path, body: dict[str, object], *args: str) -> Run:
    request = config.parent / "request.json"
    request.write_text(json.dumps(body))
    return cli(capsys, "invoke", str(config), "--request", str(request), "--out", str(config.parent / "out"), *args)


def test_a_hit_is_saved_without_sagemaker(aws: Aws, tiny_model: Path, tmp_path: Path, capsys: Capsys) -> None:
    publish_card(aws, tiny_model)
    _, key = new_gateway().read(json.dumps(CAT).encode(), "image/png")
    aws.client("s3").put_object(Bucket=CACHE_BUCKET, Key=f"{CACHE_PREFIX}{key}", Body=pack([PNG]))
    run = invoke(capsys, cached_config(tmp_path), CAT)
    assert run.code == 0, run.err
    (saved,) = [Path(line) for line in run.out.split()]
    assert saved.suffix == ".png" and saved.read_bytes() == PNG and "cache hit" in run.err
    as_json = invoke(capsys, cached_config(tmp_path), CAT, "--accept", "application/json")
    answer, image = [Path(line) for line in as_json.out.split()]
    assert json.loads(answer.read_text())["cache"] == "hit" and image.read_bytes() == PNG
    assert aws.async_invocations() == 0


def test_a_miss_is_queued_once_and_a_second_one_joins_it(
    aws: Aws, tiny_model: Path, tmp_path: Path, capsys: Capsys
) -> None:
    publish_card(aws, tiny_model)
    aws.queue_async_results({"data": json.dumps({"images": [base64.b64encode(PNG).decode()], "format": "png"})})
    first = invoke(capsys, cached_config(tmp_path), CAT, "--accept", "application/json", "--inference-id", "cat-1")
    assert first.code == 0, first.err
    assert [Path(line).name for line in first.out.split()] == ["cat-1.json", "cat-1-0.png"]
    (tmp_path / "again").mkdir()
    second = invoke(capsys, cached_config(tmp_path / "again"), CAT, "--accept", "application/json")
    assert second.code == 0, second.err
    assert "inference cat-1: joined an identical request" in second.err
    assert [Path(line).name for line in second.out.split()] == ["cat-1.json", "cat-1-0.png"]
    assert aws.async_invocations() == 1


def test_a_bad_request_or_no_card_is_one_line(aws: Aws, tiny_model: Path, tmp_path: Path, capsys: Capsys) -> None:
    config = cached_config(tmp_path)
    assert_one_line_error(invoke(capsys, config, CAT), "no model card at s3://sdxl-cache/results/model-card.json")
    publish_card(aws, tiny_model)
    assert_one_line_error(invoke(capsys, config, {"prompt": "a", "width": 640}), "width: size 640x*")
    assert aws.async_invocations() == 0


def serve(config: Path) -> subprocess.Popen[str]:
    command = [str(BIN / "sdxl-inf2"), "gateway", "serve", str(config), "--port", "0"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_gateway_serve(aws: Aws, tiny_model: Path, tmp_path: Path) -> None:
    publish_card(aws, tiny_model)
    process = serve(cached_config(tmp_path))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("gateway for sdxl-inf2-prod: http://127.0.0.1:"), line
        url = line.split()[3]
        queued = requests.post(url, json=CAT, timeout=30)
        assert (queued.status_code, queued.json()["status"]) == (202, "queued")
        status = requests.get(f"{url}/{queued.json()['inference_id']}", timeout=30)
        assert (status.status_code, status.json()["status"]) == (200, "done")
        bad = requests.post(url, data=b"{", headers={"Content-Type": "application/json"}, timeout=30)
        assert (bad.status_code, bad.json()["error"]["field"]) == (400, "(body)")
        assert aws.async_invocations() == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
        process.wait(10)


def test_gateway_serve_without_a_card_stops_in_one_line(aws: Aws, tmp_path: Path) -> None:
    process = serve(cached_config(tmp_path))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("sdxl-inf2: error:")]
    assert "no model card at s3://sdxl-cache/results/model-card.json" in line
