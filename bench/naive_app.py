"""The naive alternative bench/dispatch compares against: gunicorn sync workers, one "model" each,
the kernel balancing accepts between them. /ping is served by the same workers, so it waits
behind generations. Run: gunicorn -w 12 -k sync bench.naive_app:app (SDXL_SIMULATED_SECONDS)."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from PIL import Image

SECONDS = float(os.environ.get("SDXL_SIMULATED_SECONDS", "0.2"))
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (seed % 256, 0, 0)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/ping":
        body = b'{"status": "ready"}'
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    request = json.loads(environ["wsgi.input"].read(length) or b"{}")
    time.sleep(SECONDS)  # the worker's own "chip"
    body = _png(int(request.get("seed", 0)))
    start_response("200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(body)))])
    return [body]
