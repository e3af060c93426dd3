"""The Flask front: /ping and /invocations. It never touches a model; the pool does. POST /invocations
is answered before Flask, by the same handler (container/invocations.py)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request

from sdxl_inf2.core.headers import INFERENCE_ID
from sdxl_inf2.core.modeldir import Variant

from .exchange import new_exchange
from .finish import finish_request
from .invocations import Invocations, invocations
from .responses import error_response, json_response
from .runtime import Runtime


def create_app(runtime: Runtime) -> Flask:
    app = Flask("sdxl_inf2")
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_body_bytes
    app.config["PROPAGATE_EXCEPTIONS"] = True  # only what error_response re-raises reaches gunicorn
    app.extensions["sdxl"] = runtime
    app.add_url_rule("/ping", "ping", lambda: ping(runtime), methods=["GET"])
    # POST /invocations itself is answered before Flask; this rule serves what else Flask routes here
    # (other spellings of the path, e.g. //invocations) and gives other methods Flask's 405.
    app.add_url_rule("/invocations", "invocations", lambda: invocations(runtime, request, g.exchange), methods=["POST"])
    app.register_error_handler(Exception, lambda exc: _handle_error(exc, runtime))
    app.before_request(_start_request)
    app.after_request(lambda response: finish_request(response, runtime))
    app.wsgi_app = Invocations(runtime, app.wsgi_app)  # type: ignore[method-assign]
    return app


def ping(runtime: Runtime) -> Response:
    status = runtime.pool.status()
    body = {
        "status": status.state,
        "workers": {"ready": status.workers_ready, "total": status.workers_total},
        "queued": status.queued,
        "backend": runtime.backend,
        "shapes": [{"height": s.height, "width": s.width} for s in runtime.model.shapes],
        "max_images": runtime.model.max_images,
        "variants": {v.name: {**status.variants[v.name], **_describe(v)} for v in runtime.model.served},
        "slots": status.slots,
    }
    return json_response(body, 200 if status.healthy else 503)


def _describe(variant: Variant) -> dict[str, Any]:
    model = variant.model
    shapes = [{"height": s.height, "width": s.width} for s in model.shapes]
    return {"shapes": shapes, "max_images": model.max_images, "defaults": model.defaults.model_dump()}


def _handle_error(exc: Exception, runtime: Runtime) -> Response:
    return error_response(exc, g.exchange, request.path, runtime.settings.max_body_bytes)


def _start_request() -> None:
    g.exchange = new_exchange(request.headers.get(INFERENCE_ID))
