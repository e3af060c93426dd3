"""`sdxl-inf2 serve`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser("serve", help="run the inference server (same as `serve`)")
    serve.add_argument("--model-dir", type=Path, help="model folder (default: $SM_MODEL_DIR, else /opt/ml/model)")
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    from .server import main

    return main(["--model-dir", str(args.model_dir)] if args.model_dir else [])
