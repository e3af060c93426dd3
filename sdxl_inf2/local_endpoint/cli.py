"""`sdxl-inf2 local-endpoint CONFIG --model-dir DIR`: the config's whole async endpoint on loopback.

It prints the environment that points boto3 at it (export lines), the endpoint's name and `ready`,
then one line per request state change, until Ctrl-C or SIGTERM stops everything it started. moto
is imported only when the command runs (the optional `local` extra).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from sdxl_inf2.core.sagemaker import REQUEST_TTL
from sdxl_inf2.deploy.errors import aws_errors


class Stopped(Exception):  # not an SdxlError: control flow, caught below, never shown as an error
    """SIGINT or SIGTERM arrived."""


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    text = "run the config's async endpoint on loopback: moto, the runtime API and real serve instances"
    parser = commands.add_parser("local-endpoint", help=text, description=text)
    parser.add_argument("config", type=Path, help="deployment config (YAML; see deploy/example.yaml)")
    parser.add_argument("--model-dir", type=Path, required=True, help="the model folder every instance serves")
    parser.add_argument(
        "--instances", type=_within(0, 16), help="instances (default: the config's initial_instance_count)"
    )
    parser.add_argument("--port", type=_within(1, 65535), default=8090, help="port of the runtime API (default: 8090)")
    parser.add_argument(
        "--metrics-period",
        type=_within(0.1, 3600, float),
        default=60.0,
        help="seconds between metric puts (default: 60)",
    )
    parser.add_argument(
        "--min-request-ttl",
        type=_within(1, REQUEST_TTL.low),
        default=REQUEST_TTL.low,
        help="lowest RequestTTLSeconds accepted (default: SageMaker's %(default)s); lower only for tests and demos",
    )
    parser.add_argument("--log-dir", type=Path, help="folder for the instances' logs (default: a new temporary one)")
    parser.set_defaults(run=_local_endpoint)


def _within(low: float, high: float, kind: type[int] | type[float] = int) -> Callable[[str], float]:
    """An argparse type: a number from `low` to `high` (a bad one is argparse's one-line usage error)."""

    def parse(text: str) -> float:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low:g} to {high:g}")
        return value

    parse.__name__ = kind.__name__  # argparse names it in "invalid int value: 'x'"
    return parse


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


@aws_errors()
def _local_endpoint(args: argparse.Namespace) -> int:
    from sdxl_inf2.deploy.config import load_config

    from .events import EventLog
    from .stack import LocalEndpoint, Options

    config = load_config(args.config)
    options = Options(
        args.model_dir, args.instances, args.port, args.metrics_period, args.min_request_ttl, args.log_dir
    )
    events = EventLog()
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    endpoint = LocalEndpoint(config, options, events)
    try:
        for line in endpoint.start():
            events.line(line)
        events.line("ready")
        while True:
            signal.pause()  # until a signal raises Stopped
    except Stopped as stop:
        print(f"local-endpoint: {stop}: stopping", file=sys.stderr)
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        endpoint.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("local-endpoint: stopped", file=sys.stderr)
    return 0
