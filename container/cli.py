"""`sdxl-inf2 serve`, and the options it shares with `serve`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser("serve", help="run the inference server (same as `serve`)")
    add_serve_arguments(serve)
    serve.set_defaults(run=_serve)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """`serve`'s options, shared with `sdxl-inf2 serve`."""
    parser.add_argument("--model-dir", type=Path, help="model folder (default: $SM_MODEL_DIR, else /opt/ml/model)")
    parser.add_argument(
        "--plan", action="store_true", help="print the worker plan as JSON and exit: loads no model, no device runtime"
    )
    parser.add_argument(
        "--instance-type",
        metavar="TYPE",
        help="with --plan: plan for this inf2 type's NeuronCores (NEURON_RT_VISIBLE_CORES=0-<cores - 1>)",
    )


def _serve(args: argparse.Namespace) -> int:
    from .server import main

    argv = ["--model-dir", str(args.model_dir)] if args.model_dir else []
    argv += ["--plan"] if args.plan else []
    argv += ["--instance-type", args.instance_type] if args.instance_type else []
    return main(argv)
