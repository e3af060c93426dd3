"""JSON-lines logging on stdout (SageMaker ships container stdout to CloudWatch Logs), and the
request log: one line per request, written off the request path."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from .batching import Batched

if TYPE_CHECKING:
    from sdxl_inf2.core.schema import GenerationParams

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
request_log = logging.getLogger("sdxl.request")
REQUEST_LOG_INTERVAL_S = 0.2  # how late a request's line may appear
Logged = tuple[float, dict[str, Any], "GenerationParams | None"]  # (time.time() at its end, fields, parameters)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields passed with `extra={...}` become top-level keys."""

    def __init__(self, static: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.static = static or {}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **self.static,
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "info", **static: Any) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(static))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "PIL", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class RequestLog:
    """One JSON line per request (logger `sdxl.request`), stamped with the time the request ended and
    written by a background thread (container/finish.py hands the fields over)."""

    def __init__(self, log_prompts: bool, interval_s: float = REQUEST_LOG_INTERVAL_S) -> None:
        self.log_prompts = log_prompts
        self._lines: Batched[Logged] = Batched("request-log", self._write, interval_s)

    def add(self, entry: dict[str, Any], params: GenerationParams | None) -> None:
        if request_log.isEnabledFor(logging.INFO):  # SDXL_LOG_LEVEL above info: nothing to write
            self._lines.add((time.time(), entry, params))

    def close(self) -> None:
        self._lines.close()

    def _write(self, batch: list[Logged]) -> None:
        for ended, entry, params in batch:
            if params is not None:
                entry["parameters"] = params.echo(include_prompts=self.log_prompts)
            record = request_log.makeRecord(request_log.name, logging.INFO, "", 0, "request", (), None, extra=entry)
            record.created, record.msecs = ended, (ended - int(ended)) * 1000  # when it ended, not now
            request_log.handle(record)
