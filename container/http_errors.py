"""JSON for the errors gunicorn answers itself, before a request reaches Flask (a malformed request
line, too many or too large headers, a bad chunked body): clients get the same error shape as from
the app, `{"error": {"type": "bad_http_request", "message": ...}}`, instead of gunicorn's HTML page.

gunicorn offers no hook for these responses; its worker calls `gunicorn.util.write_error` at call
time, so the front installs this writer in its place.
"""

from __future__ import annotations

import json
import socket

import gunicorn.util

from sdxl_inf2.core.errors import one_line


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    message = one_line(f"{reason}: {mesg}")
    body = json.dumps({"error": {"type": "bad_http_request", "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1", "replace")
    gunicorn.util.write_nonblock(sock, head + body)


def install() -> None:
    gunicorn.util.write_error = write_json_error
