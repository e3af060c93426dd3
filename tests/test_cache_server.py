"""The result cache through the real server. The `noisy` fake renders random pixels on every call,
so an answer byte-identical to an earlier one can only have come from the cache."""

from __future__ import annotations

import base64
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.aws import Aws
from tests.conftest import ServerFactory
from tests.server import FAKE, Server, free_port, request_log, wait_entries
from tests.test_server_lifecycle import assert_one_line_error, run_serve

NOISY = {"SDXL_BACKEND": FAKE.format("noisy")}
JSON = {"Accept": "application/json"}
CAT = {"prompt": "a cat", "seed": 11}


def start(servers: ServerFactory, model: Path, cache_dir: Path | None, **env: str) -> Server:
    cache = {"SDXL_CACHE_DIR": str(cache_dir)} if cache_dir else {}
    server = servers(model, env={**NOISY, **cache, **env})
    server.wait_ping(200)
    return server


def test_a_hit_is_byte_identical_to_the_miss_that_filled_it(
    servers: ServerFactory, tiny_model: Path, tmp_path: Path
) -> None:
    server = start(servers, tiny_model, tmp_path / "cache")
    miss = server.invoke(CAT, headers={"X-Amzn-SageMaker-Inference-Id": "fill-1"})
    assert (miss.status_code, miss.headers["X-Cache"]) == (200, "miss")
    wait_entries(tmp_path / "cache", 1)
    raw = server.invoke(CAT, headers={"X-Amzn-SageMaker-Inference-Id": "hit-1"})
    assert (raw.headers["X-Cache"], raw.headers["X-Seed"], raw.content) == ("hit", "11", miss.content)
    as_json = server.invoke({"inputs": "a cat", "parameters": {"seed": 11}}, headers=JSON).json()
    assert (as_json["cache"], as_json["worker"], as_json["seed"]) == ("hit", None, 11)
    assert base64.b64decode(as_json["images"][0]) == miss.content
    assert set(as_json["timings_ms"]) == {"cache", "total"}
    assert "cache=hit" in raw.headers["X-Amzn-SageMaker-Custom-Attributes"]
    assert [e["cache"] for e in request_log(server, "fill-1") + request_log(server, "hit-1")] == ["miss", "hit"]
    other = server.invoke({**CAT, "seed": 12})  # any other request is still generated
    assert other.headers["X-Cache"] == "miss" and other.content != miss.content


def test_a_hit_is_served_while_every_worker_is_busy(servers: ServerFactory, tiny_model: Path, tmp_path: Path) -> None:
    server = start(servers, tiny_model, tmp_path / "cache", SDXL_WORKERS="1", FAKE_GENERATE_S="2")
    filled = server.invoke(CAT)
    wait_entries(tmp_path / "cache", 1)
    with ThreadPoolExecutor(1) as pool:
        long = pool.submit(server.invoke, {"prompt": "slow", "seed": 1})
        while server.ping().json()["slots"][0]["state"] != "busy":
            time.sleep(0.02)
        hit = server.invoke(CAT, timeout=1.5)  # the only worker has ~2 s of work left
        assert not long.done()  # answered while that worker was still busy
        assert (hit.status_code, hit.headers["X-Cache"], hit.content) == (200, "hit", filled.content)
        assert long.result().status_code == 200


def test_requests_without_a_seed_are_never_cached(servers: ServerFactory, tiny_model: Path, tmp_path: Path) -> None:
    server = start(servers, tiny_model, tmp_path / "cache")
    first, second = (server.invoke({"prompt": "a cat"}, headers=JSON).json() for _ in range(2))
    assert (first["cache"], second["cache"]) == ("off", "off")
    assert first["images"] != second["images"]
    server.invoke(CAT)  # written after anything queued before it (one writer, in order)
    wait_entries(tmp_path / "cache", 1)
    time.sleep(0.2)
    assert len(list((tmp_path / "cache").rglob("*.val"))) == 1


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_entry_is_regenerated_never_served(
    servers: ServerFactory, tiny_model: Path, tmp_path: Path, damage: str
) -> None:
    server = start(servers, tiny_model, tmp_path / "cache")
    original = server.invoke(CAT).content
    (entry,) = wait_entries(tmp_path / "cache", 1)
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2] if damage == "truncate" else data[:-1] + bytes([data[-1] ^ 1]))
    again = server.invoke(CAT)
    assert (again.status_code, again.headers["X-Cache"]) == (200, "miss")  # regenerated, not the damaged bytes
    assert again.content != original and again.content.startswith(b"\x89PNG")
    assert "is corrupt" in server.log_text()
    deadline = time.monotonic() + 5
    while (hit := server.invoke(CAT)).headers["X-Cache"] != "hit" and time.monotonic() < deadline:
        time.sleep(0.05)  # the rewrite happens after the response; a miss meanwhile writes the same key
    assert hit.headers["X-Cache"] == "hit"


def test_no_manifest_means_no_cache_logged_once(servers: ServerFactory, tiny_model: Path, tmp_path: Path) -> None:
    model = Path(shutil.copytree(tiny_model, tmp_path / "model"))
    (model / "manifest.json").unlink()
    server = start(servers, model, tmp_path / "cache")
    states = [server.invoke(CAT, headers=JSON).json()["cache"] for _ in range(3)]
    assert states == ["off"] * 3
    assert server.log_text().count("result cache off") == 1


def test_an_unwritable_cache_folder_stops_the_server_in_one_line(tiny_model: Path, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    result = run_serve("--model-dir", str(tiny_model), env={**NOISY, "SDXL_CACHE_DIR": str(not_a_folder / "c")})
    assert_one_line_error(result, "SDXL_CACHE_DIR", "not a writable folder")


def test_s3_cache_is_shared_by_instances(servers: ServerFactory, tiny_model: Path, tmp_path: Path, aws: Aws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="sdxl-cache")
    shared = {"SDXL_CACHE_S3_URI": "s3://sdxl-cache/results/"}
    first = start(servers, tiny_model, None, **shared)  # S3 only
    filled = first.invoke(CAT)
    assert filled.headers["X-Cache"] == "miss"
    deadline = time.monotonic() + 5
    while len(s3.list_objects_v2(Bucket="sdxl-cache").get("Contents", [])) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="sdxl-cache")["Contents"])
    assert len(stored) == 2 and stored[1] == "results/model-card.json"  # the entry, and the card from the start
    assert stored[0].startswith("results/") and len(stored[0]) == len("results/") + 64
    second = start(servers, tiny_model, tmp_path / "disk-2", **shared)  # another instance, with a disk tier
    hit = second.invoke(CAT)
    assert (hit.headers["X-Cache"], hit.content) == ("hit", filled.content)
    wait_entries(tmp_path / "disk-2", 1)  # copied to this instance's disk
    assert second.invoke(CAT).content == filled.content


def test_s3_down_degrades_to_misses(servers: ServerFactory, tiny_model: Path, tmp_path: Path) -> None:
    env = {
        "SDXL_CACHE_S3_URI": "s3://sdxl-cache/results/",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    server = start(servers, tiny_model, None, **env)
    responses = [server.invoke(CAT) for _ in range(3)]
    assert [(r.status_code, r.headers["X-Cache"]) for r in responses] == [(200, "miss")] * 3
    deadline = time.monotonic() + 5
    while "s3 write failed" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log_text()
    assert log.count("cache s3 read failed") == 1  # once a minute, not once a request
    assert "s3 write failed" in log and "Traceback" not in log
    assert log.count("model card not published to the s3 tier") == 1  # at start; the server runs on
