"""`serve`: what SageMaker runs (`docker run IMAGE serve`), also `python serve.py` and `sdxl-inf2 serve`.

The gunicorn master (this process) holds no model and starts no threads. It forks one gthread
front worker; the front builds the Flask app and the worker pool, which spawns the model workers.
SIGTERM: gunicorn stops accepting, in-flight requests finish within SDXL_GRACEFUL_TIMEOUT_S, the
pool ends its workers, and the master exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.modeldir import ModelInfo, inspect_model_dir
from sdxl_inf2.core.workers import instance_cores

from . import http_errors
from .arguments import add_serve_arguments
from .backends import resolve_backend
from .config import ConfigError, Settings, load_settings
from .devices import WorkerSlot
from .logs import configure_logging
from .variants import Lanes, plan_lanes

log = logging.getLogger("sdxl.server")


class ServePlan:
    """Everything decided before the front starts: settings, model, backend and each variant's worker slots."""

    def __init__(self, settings: Settings, model: ModelInfo, backend: str, lanes: Lanes) -> None:
        self.settings, self.model, self.backend, self.lanes = settings, model, backend, lanes

    @property
    def slots(self) -> list[WorkerSlot]:
        return [slot for slots in self.lanes.values() for slot in slots]

    @classmethod
    def build(
        cls, model_dir: Path | None = None, environ: Mapping[str, str] | None = None, probe: bool = True
    ) -> ServePlan:
        """Reads the settings and the model folder's JSON files and plans the workers; loads no model.
        `probe=False` (serve --plan) takes a compiled folder as the Neuron image would, without
        importing torch_neuronx even in a child."""
        settings = load_settings(environ, model_dir=model_dir)
        model = inspect_model_dir(settings.model_dir, settings.verify_model)
        backend, device = resolve_backend(settings, model, probe=probe)
        layout = plan_lanes(settings, model, device)
        return cls(settings, layout.model, backend, layout.lanes)

    def to_json(self) -> dict[str, Any]:
        """`serve --plan`: every worker, its variant, its NeuronCores and the environment that pins it."""
        workers = sorted((slot.index, name, slot) for name, slots in self.lanes.items() for slot in slots)
        return {
            "workers": [
                {"index": index, "variant": name, "cores": slot.cores, "env": slot.env} for index, name, slot in workers
            ]
        }


def check_cache_dir(settings: Settings) -> None:
    """Fail at start, in one line, on a cache folder that cannot be written (not on the first request)."""
    if settings.cache_dir is None:
        return
    try:
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=settings.cache_dir):
            pass
    except OSError as exc:
        where = str(settings.cache_dir)
        raise ConfigError(f"SDXL_CACHE_DIR={where!r}: not a writable folder ({exc.strerror})") from None


def make_app(plan: ServePlan) -> Any:
    """Runs in the front worker after fork: builds the pool (spawning the model workers) and the app."""
    from .app import create_app
    from .cache import build_cache
    from .inflight import InFlight
    from .logs import RequestLog
    from .metrics import MetricsEmitter
    from .pool import WorkerPool
    from .runtime import Runtime
    from .worker import WorkerConfig

    variants = {variant.name: variant.model for variant in plan.model.served}

    def config_for(variant: str, slot: WorkerSlot) -> WorkerConfig:
        return WorkerConfig(
            slot,
            plan.backend,
            len(plan.slots),
            variants[variant],  # each variant's workers load that variant's model folder
            os.getpid(),
            plan.settings.png_compress_level,
            plan.settings.log_level,
            plan.settings.encode,
        )

    pool = WorkerPool(plan.settings, plan.lanes, config_for)
    cache = build_cache(plan.settings, plan.model, plan.backend, plan.slots[0].device)
    metrics = MetricsEmitter.from_settings(plan.settings, by_variant=plan.model.has_variants, in_service=pool.serving)
    inflight = InFlight(pool.submit, cache.store) if cache is not None else None
    request_log = RequestLog(plan.settings.log_prompts)
    runtime = Runtime(plan.settings, plan.model, plan.backend, pool, request_log, cache, metrics, inflight)
    app = create_app(runtime)
    pool.start()
    return app


def _stop_pool(_server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    runtime = app.extensions.get("sdxl") if app is not None else None
    if runtime is not None:
        runtime.pool.stop(timeout_s=2.0)
        runtime.close()  # the cache's queued writes; every answered request's log line and metrics


class GunicornServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, plan: ServePlan) -> None:
        self.plan = plan
        super().__init__()

    def load_config(self) -> None:
        s = self.plan.settings
        options = {
            "bind": f"{s.host}:{s.port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": s.threads_for(len(self.plan.slots), queues=len(self.plan.lanes)),
            "timeout": 120,
            "keepalive": s.keepalive_s,
            "graceful_timeout": math.ceil(s.graceful_timeout_s),
            "preload_app": False,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": s.log_level,
            "proc_name": "sdxl-inf2",
            "worker_exit": _stop_pool,
            "forwarded_allow_ips": "127.0.0.1",
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        http_errors.install()
        return make_app(self.plan)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    configure_logging(os.environ.get("SDXL_LOG_LEVEL", "info") or "info")
    try:
        if args.plan:
            print(json.dumps(_plan_only(args).to_json(), indent=2))
            return 0
        plan = ServePlan.build(args.model_dir)
        check_cache_dir(plan.settings)
    except SdxlError as exc:  # a setting, the model folder, the devices, the backend: one line, no trace
        print(f"serve: error: {exc}", file=sys.stderr)
        return 2
    log.info(
        "serving %s (%s) with %s backend on %s:%d: %s",
        plan.model.path,
        plan.model.describe_shapes(),
        plan.backend,
        plan.settings.host,
        plan.settings.port,
        "; ".join(f"{s.describe()} -> {name}" for name, slots in plan.lanes.items() for s in slots),
    )
    GunicornServer(plan).run()
    return 0


def _plan_only(args: argparse.Namespace) -> ServePlan:
    """The plan `serve` would start, on this machine's devices or an inf2 instance type's NeuronCores."""
    environ = dict(os.environ)
    if args.instance_type:
        cores = instance_cores(args.instance_type)
        if cores is None:
            raise ConfigError(f"--instance-type {args.instance_type!r}: not an inf2 instance type (ml.inf2.*)")
        environ["NEURON_RT_VISIBLE_CORES"] = f"0-{cores - 1}"
    return ServePlan.build(args.model_dir, environ, probe=False)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="serve", description=__doc__.splitlines()[0])
    add_serve_arguments(parser)
    # SageMaker runs `docker run IMAGE serve`; with the console script as ENTRYPOINT the word
    # `serve` arrives as an argument, so accept and ignore it.
    parser.add_argument("command", nargs="?", choices=["serve"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
