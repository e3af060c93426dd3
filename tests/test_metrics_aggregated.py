"""The container's EMF metrics are aggregated (one document per second per dimension set, arrays of
values) without losing a value: a burst sums to what one document per request gave, and SIGTERM
writes what is still pending (the request log lines, written the same way, too). Read back from a
real server's stdout."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import ServerFactory
from tests.emf import datapoints, emf_documents, metric_sum, values, wait_metrics
from tests.server import FAKE
from tests.test_metrics import DIMENSIONS, ENV

TIMINGS = {"queue": "QueueTime", "inference": "InferenceLatency", "encode": "EncodeTime", "total": "RequestLatency"}


def server_timing(header: str) -> dict[str, float]:
    return {name: float(ms) for name, ms in (item.strip().split(";dur=") for item in header.split(","))}


def test_a_burst_sums_to_what_one_document_per_request_gave(servers: ServerFactory, tiny_model: Path) -> None:
    server = servers(tiny_model, env=ENV)
    server.wait_ping(200)
    n = 300  # more than EMF's 100 values per metric per document, from eight connections at once
    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda i: server.invoke({"prompt": f"p{i}"}), range(n)))
    ended = time.time()
    assert [r.status_code for r in responses] == [200] * n
    documents = wait_metrics(server, n)
    points = [p for p in datapoints(documents) if p.dimensions == DIMENSIONS]
    sums = {name: metric_sum(points, name) for name in ("NumberOfInferenceRequests", "CacheMisses", "ImagesGenerated")}
    assert sums == dict.fromkeys(sums, n)
    assert metric_sum(points, "CacheHits") == metric_sum(points, "CoalescedRequests") == 0
    sent = [server_timing(r.headers["Server-Timing"]) for r in responses]
    for key, name in TIMINGS.items():  # every request's own value, none merged or lost
        assert sorted(p.value for p in points if p.name == name) == sorted(timings[key] for timings in sent), name
    assert len(documents) < n / 10  # aggregated: not one document per request
    assert all(stamp % 1000 == 0 for stamp in (d["_aws"]["Timestamp"] for d in documents))  # whole seconds
    stamps = [p.timestamp_ms / 1000 for p in points]  # the second each value happened in (+1: counted after sending)
    assert int(started) <= min(stamps) <= max(stamps) <= int(ended) + 1


def test_sigterm_writes_the_metrics_and_log_lines_still_pending(servers: ServerFactory, tiny_model: Path) -> None:
    # SDXL_METRICS_FLUSH_S=60: no document is due for a minute, so only the shutdown can write these
    server = servers(tiny_model, env={**ENV, "SDXL_BACKEND": FAKE.format("sleeps"), "SDXL_METRICS_FLUSH_S": "60"})
    server.wait_ping(200)
    for i in range(10):
        assert server.invoke({"prompt": f"p{i}"}).status_code == 200
    server.invoke({"prompt": "x", "bogus": 1})  # one failure too
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(server.invoke, {"prompt": "sleep 1.5"})
        time.sleep(0.5)
        assert emf_documents(server) == []  # all twelve still pending
        assert server.stop(signal.SIGTERM, timeout=30) == 0
        assert in_flight.result().status_code == 200
    documents = emf_documents(server)
    points = [p for p in datapoints(documents) if p.dimensions == DIMENSIONS]
    assert metric_sum(points, "NumberOfInferenceRequests") == metric_sum(points, "ImagesGenerated") == 11
    assert metric_sum(points, "Errors") == 1
    assert sum(len(values(d, "RequestLatency")) for d in documents) == 11
    assert len(server.log_entries("sdxl.request")) == 12  # every request's log line, the in-flight one's too
