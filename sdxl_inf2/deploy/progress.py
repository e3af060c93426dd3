"""A live one-line status for long waits, and the polling loop that drives it.

On a terminal the line is redrawn in place; elsewhere (CI logs, pipes) a line is printed only when
the status text changes, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from .errors import WaitTimeout

# One poll: (what to show, whether the wait is over). It raises to end the wait with an error.
Poll = Callable[[], tuple[str, bool]]


class StatusLine:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.last = ""

    def show(self, text: str) -> None:
        if self.live:
            self.stream.write(f"\r\033[K{text}")
        elif text.split(" (")[0] != self.last.split(" (")[0]:  # ignore the elapsed-time tail
            self.stream.write(f"{text}\n")
        self.stream.flush()
        self.last = text

    def finish(self, text: str) -> None:
        self.stream.write(f"\r\033[K{text}\n" if self.live else f"{text}\n")
        self.stream.flush()


def wait_for(poll: Poll, label: str, *, poll_s: float, timeout_s: float, line: StatusLine | None = None) -> str:
    """Poll until it reports done; returns its last text. WaitTimeout after `timeout_s`."""
    line = line or StatusLine()
    start = time.monotonic()
    while True:
        text, done = poll()
        elapsed = time.monotonic() - start
        if done:
            line.finish(f"{label}: {text} after {format_duration(elapsed)}")
            return text
        line.show(f"{label}: {text} ({format_duration(elapsed)})")
        if elapsed + poll_s > timeout_s:
            line.finish(f"{label}: still {text} after {format_duration(elapsed)}")
            raise WaitTimeout(f"{label}: still {text} after {format_duration(elapsed)} (limit {timeout_s:g}s)")
        time.sleep(poll_s)


def format_duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"
