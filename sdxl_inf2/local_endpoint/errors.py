"""What `sdxl-inf2 local-endpoint` can fail with at start: one line for `sdxl-inf2: error: ...`, exit 2."""

from __future__ import annotations


class LocalEndpointError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # always one line
