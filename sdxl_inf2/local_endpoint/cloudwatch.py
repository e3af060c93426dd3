"""The metrics SageMaker and CloudWatch Logs would publish, put into the local CloudWatch.

Every period (60 s; `--metrics-period` shortens it for tests and demos):
- AWS/SageMaker, EndpointName: ApproximateBacklogSize (queued + in flight),
  ApproximateBacklogSizePerInstance, ApproximateAgeOfOldestRequest (seconds, of what waits) and
  HasBacklogWithoutCapacity (1 while requests wait and no instance is ready);
- the containers' EMF metrics, read from their stdout, as CloudWatch Logs would extract them.
Once per UTC minute, one CPUUtilization sample per live instance (/aws/sagemaker/Endpoints,
EndpointName + VariantName), so its SampleCount over a minute is the instance count: the usage-rate
policy's m1, whatever the period.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, cast

import psutil
from botocore.exceptions import BotoCoreError, ClientError

from sdxl_inf2.core import metrics
from sdxl_inf2.deploy.clients import Clients

from .dispatcher import Backlog
from .emf import Datapoint, datapoints, emf_document
from .events import EventLog, from_epoch_ms, utc_now
from .instances import Instance

if TYPE_CHECKING:
    from types_boto3_cloudwatch.literals import StandardUnitType
    from types_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDatumTypeDef

MAX_DATUMS = 1000  # per PutMetricData call


class MetricsPublisher:
    def __init__(
        self,
        clients: Clients,
        endpoint: str,
        variant: str,
        period_s: float,
        backlog: Callable[[], Backlog] | None,
        instances: Callable[[], list[Instance]],
        events: EventLog,
    ) -> None:
        self.clients, self.endpoint, self.variant, self.period_s = clients, endpoint, variant, period_s
        self.backlog, self.instances, self.events = backlog, instances, events
        self.pending: list[Datapoint] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sampled_minute: datetime | None = None
        self.cpu_marks: dict[int, tuple[float, float]] = {}  # pid -> (wall, cpu seconds)
        self.thread = threading.Thread(target=self._run, name="metrics", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)

    def forward(self, line: str) -> None:
        """An instance's log line: kept for the next put if it is an EMF document."""
        document = emf_document(line)
        if document is not None:
            with self.lock:
                self.pending.extend(datapoints([document]))

    def _run(self) -> None:
        while True:
            try:
                self.publish()
            except (ClientError, BotoCoreError) as exc:
                self.events.event(f"metrics not published: {exc}")
            if self.stopping.wait(self.period_s):
                return

    def publish(self) -> None:
        now = utc_now()
        data: dict[str, list[MetricDatumTypeDef]] = defaultdict(list)
        if self.backlog is not None:
            data[metrics.SAGEMAKER_NAMESPACE] += self._backlog_data(now)
        minute = now.replace(second=0, microsecond=0)
        if minute != self.sampled_minute:
            self.sampled_minute = minute
            data[metrics.INSTANCE_NAMESPACE] += self._cpu_data(now)
        with self.lock:
            forwarded, self.pending = self.pending, []
        for point in forwarded:
            data[point.namespace].append(_datum(point))
        for namespace, datums in data.items():
            for start in range(0, len(datums), MAX_DATUMS):
                self.clients.cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=datums[start : start + MAX_DATUMS]
                )

    def _backlog_data(self, now: datetime) -> list[MetricDatumTypeDef]:
        assert self.backlog is not None
        backlog, live = self.backlog(), len(self.instances())
        dimensions: list[DimensionTypeDef] = [{"Name": metrics.ENDPOINT_DIMENSION, "Value": self.endpoint}]
        values = metrics.backlog_metrics(backlog.size, live, backlog.oldest_age_s)
        return [_metric(name, dimensions, value, metrics.BACKLOG_UNITS[name], now) for name, value in values.items()]

    def _cpu_data(self, now: datetime) -> list[MetricDatumTypeDef]:
        dimensions: list[DimensionTypeDef] = [
            {"Name": metrics.ENDPOINT_DIMENSION, "Value": self.endpoint},
            {"Name": metrics.VARIANT_DIMENSION, "Value": self.variant},
        ]
        cpu = metrics.INSTANCE_COUNT_METRIC
        return [_metric(cpu, dimensions, self._cpu_percent(i.pid), "Percent", now) for i in self.instances()]

    def _cpu_percent(self, pid: int) -> float:
        """CPU of the instance's whole process tree since its last sample (0-N x 100 %, as SageMaker's)."""
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
            used = sum(sum(p.cpu_times()[:2]) for p in tree)
        except psutil.Error:
            return 0.0
        wall = time.monotonic()
        last_wall, last_used = self.cpu_marks.get(pid, (wall, used))
        self.cpu_marks[pid] = (wall, used)
        return max(0.0, 100.0 * (used - last_used) / (wall - last_wall)) if wall > last_wall else 0.0


def _metric(name: str, dimensions: list[DimensionTypeDef], value: float, unit: str, at: datetime) -> MetricDatumTypeDef:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Value": float(value),
        "Unit": cast("StandardUnitType", unit),
        "Timestamp": at,
    }


def _datum(point: Datapoint) -> MetricDatumTypeDef:
    dimensions: list[DimensionTypeDef] = [{"Name": k, "Value": v} for k, v in point.dimensions.items()]
    at = from_epoch_ms(point.timestamp_ms) if point.timestamp_ms else utc_now()
    # as CloudWatch Logs stores an EMF metric: at high resolution where the document says so (the heartbeat)
    return {
        **_metric(point.name, dimensions, point.value, point.unit, at),
        "StorageResolution": point.storage_resolution,
    }
