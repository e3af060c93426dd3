"""The whole local endpoint, started in order and stopped in reverse.

Start: hold the runtime port -> AWS on loopback (moto), buckets and roles, the real `deploy`, the
TestNotification -> read the endpoint back -> the instances, each answering /ping -> the queue,
the metrics and the runtime API. Stop (also after a failed start): the API, the metrics, the queue,
the instances (SIGTERM, then SIGKILL of each process group), moto.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import BaseWSGIServer

from sdxl_inf2.core.sagemaker import REQUEST_TTL
from sdxl_inf2.deploy.clients import Clients
from sdxl_inf2.deploy.config import DeployConfig
from sdxl_inf2.deploy.gateway import function_name as gateway_function_name

from .account import prepare_account
from .attempt import run_attempt
from .cloudwatch import MetricsPublisher
from .dispatcher import Backlog, Dispatcher
from .events import EventLog
from .instances import Fleet
from .moto_stack import LocalAws, deploy_endpoint, local_aws
from .notifications import announce
from .results import Results
from .runtime_api import RuntimeApi, attach, bind
from .served_endpoint import ServedEndpoint, read_endpoint


@dataclass(frozen=True)
class Options:
    model_dir: Path
    instances: int | None = None  # default: the endpoint config's initial instance count
    port: int = 8090
    metrics_period_s: float = 60.0
    min_ttl_s: int = REQUEST_TTL.low  # lowered only by tests and demos (--min-request-ttl)
    log_dir: Path | None = None


def instance_environment(config: DeployConfig, aws: LocalAws, model_dir: Path) -> dict[str, str]:
    """How SageMaker starts the container, on loopback: the config's Environment, the model folder,
    the port (set per instance), plus the local AWS so the container's S3 cache tier works."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # PATH, venv, locale
    local = {"SM_MODEL_DIR": str(model_dir.resolve()), "SDXL_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    return {**inherited, **aws.environment, **config.container_environment, **local}


class LocalEndpoint:
    def __init__(self, config: DeployConfig, options: Options, events: EventLog) -> None:
        self.config, self.options, self.events = config, options, events
        self.exit = contextlib.ExitStack()
        self.dispatcher: Dispatcher | None = None

    def __enter__(self) -> LocalEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.exit.close()

    def start(self) -> list[str]:
        """Starts everything; returns the environment lines for the user (export ...)."""
        server = bind(self.options.port)
        self.exit.callback(server.server_close)
        aws = self.exit.enter_context(local_aws(self.config))
        clients = Clients(aws.region)
        prepare_account(clients, self.config)
        deploy_endpoint(clients, aws, self.config)
        if self.config.gateway_enabled:
            self.events.event(
                f"gateway {gateway_function_name(self.config)}: moto keeps the function but cannot run it; "
                "`sdxl-inf2 gateway serve CONFIG` serves it on this machine (with the exports below), "
                "and `sdxl-inf2 invoke` submits through it"
            )
        endpoint = read_endpoint(clients, self.config.name)
        if endpoint.async_settings:
            announce(clients, endpoint.async_settings)
        fleet = self._start_fleet(clients, aws, endpoint)
        self._serve(server, RuntimeApi(endpoint, fleet, self.dispatcher, self.options.min_ttl_s))
        return [
            f"export AWS_ENDPOINT_URL={aws.url}",
            f"export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:{self.options.port}",
            *(f"export {k}={aws.environment[k]}" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
            f"export AWS_DEFAULT_REGION={aws.region}",
            f"endpoint {endpoint.name}",
        ]

    def _start_fleet(self, clients: Clients, aws: LocalAws, endpoint: ServedEndpoint) -> Fleet:
        log_dir = self.options.log_dir or Path(tempfile.mkdtemp(prefix="sdxl-local-endpoint-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        count = endpoint.initial_instances if self.options.instances is None else self.options.instances
        kind = "async" if endpoint.async_settings else "real-time"
        concurrency = endpoint.async_settings.max_concurrency if endpoint.async_settings else None
        self.events.event(
            f"endpoint {endpoint.name}: {kind}, release {endpoint.config_name}, {count} instance(s)"
            + (f", MaxConcurrentInvocationsPerInstance {concurrency}" if concurrency else "")
            + f", instance logs in {log_dir}"
        )
        metrics = MetricsPublisher(
            clients,
            endpoint.name,
            endpoint.variant,
            self.options.metrics_period_s,
            self._backlog if endpoint.async_settings else None,
            lambda: fleet.ready(),
            self.events,
        )
        fleet = Fleet(
            count,
            instance_environment(self.config, aws, self.options.model_dir),
            log_dir,
            self.events,
            metrics.forward,
            self._instances_changed,
            self.config.container_startup_health_check_timeout_s,
        )
        self.exit.callback(fleet.stop)
        fleet.start()
        if endpoint.async_settings:
            results = Results(clients, endpoint, endpoint.async_settings, self.events)
            self.dispatcher = Dispatcher(
                fleet,
                endpoint.async_settings.max_concurrency,
                lambda instance, request: run_attempt(clients, instance, request),
                results.finish,
                self.events,
            )
            self.dispatcher.start()
            self.exit.callback(self.dispatcher.stop)
        metrics.start()
        self.exit.callback(metrics.stop)
        return fleet

    def _backlog(self) -> Backlog:
        assert self.dispatcher is not None
        return self.dispatcher.backlog()

    def _instances_changed(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def _serve(self, server: BaseWSGIServer, api: RuntimeApi) -> None:
        attach(server, api)
        thread = threading.Thread(target=server.serve_forever, name="runtime-api", daemon=True)
        thread.start()
        self.exit.callback(server.shutdown)
