"""`sdxl-inf2 gateway serve CONFIG`: the gateway's HTTP API (routes.py) as a small local HTTP service.

For development and for the local async endpoint: the same routes and Gateway as the Lambda function,
served by werkzeug's threaded WSGI server, with the deployment config's settings and the caller's AWS
session (PutMetricData for the demand counts). SIGTERM or Ctrl-C stops it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sdxl_inf2.core.errors import PayloadTooLarge

from .lambda_handler import PAYLOAD_LIMIT
from .routes import HttpRequest, HttpResponse, handle
from .submit import Gateway

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MAX_BODY_BYTES = PAYLOAD_LIMIT  # Lambda's, so local behaves as deployed


def wsgi_app(gateway: Gateway) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_BODY_BYTES
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            answer = handle(lambda: gateway, HttpRequest(request.method, request.path, headers, request.get_data()))
        except RequestEntityTooLarge:
            answer = HttpResponse(413, PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes").to_dict())
        response = Response(answer.json_bytes(), answer.status, headers=answer.headers, mimetype="application/json")
        return response(environ, start_response)

    return app


def serve(gateway: Gateway, host: str, port: int, ready: Callable[[str], Any]) -> None:
    """Serves until SIGTERM or SIGINT; `ready` gets the base URL once the socket listens."""
    server = make_server(host, port, wsgi_app(gateway), threaded=True)
    stop = threading.Event()

    def shut_down(_signal: int, _frame: object) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    ready(f"http://{host}:{server.server_port}")
    server.serve_forever()
    server.server_close()
