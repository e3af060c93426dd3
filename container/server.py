"""`serve`: what SageMaker runs (`docker run IMAGE serve`), also `python serve.py` and `sdxl-inf2 serve`.

The gunicorn master (this process) holds no model and starts no threads. It forks one gthread
front worker; the front builds the Flask app and the worker pool, which spawns the model workers.
SIGTERM: gunicorn stops accepting, in-flight requests finish within SDXL_GRACEFUL_TIMEOUT_S, the
pool ends its workers, and the master exits 0.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.modeldir import ModelInfo, inspect_model_dir
from sdxl_inf2.core.variants import VariantPlanError

from . import http_errors
from .backends import resolve_backend
from .config import ConfigError, Settings, load_settings
from .devices import DeviceKind, WorkerSlot, plan_workers
from .logs import configure_logging
from .variants import assign_slots, split_workers

log = logging.getLogger("sdxl.server")
Lanes = dict[str, list[WorkerSlot]]  # variant -> the worker slots that load its model


class ServePlan:
    """Everything decided before the front starts: settings, model, backend and each variant's worker slots."""

    def __init__(self, settings: Settings, model: ModelInfo, backend: str, lanes: Lanes) -> None:
        self.settings, self.model, self.backend, self.lanes = settings, model, backend, lanes

    @property
    def slots(self) -> list[WorkerSlot]:
        return [slot for slots in self.lanes.values() for slot in slots]

    @classmethod
    def build(cls, model_dir: Path | None = None) -> ServePlan:
        settings = load_settings(model_dir=model_dir)
        model = inspect_model_dir(settings.model_dir, settings.verify_model)
        backend, device = resolve_backend(settings, model)
        slots = plan_workers(
            device,
            workers=worker_count(settings, model, device),
            cores_per_worker=settings.cores_per_worker,
            neuron_visible_cores=settings.neuron_visible_cores,
            cuda_visible_devices=settings.cuda_visible_devices,
        )
        check_cache_dir(settings)
        return cls(settings, model, backend, plan_lanes(settings, model, slots))


def worker_count(settings: Settings, model: ModelInfo, device: DeviceKind) -> int | None:
    """SDXL_WORKERS, else the worker plan's total, else one per variant on the CPU; None: the device layout."""
    plan = settings.worker_plan
    if settings.workers is not None:
        return settings.workers
    if plan is not None:
        return sum(plan.values())
    return len(model.served) if device == "cpu" else None


def plan_lanes(settings: Settings, model: ModelInfo, slots: list[WorkerSlot]) -> Lanes:
    """Split the worker slots among the variants (SDXL_VARIANT_WORKERS, else by share)."""
    try:
        counts = split_workers(model.served, len(slots), settings.worker_plan)
    except VariantPlanError as exc:
        if settings.variant_workers:
            raise ConfigError(f"SDXL_VARIANT_WORKERS={settings.variant_workers!r}: {exc}") from None
        raise ConfigError(f"worker plan: {exc}; raise SDXL_WORKERS or set SDXL_VARIANT_WORKERS") from None
    lanes = assign_slots(slots, counts)
    if (unused := len(slots) - sum(counts.values())) > 0:
        log.info("worker plan leaves %d worker slot(s) unused", unused)
    return lanes


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
    metrics = MetricsEmitter.from_settings(plan.settings, by_variant=plan.model.has_variants)
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
        plan = ServePlan.build(args.model_dir)
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


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="serve", description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="model folder (default: $SM_MODEL_DIR, else /opt/ml/model)")
    # SageMaker runs `docker run IMAGE serve`; with the console script as ENTRYPOINT the word
    # `serve` arrives as an argument, so accept and ignore it.
    parser.add_argument("command", nargs="?", choices=["serve"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
