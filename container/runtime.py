"""What the front's request handlers share: settings, model, pool, cache, metrics, in-flight table.

Built once per front process (server.make_app) and stored on the Flask app; app.py, invocations.py
and finish.py all read it, so it lives here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdxl_inf2.core.modeldir import ModelInfo

from .cache import ResultCache
from .config import Settings
from .inflight import InFlight
from .logs import RequestLog
from .metrics import MetricsEmitter
from .pool import WorkerPool


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    model: ModelInfo
    backend: str
    pool: WorkerPool
    request_log: RequestLog
    cache: ResultCache | None = None
    metrics: MetricsEmitter | None = None
    inflight: InFlight | None = None  # identical cacheable requests in flight share one job

    def close(self) -> None:
        """After the pool stopped: the cache's queued writes, then the pending request log lines and metrics."""
        if self.cache is not None:
            self.cache.close()
        self.request_log.close()
        if self.metrics is not None:
            self.metrics.close()
