"""`sdxl-inf2 simulate CONFIG`: the config's scaling policies side by side on a traffic trace.

Imports nothing heavy at start (`sdxl-inf2` imports every CLI area): numpy, SimPy and matplotlib
are imported inside the command. Every model constant is a flag; the defaults and their sources
are on the docs' simulator page (docs/simulator.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SimulationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sdxl_inf2.deploy.config import DeployConfig

    from .run import Outcome
    from .scenario import Fleet, Observation, RequestCount, Workload

DEFAULT_TRACE = "spike:60:12000:30:30:180"  # the campaign spike of docs/simulator.md
POLICIES = ("usage-rate-container", "usage-rate-demand", "surge", "backlog", "none")  # scenario.POLICY_NAMES
# Start-up of an instance, assumptions (docs/simulator.md): AWS says "several minutes"; no inf2 SDXL figure.
LAUNCH_S, DOWNLOAD_S, LOAD_S = 240.0, 60.0, 120.0
# The gateway's EMF in Lambda -> CloudWatch Logs -> a high-resolution datapoint an alarm sees: an
# assumption (docs/simulator.md); AWS gives no figure, and advises flushing every 5 s or less.
HIGH_RESOLUTION_LAG_S = 10.0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    text = "simulate the endpoint's autoscaling policies on a traffic trace (SimPy)"
    parser: argparse.ArgumentParser = commands.add_parser("simulate", help=text, description=text)
    parser.add_argument("config", type=Path, help="deployment config (YAML; see deploy/example.yaml)")
    parser.add_argument(
        "--trace", action="append", metavar="SPEC", help=f"traffic (repeatable, merged); default {DEFAULT_TRACE}"
    )
    parser.add_argument("--policy", action="append", choices=POLICIES, help="repeatable; default: the first four")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures as JSON")
    parser.add_argument("--plot", type=Path, metavar="PATH", help="write a PNG: one column per policy")
    parser.add_argument("--seed", type=int, default=1, help="fixes the trace, cache hits and service times (default 1)")
    _model_flags(parser)
    parser.set_defaults(run=_simulate)


def _model_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--seconds-per-image", type=float, help="worker seconds per image (default: the config's usage_rate value)")
    add("--service-time", choices=("fixed", "exp"), default="fixed", help="fixed (default) or exponential")
    add("--workers", type=int, help="workers per instance (default: the config's)")
    add("--max-concurrency", type=int, help="MaxConcurrentInvocationsPerInstance (default: the config's)")
    add("--launch-s", type=float, default=LAUNCH_S, help=f"instance provisioning (default {LAUNCH_S:g})")
    add("--download-s", type=float, default=DOWNLOAD_S, help=f"model download and extraction (default {DOWNLOAD_S:g})")
    add("--load-s", type=float, default=LOAD_S, help=f"model load and warm-up (default {LOAD_S:g})")
    add("--ttl-s", type=float, help="RequestTTLSeconds (default: the config's invoke.request_ttl_s)")
    add("--metric-lag-s", type=float, default=60.0, help="SageMaker's metrics reach CloudWatch this late (default 60)")
    add("--custom-metric-lag-s", type=float, default=0.0, help="the request count's lag (default 0)")
    add(
        "--high-resolution-lag-s",
        type=float,
        default=HIGH_RESOLUTION_LAG_S,
        help=f"the high-resolution demand count's lag, for the surge alarm (default {HIGH_RESOLUTION_LAG_S:g})",
    )
    add("--slo-s", type=float, default=30.0, help="time to result counted as on time (default 30)")
    add("--cache-hit-rate", type=float, default=0.0, help="share answered before the queue (default 0)")
    add("--count-cache-hits", action=argparse.BooleanOptionalAction, help="usage-rate-demand counts hits (default no)")
    add("--price-per-hour", type=float, help="USD per instance-hour (default: what the reference case implies)")
    add("--min", type=int, dest="min_capacity", help="MinCapacity (default: the config's)")
    add("--max", type=int, dest="max_capacity", help="MaxCapacity (default: the config's)")
    add("--initial", type=int, help="instances in service at t = 0 (default: the config's initial_instance_count)")
    add("--updates", choices=("serial", "concurrent"), default="serial", help="capacity changes while instances start")
    add("--high-alarm-minutes", type=int, default=3, help="target tracking: minutes above target (default 3)")
    add("--low-alarm-minutes", type=int, default=15, help="minutes below the low threshold (default 15)")
    add("--low-alarm-ratio", type=float, default=0.9, help="low threshold / target (default 0.9)")
    add("--no-schedules", action="store_true", help="leave out the config's scheduled actions (they move min/max)")
    add("--start", help="UTC time of t = 0 for scheduled actions (default 2026-01-05T00:00:00Z, a Monday)")


def _simulate(args: argparse.Namespace) -> int:
    from sdxl_inf2.cost import price
    from sdxl_inf2.deploy.config import load_config

    from . import traffic
    from .scenario import demand_count, workload

    config = with_bounds(_settled(load_config(args.config), args.workers), args.min_capacity, args.max_capacity)
    fleet = _fleet(args, config)
    observation = _observation(args)
    price_per_hour, price_source = price(args.price_per_hour)
    _check(args, price_per_hour)
    specs = args.trace or [DEFAULT_TRACE]
    load = workload(traffic.merged(specs, args.seed), args.cache_hit_rate, fleet, args.seed)
    demand = demand_count(config, args.count_cache_hits)
    names = list(dict.fromkeys(args.policy or POLICIES[:4]))
    outcomes = _run_policies(config, names, load, fleet, observation, demand, args.no_schedules)
    _report(args, outcomes, price_per_hour, price_source, fleet, observation, demand, " + ".join(specs))
    return 0


def _settled(config: DeployConfig, workers: int | None) -> DeployConfig:
    """The config's workers per instance: --workers, else the config's, else the artifact's worker plan."""
    from sdxl_inf2.deploy.workers import settled_for_estimates

    if workers is not None and config.workers_per_instance is None:
        return config.model_copy(update={"workers_per_instance": workers})  # and concurrency --workers + 1
    return settled_for_estimates(config)


