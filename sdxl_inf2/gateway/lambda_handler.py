"""The Lambda entry point (`gateway.lambda_handler.handler`): a proxy event in, JSON out.

Takes the Function URL / API Gateway HTTP API event (payload 2.0: `requestContext.http.method`,
`rawPath`) and the API Gateway REST event (1.0: `httpMethod`, `path`); bodies may be base64. One
Gateway per execution environment (settings from the function's environment, boto3 clients, the
model card in memory), reused by every invocation it serves.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from typing import Any

import boto3

from sdxl_inf2.core import errors
from sdxl_inf2.core.cache.s3 import short_timeouts

from .routes import HttpRequest, HttpResponse, handle
from .settings import GatewaySettings
from .submit import Gateway, GatewayClients

PAYLOAD_LIMIT = 6 * 1024 * 1024  # a synchronous invocation's request, and its response: 6 MB each
RESPONSE_LIMIT = PAYLOAD_LIMIT - 1024  # less the proxy response's envelope


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    try:
        request = proxy_request(event)
    except errors.ServingError as error:
        return proxy_response(HttpResponse(error.status_code, error.to_dict()))
    return proxy_response(handle(shared_gateway, request))


@functools.cache
def shared_gateway() -> Gateway:
    settings = GatewaySettings.from_environment(os.environ)
    session = boto3.session.Session()
    s3 = session.client("s3", config=short_timeouts(settings.s3_timeout_s))
    return Gateway(settings, GatewayClients(s3, session.client("sagemaker-runtime")))  # metrics: EMF on stdout


def proxy_request(event: dict[str, Any]) -> HttpRequest:
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or event.get("httpMethod") or "GET")
    path = str(event.get("rawPath") or event.get("path") or "/")
    headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return HttpRequest(method, path, headers, str(body).encode())
    try:
        return HttpRequest(method, path, headers, base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        raise errors.BadRequest("body is marked base64 but is not valid base64", field="(body)") from None


def proxy_response(response: HttpResponse) -> dict[str, Any]:
    body = response.json_bytes()
    if len(body) > RESPONSE_LIMIT:  # Lambda would fail the invocation with an opaque error instead
        images = len(response.body.get("images", []))
        message = (
            f"the answer ({len(body)} bytes, {images} image(s) in base64) is over Lambda's 6 MB response limit; "
            "ask for fewer images or output_format jpeg, or use sdxl-inf2 invoke, which reads S3 directly"
        )
        return proxy_response(HttpResponse(502, {"error": {"type": "response_too_large", "message": message}}))
    return {
        "statusCode": response.status,
        "headers": {"Content-Type": "application/json", **response.headers},
        "body": body.decode(),
        "isBase64Encoded": False,
    }
