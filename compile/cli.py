"""`sdxl-inf2 tiny-model` (and, later, `compile` and `package`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tiny = commands.add_parser("tiny-model", help="build the tiny random-weight SDXL (no network)")
    tiny.add_argument("dir", type=Path, help="output folder")
    tiny.add_argument(
        "--size", action="append", type=parse_size, metavar="WxH", help="a size to allow (repeatable; default 64x64)"
    )
    tiny.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    tiny.set_defaults(run=_tiny_model)


def _tiny_model(args: argparse.Namespace) -> int:
    from .tiny_model import DEFAULT_SHAPES, build_tiny_model

    shapes = tuple(args.size) if args.size else DEFAULT_SHAPES
    out = build_tiny_model(args.dir, shapes=shapes, seed=args.seed)
    print(f"tiny SDXL written to {out} (sizes {', '.join(f'{w}x{h}' for h, w in shapes)})", file=sys.stderr)
    return 0


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' -> (height, width), each a positive multiple of 8."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WxH, e.g. 64x64") from None
    if width <= 0 or height <= 0 or width % 8 or height % 8:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive multiples of 8")
    return height, width
