"""`sdxl-inf2`: one command line for serving, building artifacts and (later) deploying."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sdxl-inf2", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the inference server (same as `serve`)")
    serve.add_argument("--model-dir", type=Path, help="model folder (default: $SM_MODEL_DIR, else /opt/ml/model)")

    tiny = commands.add_parser("tiny-model", help="build the tiny random-weight SDXL (no network)")
    tiny.add_argument("dir", type=Path, help="output folder")
    tiny.add_argument(
        "--size", action="append", type=_size, metavar="WxH", help="a size to allow (repeatable; default 64x64)"
    )
    tiny.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")

    args = parser.parse_args(argv)
    if args.command == "serve":
        from container.server import main as serve_main

        return serve_main(["--model-dir", str(args.model_dir)] if args.model_dir else [])
    return _tiny_model(args)


def _tiny_model(args: argparse.Namespace) -> int:
    from compile.tiny_model import DEFAULT_SHAPES, build_tiny_model

    shapes = tuple(args.size) if args.size else DEFAULT_SHAPES
    out = build_tiny_model(args.dir, shapes=shapes, seed=args.seed)
    print(f"tiny SDXL written to {out} (sizes {', '.join(f'{w}x{h}' for h, w in shapes)})", file=sys.stderr)
    return 0


def _size(text: str) -> tuple[int, int]:
    """'WxH' -> (height, width), each a positive multiple of 8."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WxH, e.g. 64x64") from None
    if width <= 0 or height <= 0 or width % 8 or height % 8:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive multiples of 8")
    return height, width


if __name__ == "__main__":
    raise SystemExit(main())
