"""`sdxl-inf2 register | deploy | autoscale | invoke | status | teardown | plan | iam-policy`.

Each command takes the deployment config (YAML) and boto3's standard configuration (--profile or
AWS_PROFILE, the config's region or AWS_REGION, AWS_ENDPOINT_URL). Any failure is one line,
`sdxl-inf2: error: ...`, and exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .clients import Clients, resolve_region
from .config import DeployConfig, load_config
from .errors import aws_errors

Handler = Callable[[argparse.Namespace, DeployConfig], int]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _command(commands, "register", "register the image + artifact in the Model Registry", _register)
    _command(commands, "deploy", "create or update the async endpoint (and its autoscaling)", _deploy)
    _command(commands, "autoscale", "apply the config's autoscaling to the endpoint", _autoscale)
    _add_invoke(_command(commands, "invoke", "send one request to the endpoint and fetch the image", _invoke))
    _command(commands, "status", "endpoint, instance counts, backlog, scaling", _status)
    _command(commands, "teardown", "delete what deploy and autoscale created", _teardown)
    _command(commands, "plan", "print every call deploy would make; makes none", _plan)
    _command(commands, "iam-policy", "print the execution role's least-privilege policy", _iam_policy)
    commands.choices["register"].add_argument("--approve", action="store_true", help="set the version to Approved")
    commands.choices["deploy"].add_argument("--no-wait", action="store_true", help="return once the update starts")
    commands.choices["iam-policy"].add_argument(
        "--gateway", action="store_true", help="the gateway function's role policy instead of the endpoint's"
    )
    teardown = commands.choices["teardown"]
    teardown.add_argument("--delete-data", action="store_true", help="also delete the S3 requests/results/failures")
    teardown.add_argument("--delete-registry", action="store_true", help="also delete the model package group")


def _command(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    text: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=text, description=text)
    parser.add_argument("config", type=Path, help="deployment config (YAML; see deploy/example.yaml)")
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE, else the default chain)")
    parser.set_defaults(run=lambda args: _at_the_edge(handler, args))
    return parser


def _add_invoke(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", help="the prompt (sets `prompt` in the request)")
    parser.add_argument("--request", type=Path, help="a JSON request file (docs/api.md)")
    parser.add_argument("--inference-id", help="InferenceId (default: a random one); names the files")
    parser.add_argument("--accept", help="response type (default: the config's invoke.accept)")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the result (default: .)")
    parser.add_argument("--timeout", type=float, help="seconds to wait (default: the config's invoke.timeout_s)")
    parser.add_argument("--no-wait", action="store_true", help="print the output location and return")


@aws_errors()
def _at_the_edge(handler: Handler, args: argparse.Namespace) -> int:
    return handler(args, load_config(args.config))


def _clients(args: argparse.Namespace, config: DeployConfig) -> Clients:
    return Clients(config.region, args.profile)


def _register(args: argparse.Namespace, config: DeployConfig) -> int:
    from .registry import register_version

    print(register_version(_clients(args, config), config, approve=args.approve or _registry_approves(config)))
    return 0


def _registry_approves(config: DeployConfig) -> bool:
    return config.registry is not None and config.registry.approve


def _settled(clients: Clients, config: DeployConfig) -> DeployConfig:
    """The config with its workers per instance from the artifact's worker plan (deploy/workers.py)."""
    from .workers import settle_workers

    return settle_workers(config, lambda: clients.s3)


def _deploy(args: argparse.Namespace, config: DeployConfig) -> int:
    from .rollout import deploy

    clients = _clients(args, config)
    print(deploy(clients, _settled(clients, config), wait=not args.no_wait))
    return 0


def _autoscale(args: argparse.Namespace, config: DeployConfig) -> int:
    from . import autoscaling, dashboard

    clients = _clients(args, config)
    config = _settled(clients, config)
    autoscaling.apply(clients, config)
    dashboard.apply(clients, config)  # its alarm widget follows the policies' alarms
    return 0


def _invoke(args: argparse.Namespace, config: DeployConfig) -> int:
    from .invoke import describe_timings, download, request_body, save_hit, submit, wait_result

    clients = _clients(args, config)
    body, accept = request_body(args.prompt, args.request), args.accept or config.invoke.accept
    joined, location = False, None
    if config.cache_s3_uri:  # through the gateway library: a hit costs one S3 GET, no SageMaker call
        from .gateway import connect

        started = time.monotonic()
        outcome = connect(clients, config).submit(body, accept, args.inference_id)
        if outcome.images:
            for path in save_hit(outcome, args.out):
                print(path)
            print(f"inference {outcome.inference_id}: cache hit, {time.monotonic() - started:.2f}s", file=sys.stderr)
            return 0
        assert outcome.ticket is not None
        job, joined = outcome.ticket, outcome.cache == "coalesced"
        location = job.output_location if outcome.status == "done" else None
        if joined:
            print(f"inference {job.inference_id}: joined an identical request in flight", file=sys.stderr)
    else:
        job = submit(clients, config, body, args.inference_id, accept)
    if args.no_wait:
        print(job.output_location)
        print(f"inference {job.inference_id}: queued; failures go to {job.failure_location}", file=sys.stderr)
        return 0
    location = location or wait_result(clients, config, job, args.timeout or config.invoke.timeout_s, not joined)
    for path in download(clients, location, job, args.out):
        print(path)
    print(f"inference {job.inference_id}: {describe_timings(job.timings)}", file=sys.stderr)
    return 0


def _status(args: argparse.Namespace, config: DeployConfig) -> int:
    from .status import status_lines
    from .workers import settle_workers

    clients = _clients(args, config)
    config = settle_workers(config, lambda: clients.s3, check=False)  # the usage rate's capacity; reads only when unset
    print("\n".join(status_lines(clients, config)))
    return 0


def _teardown(args: argparse.Namespace, config: DeployConfig) -> int:
    from .teardown import teardown

    teardown(_clients(args, config), config, delete_data=args.delete_data, delete_registry=args.delete_registry)
    return 0


def _plan(args: argparse.Namespace, config: DeployConfig) -> int:
    from .plan import deploy_calls, render
    from .workers import settle_workers

    config = settle_workers(config, lambda: _clients(args, config).s3, check=False)  # reads only when unset
    print(render(deploy_calls(config, resolve_region(config.region, args.profile))))
    return 0


def _iam_policy(args: argparse.Namespace, config: DeployConfig) -> int:
    from .iam import execution_role_policy, gateway_role_policy

    policy = gateway_role_policy if args.gateway else execution_role_policy
    print(json.dumps(policy(config, resolve_region(config.region, args.profile)), indent=2))
    return 0
