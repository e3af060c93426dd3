"""`sdxl-inf2 gateway serve CONFIG` (the gateway as a local HTTP service) and `sdxl-inf2 gateway package`.

Here in deploy, not in the gateway package: both read a deployment config or build what deploy
uploads, and the gateway never imports deploy. The modules are imported inside the commands, not at
start (`sdxl-inf2` imports every area's CLI module when it starts).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import aws_errors


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    text = "the request gateway: serve it locally, or build its Lambda zip"
    gateway = commands.add_parser("gateway", help=text, description=text)
    actions = gateway.add_subparsers(dest="gateway_command", required=True, metavar="ACTION")
    serve = actions.add_parser("serve", help="the gateway's HTTP API on this machine, for a deployment config")
    serve.add_argument("config", type=Path, help="deployment config (YAML; see deploy/example.yaml)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8081, help="port (default: 8081; 0 picks a free one)")
    serve.add_argument("--profile", help="AWS profile (default: AWS_PROFILE, else the default chain)")
    serve.set_defaults(run=_serve)
    package = actions.add_parser("package", help="build the Lambda zip deploy uploads, and print its sha256")
    package.add_argument("--out", type=Path, default=Path("gateway.zip"), help="where (default: gateway.zip)")
    package.set_defaults(run=_package)


@aws_errors()  # S3 refusing the model card at start: one line (no card at all is already a ServingError)
def _serve(args: argparse.Namespace) -> int:
    from sdxl_inf2.gateway.serve import serve

    from .clients import Clients
    from .config import load_config
    from .gateway import connect

    config = load_config(args.config)
    gateway = connect(Clients(config.region, args.profile), config)
    card = gateway.cards.current()  # no card: one line now, not a 503 on every request
    shapes = ", ".join(str(shape) for shape in card.model.shapes)

    def ready(url: str) -> None:
        print(f"gateway for {config.name}: {url}/invocations (model {card.fingerprint[:12]}, {shapes})", flush=True)

    serve(gateway, args.host, args.port, ready)
    return 0


def _package(args: argparse.Namespace) -> int:
    from sdxl_inf2.gateway.package import build_zip

    code = build_zip()
    args.out.write_bytes(code.data)
    print(args.out)
    print(
        f"{code.sha256}  {code.runtime} {code.architecture}, {code.files} files, {len(code.data)} bytes",
        file=sys.stderr,
    )
    return 0
