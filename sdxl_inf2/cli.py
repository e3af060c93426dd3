"""`sdxl-inf2`: one command line for serving, building artifacts and deploying.

Each area registers its own subcommands (`register(commands)` in its `cli` module), so this file
only lists the areas.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

from compile import cli as compile_cli
from container import cli as container_cli
from deploy import cli as deploy_cli

Register = Callable[[argparse._SubParsersAction], None]  # type: ignore[type-arg]
AREAS: Sequence[Register] = (container_cli.register, compile_cli.register, deploy_cli.register)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")  # hides a harmless "optimum" namespace warning
    parser = argparse.ArgumentParser(prog="sdxl-inf2", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in AREAS:
        register(commands)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
