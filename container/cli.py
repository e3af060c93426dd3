"""`sdxl-inf2 serve`."""

from __future__ import annotations

import argparse

from .arguments import add_serve_arguments


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser("serve", help="run the inference server (same as `serve`)")
    add_serve_arguments(serve)
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    from .server import main

    argv = ["--model-dir", str(args.model_dir)] if args.model_dir else []
    argv += ["--plan"] if args.plan else []
    argv += ["--instance-type", args.instance_type] if args.instance_type else []
    return main(argv)
