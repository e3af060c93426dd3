"""A bare Flask app under gunicorn with a null model, for bench/overhead's transport figure: the
same request validation and the same null "generation" (the simulated backend at 0 s, one PNG
encode) as sdxl-inf2's null run, called in the request thread with no queue and no worker process.
Run: BENCH_MODEL_DIR=DIR SDXL_SIMULATED_SECONDS=0 gunicorn -k gthread -w 1 bench.flask_app:app
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, request

from sdxl_inf2.container.backends.simulated import SimulatedBackend
from sdxl_inf2.container.encoding import encode_image
from sdxl_inf2.core.modeldir import inspect_model_dir
from sdxl_inf2.core.schema import parse_request, resolve

MODEL = inspect_model_dir(Path(os.environ["BENCH_MODEL_DIR"]), "off")
BACKEND = SimulatedBackend("cpu", 1)
BACKEND.load(MODEL)
app = Flask(__name__)


@app.get("/ping")
def ping() -> Response:
    return Response('{"status": "ready"}', mimetype="application/json")


@app.post("/invocations")
def invocations() -> Response:
    prompt, fields = parse_request(request.get_json())
    params = resolve(prompt, fields, MODEL, "png")
    return Response(encode_image(BACKEND.generate(params)[0], "png", None, 1), mimetype="image/png")
