"""`serve`'s options, shared by `serve` and `sdxl-inf2 serve` (no imports: the CLI registers them at start)."""

from __future__ import annotations

import argparse
from pathlib import Path


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
