"""The result cache's parts: entries and their checksum, keys, the disk LRU at its byte bound, the
S3 tier against the moto server, and how every failure degrades to a miss."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from sdxl_inf2.container.cache.disk import DiskStore
from sdxl_inf2.container.cache.service import ResultCache
from sdxl_inf2.container.config import load_settings
from sdxl_inf2.core.cache.entry import CorruptEntry, pack, unpack
from sdxl_inf2.core.cache.key import model_fingerprint
from sdxl_inf2.core.cache.s3 import S3Store
from sdxl_inf2.core.manifest import FileEntry
from sdxl_inf2.core.modeldir import ModelInfo, inspect_model_dir
from sdxl_inf2.core.schema import GenerationParams, parse_request, resolve
from tests.aws import Aws

IMAGES = [b"\x89PNG first image" * 50, b"\x89PNG second" * 70]


class MemoryStore:
    """A tier in a dict; `fail` makes every call raise, as a full disk or an unreachable S3 would."""

    def __init__(self, name: str = "memory", fail: Exception | None = None) -> None:
        self.name, self.fail = name, fail
        self.local = name != "s3"  # like the real tiers: only S3 is remote
        self.entries: dict[str, bytes] = {}
        self.gate: threading.Event | None = None  # set: put waits for it

    def get(self, key: str) -> bytes | None:
        self._maybe_fail()
        return self.entries.get(key)

    def put(self, key: str, blob: bytes) -> None:
        self._maybe_fail()
        if self.gate is not None:
            assert self.gate.wait(10)
        self.entries[key] = blob

    def delete(self, key: str) -> None:
        self._maybe_fail()
        self.entries.pop(key, None)

    def close(self) -> None:
        pass

    def _maybe_fail(self) -> None:
        if self.fail is not None:
            raise self.fail


# entries


def test_entry_round_trip_keeps_every_image_byte_for_byte() -> None:
    assert unpack(pack(IMAGES)) == IMAGES
    assert unpack(pack([b""])) == [b""]


def test_every_truncation_and_any_flipped_byte_is_refused() -> None:
    blob = pack(IMAGES)
    for length in range(len(blob)):
        with pytest.raises(CorruptEntry):
            unpack(blob[:length])
    for index in (0, 9, 40, 60, len(blob) // 2, len(blob) - 1):  # magic, checksum, count, sizes, payload
        damaged = bytearray(blob)
        damaged[index] ^= 0x01
        with pytest.raises(CorruptEntry):
            unpack(bytes(damaged))
    with pytest.raises(CorruptEntry):
        unpack(blob + b"\x00")


# keys


@pytest.fixture(scope="module")
def model(tiny_model: Path) -> ModelInfo:
    return inspect_model_dir(tiny_model, verify="off")


def resolved(body: dict[str, object], model: ModelInfo) -> tuple[GenerationParams, bool]:
    prompt, fields = parse_request(body)
    return resolve(prompt, fields, model, fields.output_format or "png"), fields.seed is not None


def cache_for(model: ModelInfo, **env: str) -> ResultCache:
    assert model.manifest is not None
    settings = load_settings(env)
    return ResultCache([MemoryStore()], model_fingerprint(model.manifest, "torch", "cpu", settings))


def test_one_request_in_any_shape_has_one_key_and_any_change_another(model: ModelInfo) -> None:
    cache = cache_for(model)
    flat = cache.key_for(*resolved({"prompt": "cat", "seed": 3}, model))
    defaults = model.defaults
    same = [
        {"inputs": "cat", "parameters": {"seed": 3}},
        {"prompt": "cat", "seed": 3, "num_inference_steps": defaults.num_inference_steps, "num_images_per_prompt": 1},
        {"prompt": "cat", "seed": 3, "guidance_scale": defaults.guidance_scale, "output_format": "png"},
    ]
    assert all(cache.key_for(*resolved(body, model)) == flat for body in same)
    different = [
        {"prompt": "cat", "seed": 4},
        {"prompt": "cats", "seed": 3},
        {"prompt": "cat", "seed": 3, "output_format": "webp"},
        {"prompt": "cat", "seed": 3, "num_inference_steps": defaults.num_inference_steps + 1},
        {"prompt": "cat", "seed": 3, "negative_prompt": "dog"},
    ]
    keys = {cache.key_for(*resolved(body, model)) for body in different}
    assert flat is not None and len(keys) == len(different) and flat not in keys


def test_a_request_without_a_seed_has_no_key(model: ModelInfo) -> None:
    assert cache_for(model).key_for(*resolved({"prompt": "cat"}, model)) is None


def test_a_new_model_or_encoder_setting_never_shares_keys(model: ModelInfo) -> None:
    params, seeded = resolved({"prompt": "cat", "seed": 3}, model)
    key = cache_for(model).key_for(params, seeded)
    assert model.manifest is not None
    files = dict(model.manifest.files)
    name, entry = next(iter(files.items()))
    files[name] = FileEntry(sha256="0" * 64, size=entry.size)  # one retrained file
    retrained = ModelInfo(**{**model.__dict__, "manifest": model.manifest.model_copy(update={"files": files})})
    assert cache_for(retrained).key_for(params, seeded) != key
    assert cache_for(model, SDXL_PNG_COMPRESS_LEVEL="6").key_for(params, seeded) != key


# the disk tier


def test_disk_tier_holds_its_byte_bound_and_evicts_the_least_recently_used(tmp_path: Path) -> None:
    bound = 256 * 1024
    store = DiskStore(tmp_path / "cache", bound)
    blobs = {f"k{i}": os.urandom(16 * 1024) for i in range(40)}
    for index, (key, blob) in enumerate(blobs.items()):
        store.put(key, blob)
        if index >= 1:
            assert store.get("k0") == blobs["k0"]  # k0 is read after every write: always the most recent
        assert store.volume() <= bound, (index, store.volume())
    files = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*.val"))
    assert files <= bound
    kept = [key for key in blobs if store.get(key) is not None]
    assert "k0" in kept and "k39" in kept and "k1" not in kept  # the least recently used went first
    assert 8 <= len(kept) < 16  # full up to the bound (16 KiB entries, 256 KiB less the index), no further
    assert all(store.get(key) == blobs[key] for key in kept)


def test_disk_tier_skips_an_entry_bigger_than_half_its_bound(tmp_path: Path) -> None:
    store = DiskStore(tmp_path / "cache", 128 * 1024)
    store.put("small", b"x" * 1000)
    store.put("huge", b"x" * 70 * 1024)
    assert store.get("huge") is None and store.get("small") is not None


# the service: tiers, corrupt entries, failures


def test_a_corrupt_entry_is_dropped_and_reads_as_a_miss(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    cache = ResultCache([store], "fp")
    store.entries["k"] = pack(IMAGES)[:-10]
    with caplog.at_level(logging.WARNING, "sdxl.cache"):
        assert cache.lookup("k").images is None
    assert "k" not in store.entries
    assert "corrupt" in caplog.text
    cache.store("k", IMAGES)
    assert cache.flush()
    assert cache.lookup("k").images == IMAGES


def test_store_writes_the_local_tier_before_it_returns_and_the_remote_one_after() -> None:
    disk, s3 = MemoryStore("disk"), MemoryStore("s3")
    s3.gate = threading.Event()  # the background writer blocks in S3's put until the gate opens
    cache = ResultCache([disk, s3], "fp")
    cache.store("k", IMAGES)
    assert unpack(disk.entries["k"]) == IMAGES  # no flush: written before store() returned
    assert "k" not in s3.entries  # still on the background writer
    s3.gate.set()
    assert cache.flush()
    assert unpack(s3.entries["k"]) == IMAGES


def test_a_hit_in_the_slower_tier_is_copied_to_the_faster_one() -> None:
    disk, s3 = MemoryStore("disk"), MemoryStore("s3")
    s3.entries["k"] = pack(IMAGES)
    cache = ResultCache([disk, s3], "fp")
    found = cache.lookup("k")
    assert (found.images, found.tier) == (IMAGES, "s3")
    assert cache.flush()
    assert cache.lookup("k").tier == "disk" and unpack(disk.entries["k"]) == IMAGES


def test_a_failing_tier_is_a_miss_with_one_warning_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    broken = MemoryStore("s3", fail=OSError(28, "No space left on device"))
    disk = MemoryStore("disk")
    cache = ResultCache([disk, broken], "fp")
    with caplog.at_level(logging.WARNING, "sdxl.cache"):
        assert [cache.lookup("k").images for _ in range(5)] == [None] * 5
        cache.store("k", IMAGES)
        cache.store("k2", IMAGES)
        assert cache.flush()
    reads = [r for r in caplog.records if "s3 read failed" in r.getMessage()]
    writes = [r for r in caplog.records if "s3 write failed" in r.getMessage()]
    assert len(reads) == 1 and "No space left on device" in reads[0].getMessage()
    assert len(writes) == 1
    assert cache.lookup("k").images == IMAGES  # the healthy tier still works


# the S3 tier against the moto server


def test_s3_tier_round_trip_miss_and_delete(aws: Aws) -> None:
    aws.client("s3").create_bucket(Bucket="sdxl-cache")
    store = S3Store("s3://sdxl-cache/results", timeout_s=2)
    assert store.get("absent") is None
    store.put("k", b"entry")
    objects = aws.client("s3").list_objects_v2(Bucket="sdxl-cache")["Contents"]
    assert [o["Key"] for o in objects] == ["results/k"]
    assert store.get("k") == b"entry"
    store.delete("k")
    assert store.get("k") is None


def test_s3_tier_without_its_bucket_is_a_miss_not_an_error(aws: Aws, caplog: pytest.LogCaptureFixture) -> None:
    cache = ResultCache([S3Store("s3://no-such-bucket/cache/", timeout_s=2)], "fp")
    with caplog.at_level(logging.WARNING, "sdxl.cache"):
        assert cache.lookup("k").images is None
        cache.store("k", IMAGES)
        assert cache.flush()
    assert "s3 read failed" in caplog.text and "NoSuchBucket" in caplog.text
    assert "s3 write failed" in caplog.text
