"""The command's own output: one timestamped line per request state change and per instance event.

Lines go to stdout, flushed at once and never interleaved (the dispatcher, the instance supervisors
and the runtime API all write from their own threads). `deploy`'s progress goes to stderr.
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timezone
from typing import TextIO


def utc_now() -> datetime:
    return datetime.now(timezone.utc)  # noqa: UP017 - datetime.UTC needs 3.11; the project supports 3.10


def from_epoch_ms(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, timezone.utc)  # noqa: UP017


class EventLog:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()

    def line(self, text: str) -> None:
        """A plain line (the start-up environment, `ready`)."""
        with self.lock:
            self.stream.write(f"{text}\n")
            self.stream.flush()

    def event(self, text: str) -> None:
        """A timestamped line: `2026-11-30T10:31:02.123Z <text>`."""
        self.line(f"{utc_now().isoformat(timespec='milliseconds').replace('+00:00', 'Z')} {text}")

    def request(self, inference_id: str, text: str) -> None:
        self.event(f"inference {inference_id} {text}")

    def instance(self, slot: int, text: str) -> None:
        self.event(f"instance {slot} {text}")
