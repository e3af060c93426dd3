"""sagemaker-runtime on loopback: InvokeEndpointAsync and, for a real-time endpoint, InvokeEndpoint.

Paths, headers and answers follow botocore's service model (rest-json), so any boto3 program
pointed here with AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME runs unchanged:
- `POST /endpoints/{name}/async-invocations` -> 202, `{"InferenceId"}` in the body, the output
  and failure locations in `X-Amzn-SageMaker-OutputLocation` / `-FailureLocation`;
- `POST /endpoints/{name}/invocations` -> the container's answer, proxied to a ready instance
  (ModelError 424 with the container's status and message for a non-2xx);
- errors carry `X-Amzn-ErrorType` and `{"__type", "message"}`, which botocore turns into ClientError.
Signatures are not checked (as in moto).
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import uuid
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, make_server

from . import request as wording
from .async_input import InvalidAsyncRequest, parse_async_request
from .attempt import InstanceLost, container_headers, post_invocation
from .dispatcher import Dispatcher
from .errors import LocalEndpointError
from .instances import Fleet
from .served_endpoint import ServedEndpoint

REAL_TIME_TIMEOUT_S = 60  # InvokeEndpoint's limit


def aws_error(code: str, message: str, status: int, **extra: Any) -> Response:
    body = {"__type": code, "message": message, **extra}
    headers = {"X-Amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())}
    return Response(json.dumps(body), status, mimetype="application/json", headers=headers)


class RuntimeApi:
    def __init__(self, endpoint: ServedEndpoint, fleet: Fleet, dispatcher: Dispatcher | None, min_ttl_s: int):
        self.endpoint, self.fleet, self.dispatcher, self.min_ttl_s = endpoint, fleet, dispatcher, min_ttl_s
        self.turns = itertools.count()
        self.app = Flask("local_endpoint")
        self.app.add_url_rule("/endpoints/<name>/async-invocations", "async", self.invoke_async, methods=["POST"])
        self.app.add_url_rule("/endpoints/<name>/invocations", "sync", self.invoke, methods=["POST"])
        self.app.register_error_handler(HTTPException, self._unknown)

    def _unknown(self, exc: HTTPException) -> Response:
        return aws_error("UnknownOperationException", f"{request.method} {request.path}: no such operation", 404)

    def _missing(self, name: str) -> Response | None:
        if name == self.endpoint.name:
            return None
        return aws_error("ValidationError", f"Endpoint {name} of account {self.endpoint.account} not found.", 400)

    def invoke_async(self, name: str) -> Response:
        settings = self.endpoint.async_settings
        if (missing := self._missing(name)) is not None:
            return missing
        if settings is None or self.dispatcher is None:
            message = f"Endpoint {name} is a real-time endpoint (no AsyncInferenceConfig): call InvokeEndpoint"
            return aws_error("ValidationError", message, 400)
        try:
            queued = parse_async_request(name, request.headers, request.get_data(), settings, self.min_ttl_s)
        except InvalidAsyncRequest as exc:
            return aws_error("ValidationError", str(exc), 400)
        self.dispatcher.submit(queued)
        headers = {"X-Amzn-SageMaker-OutputLocation": queued.output_location, "x-amzn-RequestId": str(uuid.uuid4())}
        if queued.failure_location:
            headers["X-Amzn-SageMaker-FailureLocation"] = queued.failure_location
        body = json.dumps({"InferenceId": queued.inference_id})
        return Response(body, 202, mimetype="application/json", headers=headers)

    def invoke(self, name: str) -> Response:
        if (missing := self._missing(name)) is not None:
            return missing
        if self.endpoint.async_settings is not None:
            message = f"Endpoint {name} is an asynchronous endpoint (AsyncInferenceConfig): call InvokeEndpointAsync"
            return aws_error("ValidationError", message, 400)
        ready = self.fleet.ready()
        if not ready:
            return aws_error("ServiceUnavailable", "No instance of the endpoint is ready.", 503)
        instance = ready[next(self.turns) % len(ready)]
        headers = container_headers(
            request.headers.get("X-Amzn-SageMaker-Inference-Id") or str(uuid.uuid4()),
            request.headers.get("Content-Type"),
            request.headers.get("Accept"),
            request.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
        )
        try:
            answer = post_invocation(instance.port, request.get_data(), headers, REAL_TIME_TIMEOUT_S)
        except InstanceLost:
            self.fleet.report_lost(instance)
            return aws_error("ServiceUnavailable", "The instance went away during the request.", 503)
        except TimeoutError:
            return _model_error(0, wording.TIMED_OUT.encode(), instance.log_path.as_posix())
        if not 200 <= answer.status < 300:
            return _model_error(answer.status, answer.body, instance.log_path.as_posix())
        sent = {"x-Amzn-Invoked-Production-Variant": self.endpoint.variant, "x-amzn-RequestId": str(uuid.uuid4())}
        if answer.custom_attributes:
            sent["X-Amzn-SageMaker-Custom-Attributes"] = answer.custom_attributes
        return Response(answer.body, 200, content_type=answer.content_type, headers=sent)


def _model_error(status: int, body: bytes, log: str) -> Response:
    message = f"{wording.received_error(status, body)}. See {log} for more information."
    original = body.decode("utf-8", errors="replace")
    return aws_error("ModelError", message, 424, OriginalStatusCode=status, OriginalMessage=original, LogStreamArn=log)


def _starting(environ: Any, start_response: Any) -> list[bytes]:
    start_response(
        "503 Service Unavailable", [("Content-Type", "application/json"), ("X-Amzn-ErrorType", "ServiceUnavailable")]
    )
    return [json.dumps({"__type": "ServiceUnavailable", "message": "the local endpoint is starting"}).encode()]


def bind(port: int) -> BaseWSGIServer:
    """Holds the port from the first moment (a port in use is a one-line error); it answers 503 until
    `attach` gives it the API."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log: the event log says it all
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as socketserver does
    try:
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
    except OSError as exc:  # bound here: werkzeug's own bind would print and exit
        listener.close()
        raise LocalEndpointError(f"port {port} is not free ({exc.strerror}): choose another with --port") from None
    with listener:
        return make_server("127.0.0.1", port, _starting, threaded=True, fd=listener.fileno())


def attach(server: BaseWSGIServer, api: RuntimeApi) -> None:
    server.app = api.app
