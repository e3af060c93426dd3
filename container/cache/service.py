"""The result cache the front consults before it queues a request.

Only requests that gave a seed are cached (without one the image is random by contract). Lookups go
through the tiers in order (local disk, then S3); an S3 hit is copied to the disk tier. A corrupt
entry is deleted and reads as a miss, so the request is regenerated and the entry rewritten. A new
result is written to the local tier before its response is released (about a millisecond), so a
client that asks again at once gets a hit; the remote tier (S3) is written on one background thread,
through a bounded queue: when the queue is full the write is dropped (a cache may forget), never the
request delayed. Any tier failure (S3 down, disk full, a locked database) is a miss plus a warning
at most once a minute per tier and operation. At start, the model card (card.py) is published to
the shared tier, for the gateway.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sdxl_inf2.core.cache.card import CARD_NAME, ModelCard, model_card
from sdxl_inf2.core.cache.entry import CorruptEntry, pack, unpack
from sdxl_inf2.core.cache.key import cacheable_key, model_fingerprint
from sdxl_inf2.core.errors import exception_line
from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.schema import GenerationParams
from sdxl_inf2.core.throttle import ThrottledWarnings

from ..config import Settings

log = logging.getLogger("sdxl.cache")
WRITE_QUEUE = 64  # pending writes; each holds one response's images in memory


class Store(Protocol):
    name: str
    local: bool  # True: on this instance, written before the response; False: shared, written after

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, blob: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Lookup:
    images: list[bytes] | None  # None: a miss
    tier: str | None = None  # the store that answered a hit


class ResultCache:
    def __init__(self, stores: Sequence[Store], fingerprint: str) -> None:
        self.stores = list(stores)
        self.fingerprint = fingerprint
        self.warnings = ThrottledWarnings()
        self._writes: queue.Queue[tuple[str, list[bytes], list[Store]] | None] = queue.Queue(WRITE_QUEUE)
        self._writer = threading.Thread(target=self._write_loop, name="cache-writer", daemon=True)
        self._writer.start()

    def key_for(self, params: GenerationParams, seeded: bool) -> str | None:
        """The request's key, or None when it must not be cached (no seed given)."""
        return cacheable_key(params, seeded, self.fingerprint)

    def lookup(self, key: str) -> Lookup:
        for index, store in enumerate(self.stores):
            images = self._read(store, key)
            if images is not None:
                if index:  # found in a slower tier: copy it to the faster ones
                    self._enqueue(key, images, self.stores[:index])
                return Lookup(images, store.name)
        return Lookup(None)

    def store(self, key: str, images: list[bytes]) -> None:
        """Write the local tiers now (the caller's response follows) and queue the remote ones."""
        local = [store for store in self.stores if store.local]
        if local:
            self._write(key, pack(images), local)
        remote = [store for store in self.stores if not store.local]
        if remote:
            self._enqueue(key, images, remote)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued write is done (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._writes.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._writes.unfinished_tasks

    def close(self) -> None:
        self.flush(timeout_s=2.0)
        self._writes.put(None)
        self._writer.join(timeout=2.0)
        for store in self.stores:
            store.close()

    def _read(self, store: Store, key: str) -> list[bytes] | None:
        try:
            blob = store.get(key)
            return None if blob is None else unpack(blob)
        except CorruptEntry as exc:
            log.warning("cache entry %s in %s is corrupt (%s): dropped, will be regenerated", key, store.name, exc)
            self._drop(store, key)
        except Exception as exc:
            self.warnings.warn(f"{store.name} read", exception_line(exc))
        return None

    def _drop(self, store: Store, key: str) -> None:
        try:
            store.delete(key)
        except Exception as exc:
            self.warnings.warn(f"{store.name} delete", exception_line(exc))

    def _enqueue(self, key: str, images: list[bytes], stores: list[Store]) -> None:
        try:
            self._writes.put_nowait((key, images, stores))
        except queue.Full:
            self.warnings.warn("write", f"{WRITE_QUEUE} writes already pending; this one is dropped")

    def _write_loop(self) -> None:
        while (item := self._writes.get()) is not None:
            key, images, stores = item
            self._write(key, pack(images), stores)
            self._writes.task_done()
        self._writes.task_done()

    def _write(self, key: str, blob: bytes, stores: list[Store]) -> None:
        for store in stores:
            try:
                store.put(key, blob)
            except Exception as exc:
                self.warnings.warn(f"{store.name} write", exception_line(exc))


def build_cache(settings: Settings, model: ModelInfo, backend: str, device: str) -> ResultCache | None:
    """The configured cache, or None (not configured, or no manifest to key it by: logged once)."""
    if not settings.cache_enabled:
        return None
    if model.manifest is None:
        log.warning("result cache off: %s has no manifest.json, whose digest keys the cache", model.path)
        return None
    fingerprint = model_fingerprint(model.manifest, backend, device, settings)
    cache = ResultCache(_stores(settings), fingerprint)
    tiers = ", ".join(f"{s.name}" for s in cache.stores)
    log.info("result cache on (%s); model fingerprint %s", tiers, fingerprint[:12])
    publish_card(cache.stores, model_card(model, fingerprint, settings.max_body_bytes))
    return cache


def _stores(settings: Settings) -> list[Store]:
    from sdxl_inf2.core.cache.s3 import S3Store

    from .disk import DiskStore

    stores: list[Store] = []
    if settings.cache_dir is not None:
        stores.append(DiskStore(settings.cache_dir, settings.cache_max_bytes))
    if settings.cache_s3_uri is not None:
        stores.append(S3Store(settings.cache_s3_uri, settings.cache_s3_timeout_s))
    return stores


def publish_card(stores: list[Store], card: ModelCard) -> None:
    """Writes the card to every shared tier; a failure is logged, never fatal (the cache still works)."""
    for store in stores:
        if store.local:
            continue
        try:
            store.put(CARD_NAME, card.to_bytes())
            log.info("model card published to the %s tier (fingerprint %s)", store.name, card.fingerprint[:12])
        except Exception as exc:
            why = exception_line(exc)
            log.warning("model card not published to the %s tier (no gateway can key requests): %s", store.name, why)
