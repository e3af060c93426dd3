"""CloudWatch Embedded Metric Format documents read back into datapoints, as CloudWatch Logs would.

The container writes its metrics as EMF lines on stdout (container/metrics.py). On SageMaker,
CloudWatch Logs extracts them from the endpoint's log group; the local endpoint reads its instances'
stdout and puts the same datapoints into moto's CloudWatch. The tests read a server's log with the
same extraction (tests/emf.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Datapoint:
    namespace: str
    name: str
    unit: str
    value: float
    dimensions: dict[str, str]  # one dimension set, with its values
    timestamp_ms: int = 0  # the document's _aws.Timestamp
    storage_resolution: int = 60  # the metric's StorageResolution: 1 is high resolution


def emf_document(line: str) -> dict[str, Any] | None:
    """The EMF document on this log line, or None for any other line (request logs, gunicorn text)."""
    if not line.startswith("{"):
        return None
    try:
        document = json.loads(line)
    except ValueError:
        return None
    return document if isinstance(document, dict) and isinstance(document.get("_aws"), dict) else None


def datapoints(documents: list[dict[str, Any]]) -> list[Datapoint]:
    """One datapoint per value (a metric's array has several) per dimension set, as CloudWatch would extract them."""
    found = []
    for document in documents:
        timestamp = int(document["_aws"].get("Timestamp", 0))
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = {name: document[name] for name in dimension_set}
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]  # a number, or an array of up to 100 (one datapoint each)
                    name, unit = metric["Name"], metric.get("Unit", "None")
                    resolution = int(metric.get("StorageResolution", 60))
                    for one in value if isinstance(value, list) else [value]:
                        point = Datapoint(directive["Namespace"], name, unit, one, dimensions, timestamp, resolution)
                        found.append(point)
    return found
