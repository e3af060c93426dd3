"""Progress messages for people go to stderr; stdout carries only results (names, paths, JSON)."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
