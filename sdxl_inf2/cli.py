"""`sdxl-inf2`: one command line for serving, building artifacts and deploying.

Each area registers its own subcommands (`register(commands)` in its `cli` module). Every error that
is the user's to fix is an SdxlError (sdxl_inf2/core/errors.py draws the tree): it prints one line,
`sdxl-inf2: error: ...`, and exits 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from sdxl_inf2 import cost_cli
from sdxl_inf2.compile import cli as compile_cli
from sdxl_inf2.container import cli as container_cli
from sdxl_inf2.core.errors import SdxlError
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


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")  # hides a harmless "optimum" namespace warning
    parser = argparse.ArgumentParser(prog="sdxl-inf2", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in AREAS:
        register(commands)
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except SdxlError as exc:
        print(f"sdxl-inf2: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sdxl-inf2: interrupted", file=sys.stderr)
        return 130
    return result


if __name__ == "__main__":
    raise SystemExit(main())
