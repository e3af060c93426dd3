"""`sdxl-inf2`: one command line for serving, building artifacts and deploying.

Each area registers its own subcommands (`register(commands)` in its `cli` module) and lists the
errors that are the user's to fix (`USER_ERRORS`): those print one line and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from sdxl_inf2 import cost_cli
from sdxl_inf2.compile import cli as compile_cli
from sdxl_inf2.container import cli as container_cli
from sdxl_inf2.deploy import cli as deploy_cli
from sdxl_inf2.deploy import gateway_cli
from sdxl_inf2.local_endpoint import cli as local_endpoint_cli
from sdxl_inf2.simulator import cli as simulator_cli

Register = Callable[[argparse._SubParsersAction], None]  # type: ignore[type-arg]
AREAS: Sequence[Register] = (
    container_cli.register,
    compile_cli.register,
    deploy_cli.register,
    gateway_cli.register,
    local_endpoint_cli.register,
    cost_cli.register,
    simulator_cli.register,
)
USER_ERRORS: tuple[type[Exception], ...] = (
    compile_cli.USER_ERRORS
    + deploy_cli.USER_ERRORS
    + gateway_cli.USER_ERRORS
    + local_endpoint_cli.USER_ERRORS
    + cost_cli.USER_ERRORS
    + simulator_cli.USER_ERRORS
)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")  # hides a harmless "optimum" namespace warning
    parser = argparse.ArgumentParser(prog="sdxl-inf2", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in AREAS:
        register(commands)
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except USER_ERRORS as exc:
        print(f"sdxl-inf2: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sdxl-inf2: interrupted", file=sys.stderr)
        return 130
    return result


def one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 400 else text[:397] + "..."


if __name__ == "__main__":
    raise SystemExit(main())
