"""bench/dispatch's third design: sdxl-inf2's own worker pool under a bare WSGI callable.

The same `serve` plan, gunicorn front, dispatcher, runner threads, pipes and model worker processes
as sdxl-inf2, but /invocations is answered by a few lines of WSGI instead of the Flask app: the
request is read and resolved with the container's own code, then submitted and awaited, and the
image is returned. No Flask, metrics, request log, cache, Server-Timing or error mapping (any
failure is gunicorn's 500). /ping still goes through the Flask app.

So bench/dispatch can tell what the app layer costs from what the pool and its two process hops
cost. Not a server to deploy.
Run: python -m bench.bare_front --model-dir DIR (with the SDXL_* variables `serve` reads).
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sdxl_inf2.container.jobs import Job
from sdxl_inf2.container.logs import configure_logging
from sdxl_inf2.container.runtime import Runtime
from sdxl_inf2.container.server import GunicornServer, ServePlan, make_app
from sdxl_inf2.core.invocation import read_invocation

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def bare(flask_app: Any) -> WsgiApp:
    """/invocations answered straight from the pool; everything else by `flask_app`."""
    runtime: Runtime = flask_app.extensions["sdxl"]

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/invocations":
            return flask_app(environ, start_response)  # type: ignore[no-any-return]
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        invocation = read_invocation(json.loads(raw), environ.get("HTTP_ACCEPT"), runtime.model)
        job = Job(invocation.params, uuid.uuid4().hex, runtime.settings.request_timeout_s)
        image = runtime.pool.submit(job).wait().images[0]
        start_response("200 OK", [("Content-Type", invocation.plan.mimetype), ("Content-Length", str(len(image)))])
        return [image]

    return app


class BareFront(GunicornServer):
    def load(self) -> WsgiApp:
        return bare(make_app(self.plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model-dir", type=Path, required=True)
    configure_logging("warning")
    BareFront(ServePlan.build(parser.parse_args().model_dir)).run()


if __name__ == "__main__":
    main()
