"""Warnings about a failing dependency (an S3 tier, a metrics sink), at most one a minute per kind."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("sdxl.cache")
WARN_EVERY_S = 60.0


class ThrottledWarnings:
    """One warning per (tier, operation) a minute, with the count of those held back."""

    def __init__(self, every_s: float = WARN_EVERY_S) -> None:
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def warn(self, what: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(what, -self.every_s) < self.every_s:
                self._held[what] = self._held.get(what, 0) + 1
                return
            self._last[what] = now
            held = self._held.pop(what, 0)
        suffix = f" ({held} more since the last warning)" if held else ""
        log.warning("cache %s failed, treated as a miss: %s%s", what, message, suffix)
