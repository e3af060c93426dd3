"""bench/cache_metrics: what the result cache and the EMF metrics cost one request, in the front.

In-process, median of many calls: the cache key, a disk lookup that misses, a disk hit (read, LRU
update and checksum) and a disk write (pack + put, as a miss pays before its response) for a small
and an SDXL-sized (1.5 MB) PNG, and one request's EMF metrics: what the request pays (an append)
and its share of the metrics thread's aggregated documents at 100 requests a second. The latency
path pays the key, the lookup and, for a miss, the disk write; metrics and S3 writes run after the
response is sent (CPU, not latency).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import itertools
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import median, save, table
from sdxl_inf2.container.cache.disk import DiskStore
from sdxl_inf2.container.metrics import MetricsEmitter, RequestOutcome
from sdxl_inf2.core.cache.entry import pack, unpack
from sdxl_inf2.core.cache.key import request_key
from sdxl_inf2.core.metrics import NAMESPACE
from sdxl_inf2.core.schema import GenerationParams

PARAMS = GenerationParams("a photo of a cat", None, None, None, 30, 5.0, 42, 1024, 1024, 1, "default", "png", None)
TIMINGS = {"queue": 1.0, "inference": 9700.0, "encode": 40.0, "total": 9742.0}
OUTCOME = RequestOutcome("id", 200, "miss", None, 1, TIMINGS)
Rows = list[tuple[str, float]]


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return median(times) * 1e6


def cache_rows(repeat: int) -> Rows:
    rows = [("cache key (sha256 of the resolved request)", per_call_us(lambda: request_key(PARAMS, "f" * 64), repeat))]
    with tempfile.TemporaryDirectory() as folder:
        store = DiskStore(Path(folder), 1 << 30)
        rows.append(("disk lookup, miss", per_call_us(lambda: store.get("absent"), repeat)))
        for label, size in (("20 KB", 20_000), ("1.5 MB", 1_500_000)):
            image = os.urandom(size)
            blob = pack([image])
            keys = (f"{label}-{n}" for n in itertools.count())  # a miss writes a new key (overwrites cost more)
            write_us = per_call_us(lambda: store.put(next(keys), pack([image])), repeat // 20)  # noqa: B023
            rows.append((f"disk write, {label} (pack + put, before a miss's response)", write_us))
            store.put(label, blob)
            read_us = per_call_us(functools.partial(store.get, label), repeat // 4)
            rows.append((f"disk lookup, hit, {label} (read + LRU update)", read_us))
            rows.append((f"checksum check, {label}", per_call_us(functools.partial(unpack, blob), repeat // 4)))
        store.close()
    return rows


def metrics_rows(repeat: int) -> Rows:
    emitter = MetricsEmitter(NAMESPACE, "e", "v", flush_interval_s=60)  # flushed here, not by its thread
    with contextlib.redirect_stdout(io.StringIO()):
        request_path = per_call_us(lambda: emitter.emit(OUTCOME), repeat)
        emitter.flush()

        def one_second(requests: int = 100) -> None:
            for _ in range(requests):
                emitter.emit(OUTCOME)
            emitter.flush()

        background = per_call_us(one_second, max(1, repeat // 100)) / 100
        emitter.close()
    return [
        ("EMF, one request on the request path (an append)", request_path),
        ("EMF, one request in the metrics thread (100 a second, aws-embedded-metrics)", background),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    rows = cache_rows(args.repeat) + metrics_rows(args.repeat)
    print(table(["step", "median us"], [[name, round(us, 1)] for name, us in rows]))
    save("cache_metrics", {"rows": [{"step": name, "median_us": us} for name, us in rows]})


if __name__ == "__main__":
    main()
