"""Reading CloudWatch Embedded Metric Format documents out of a server's stdout log.

`emf_documents` returns every line that is an EMF document, after checking it against the EMF
specification's rules (what CloudWatch Logs needs to extract metrics): one JSON object per line,
`_aws.Timestamp` in epoch milliseconds, one or more metric directives with a namespace, dimension
sets whose names are all top-level string members, and metrics whose names are top-level numbers
or arrays of at most 100 numbers.
Other log lines (the JSON request log, gunicorn's plain text) are skipped. The extraction into
datapoints is the local endpoint's own (local_endpoint/emf.py), which forwards them to CloudWatch.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sdxl_inf2.local_endpoint.emf import Datapoint, datapoints
from tests.server import Server

__all__ = ["Datapoint", "datapoints", "emf_documents", "metric_sum", "values", "wait_metrics"]

MAX_VALUES = 100  # per metric per document (the EMF specification)
UNITS = {"Count", "Milliseconds", "Seconds", "Microseconds", "Bytes", "Percent", "None"}


def emf_documents(server: Server) -> list[dict[str, Any]]:
    return emf_documents_in(server.log_text())


def emf_documents_in(text: str) -> list[dict[str, Any]]:
    """The EMF documents among the lines of `text` (a log, or a Lambda's stdout), each checked."""
    documents = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)  # a line that starts like JSON must be one whole JSON document
        if "_aws" in document:
            check_document(document)
            documents.append(document)
    return documents


def check_document(document: dict[str, Any]) -> None:
    meta = document["_aws"]
    assert isinstance(meta["Timestamp"], int) and abs(meta["Timestamp"] / 1e3 - time.time()) < 3600
    assert meta["CloudWatchMetrics"], document
    for directive in meta["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str) and directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            assert all(isinstance(document[name], str) and document[name] for name in dimension_set), document
        for metric in directive["Metrics"]:
            assert metric["Unit"] in UNITS, metric
            assert metric.get("StorageResolution", 60) in (1, 60), metric  # high or standard resolution
            found = values(document, metric["Name"])  # a number, or an array of 1 to 100 numbers
            assert 1 <= len(found) <= MAX_VALUES and all(isinstance(v, int | float) for v in found), metric


def wait_metrics(server: Server, requests: int, errors: int = 0, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The EMF documents once they hold the metrics of at least `requests` inference requests and
    `errors` failed ones (the server writes them about once a second, after the responses)."""
    deadline = time.monotonic() + timeout
    while not holds(documents := emf_documents(server), requests, errors) and time.monotonic() < deadline:
        time.sleep(0.05)
    return documents


def holds(documents: list[dict[str, Any]], requests: int, errors: int) -> bool:
    """Every inference request has one RequestLatency value and every failure one Errors value, in
    one document each."""
    found = [sum(len(values(d, name)) for d in documents) for name in ("RequestLatency", "Errors")]
    return found[0] >= requests and found[1] >= errors


def values(document: dict[str, Any], name: str) -> list[float]:
    """A metric's values in one document (a number or an array of them; none if it is absent)."""
    value = document.get(name, [])
    return value if isinstance(value, list) else [value]


def metric_sum(points: list[Datapoint], name: str, dimensions: dict[str, str] | None = None) -> float:
    return sum(p.value for p in points if p.name == name and (dimensions is None or p.dimensions == dimensions))