def with_bounds(config: DeployConfig, low: int | None, high: int | None) -> DeployConfig:
    """The config as if its autoscaling section said --min and --max: the policies deploy would build
    for those bounds (the surge's bands are sized from max_capacity)."""
    scaling = config.autoscaling
    if scaling is None or (low is None and high is None):
        return config
    bounds = {"min_capacity": scaling.min_capacity if low is None else low}
    bounds["max_capacity"] = scaling.max_capacity if high is None else high
    return config.model_copy(update={"autoscaling": scaling.model_copy(update=bounds)})


def _fleet(args: argparse.Namespace, config: DeployConfig) -> Fleet:
    from sdxl_inf2.deploy.sizing import throughput

    from .scenario import Fleet, capacity_bounds

    low, high = capacity_bounds(config)
    low = low if args.min_capacity is None else args.min_capacity
    high = high if args.max_capacity is None else args.max_capacity
    rendered = throughput(config)
    fleet = Fleet(
        workers=rendered.workers if args.workers is None else args.workers,
        max_concurrency=config.max_concurrency if args.max_concurrency is None else args.max_concurrency,
        seconds_per_image=rendered.seconds_per_image if args.seconds_per_image is None else args.seconds_per_image,
        service_time=args.service_time,
        launch_s=args.launch_s,
        download_s=args.download_s,
        load_s=args.load_s,
        ttl_s=float(config.invoke.request_ttl_s) if args.ttl_s is None else args.ttl_s,
        min_capacity=low,
        max_capacity=high,
        initial=config.initial_instance_count if args.initial is None else args.initial,
        serial_updates=args.updates == "serial",
    )
    _check_fleet(fleet)
    return fleet


def _check_fleet(fleet: Fleet) -> None:
    positive = {"--seconds-per-image": fleet.seconds_per_image, "--ttl-s": fleet.ttl_s}
    counts = {"--workers": fleet.workers, "--max-concurrency": fleet.max_concurrency}
    nonnegative = {"--launch-s": fleet.launch_s, "--download-s": fleet.download_s, "--load-s": fleet.load_s}
    for flag, value in positive.items():
        _require(value > 0, f"{flag} must be above 0 (got {value:g})")
    for flag, value in {**counts, "--min": fleet.min_capacity, "--initial": fleet.initial}.items():
        _require(
            value >= (1 if flag in counts else 0), f"{flag} must be at least {1 if flag in counts else 0} (got {value})"
        )
    for flag, value in nonnegative.items():
        _require(value >= 0, f"{flag} must not be negative (got {value:g})")
    _require(
        fleet.max_capacity >= max(1, fleet.min_capacity), f"--max must be at least 1 and --min ({fleet.max_capacity})"
    )


def _observation(args: argparse.Namespace) -> Observation:
    from .policies import AlarmShape
    from .scenario import MONDAY, Observation

    lags = {
        "--metric-lag-s": args.metric_lag_s,
        "--custom-metric-lag-s": args.custom_metric_lag_s,
        "--high-resolution-lag-s": args.high_resolution_lag_s,
    }
    for flag, value in lags.items():
        _require(value >= 0, f"{flag} must not be negative (got {value:g})")
    for flag, minutes in (
        ("--high-alarm-minutes", args.high_alarm_minutes),
        ("--low-alarm-minutes", args.low_alarm_minutes),
    ):
        _require(minutes >= 1, f"{flag} must be at least 1 (got {minutes})")
    _require(0 < args.low_alarm_ratio <= 1, f"--low-alarm-ratio must be in (0, 1] (got {args.low_alarm_ratio:g})")
    shape = AlarmShape(args.high_alarm_minutes, args.low_alarm_minutes, args.low_alarm_ratio)
    start = _start(args.start) if args.start else MONDAY
    return Observation(args.metric_lag_s, args.custom_metric_lag_s, args.high_resolution_lag_s, shape, start)


def _start(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SimulationError(f"--start {text}: not an ISO time such as 2026-01-05T00:00:00Z") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment  # noqa: UP017 - 3.10


def _check(args: argparse.Namespace, price_per_hour: float) -> None:
    _require(0 <= args.cache_hit_rate < 1, f"--cache-hit-rate must be in [0, 1) (got {args.cache_hit_rate:g})")
    _require(args.slo_s > 0, f"--slo-s must be above 0 (got {args.slo_s:g})")
    _require(price_per_hour >= 0, f"--price-per-hour must not be negative (got {price_per_hour:g})")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SimulationError(message)


def _run_policies(
    config: DeployConfig,
    names: list[str],
    load: Workload,
    fleet: Fleet,
    observation: Observation,
    demand: RequestCount,
    no_schedules: bool,
) -> list[Outcome]:
    from dataclasses import replace

    from .run import simulate
    from .scenario import policy_spec

    specs = [policy_spec(config, name, demand, observation.start) for name in names]  # config errors before any run
    if no_schedules:
        specs = [replace(spec, schedules=()) for spec in specs]
    outcomes = []
    for number, spec in enumerate(specs, 1):
        began = time.perf_counter()
        print(
            f"simulate: {spec.name} ({number}/{len(specs)}), {load.arrivals.size:,} requests ...",
            file=sys.stderr,
            end="",
            flush=True,
        )
        outcomes.append(simulate(load, fleet, observation, spec))
        print(f" {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    return outcomes


def _report(
    args: argparse.Namespace,
    outcomes: list[Outcome],
    price_per_hour: float,
    price_source: str,
    fleet: Fleet,
    observation: Observation,
    demand: RequestCount,
    trace: str,
) -> None:
    from dataclasses import asdict

    from . import plot, report

    results = {o.policy: report.figures(o, price_per_hour, args.slo_s) for o in outcomes}
    print(f"trace {trace}, seed {args.seed}; ${price_per_hour:,.2f} per instance-hour ({price_source})")
    print("\n".join(report.table(results)))
    fired = sorted({name for outcome in outcomes for _, name in outcome.scheduled})
    if fired:
        print(f"scheduled actions fired: {', '.join(fired)} (they move min/max; --no-schedules leaves them out)")
    inputs = {
        "trace": trace,
        "seed": args.seed,
        "slo_s": args.slo_s,
        "cache_hit_rate": args.cache_hit_rate,
        "price_per_hour": price_per_hour,
        "fleet": asdict(fleet),
        "observation": {**asdict(observation), "start": observation.start.isoformat()},
        "demand_count": asdict(demand),
        "schedules": not args.no_schedules,
    }
    if args.json:
        _write(args.json, lambda path: path.write_text(report.document(inputs, results)))
    if args.plot:
        _write(args.plot, lambda path: plot.write(outcomes, path, f"{trace} (seed {args.seed})"))


def _write(path: Path, writer: Callable[[Path], Any]) -> None:
    try:
        writer(path)
    except OSError as exc:
        raise SimulationError(f"{path}: cannot write: {exc.strerror}") from None
    print(f"wrote {path}")
