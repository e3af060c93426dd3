"""`sdxl-inf2 compile`, `manifest`, `package` and `tiny-model`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from sdxl_inf2.core.manifest import Defaults, Shape

from .config import load_compile_config
from .neuron_export import MIN_FREE_GB, compile_all, describe, model_reference, plan_jobs
from .package import package
from .upload import DEFAULT_PART_MB, UploadError, upload, upload_plan


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _register_compile(commands)
    _register_manifest(commands)
    _register_package(commands)
    _register_tiny_model(commands)


def _register_compile(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("compile", help="compile SDXL for Inferentia2 (optimum-cli export neuron)")
    parser.add_argument("--config", type=Path, default=Path("compile/sdxl-base-1024.yaml"), help="compile settings")
    parser.add_argument("--out", type=Path, required=True, help="output folder; one sub-folder per shape")
    parser.add_argument("--dry-run", action="store_true", help="print the exact commands and stop")
    parser.add_argument("--force", action="store_true", help="replace existing shape folders")
    parser.add_argument("--min-free-gb", type=float, default=MIN_FREE_GB, help="refuse below this free memory")
    parser.set_defaults(run=_compile)


def _compile(args: argparse.Namespace) -> int:
    config = load_compile_config(args.config)
    if args.dry_run:
        jobs = plan_jobs(config, model_reference(config), args.out)
        print(describe(config, jobs), file=sys.stderr)
        print("\n".join(shlex.join(job.command) for job in jobs))
        return 0
    folders = compile_all(config, args.out, min_free_gb=args.min_free_gb, force=args.force, echo=_echo)
    for folder in folders:
        print(f"compiled: {folder}")
    print(
        f"next: sdxl-inf2 package {args.out} --out model.tar.gz (every shape, one variant each; or package one folder)"
    )
    return 0


def _register_manifest(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("manifest", help="write manifest.json for an existing model folder")
    parser.add_argument("dir", type=Path)
    parser.add_argument("--source", required=True, help="where the model came from (Hub id or description)")
    parser.add_argument("--revision")
    parser.add_argument("--size", action="append", type=parse_size, metavar="WxH", help="diffusers folders: sizes")
    parser.add_argument("--images-per-prompt", type=int, default=4, help="diffusers folders: most images per request")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--scheduler", default="euler")
    parser.set_defaults(run=_manifest)


def _manifest(args: argparse.Namespace) -> int:
    from .describe import write_folder_manifest

    defaults = Defaults(num_inference_steps=args.steps, guidance_scale=args.guidance, scheduler=args.scheduler)
    shapes = tuple(Shape(height=h, width=w) for h, w in args.size or ())
    source = {"model_id": args.source, "revision": args.revision}
    manifest = write_folder_manifest(args.dir, source, defaults, shapes, args.images_per_prompt)
    print(
        f"{args.dir / 'manifest.json'}: {manifest.backend}, {len(manifest.files)} files, "
        f"sizes {', '.join(str(s) for s in manifest.shapes)}"
    )
    return 0


def _register_package(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("package", help="make model.tar.gz (deterministic) and optionally upload it")
    parser.add_argument("dir", type=Path, help="artifact folder (with manifest.json)")
    parser.add_argument("--out", type=Path, default=Path("model.tar.gz"))
    parser.add_argument("--compress-level", type=int, choices=range(0, 10), default=1, metavar="0-9")
    parser.add_argument("--upload", metavar="S3_URI", help="e.g. s3://bucket/models/sdxl/")
    parser.add_argument("--part-size-mb", type=int, default=DEFAULT_PART_MB, help="multipart part size (>= 5)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--shares",
        type=parse_shares,
        metavar="NAME:W,...",
        help="a folder of variants: default worker split, e.g. 1024x1024:8,1152x896:2 (written to its root manifest)",
    )
    parser.add_argument("--default-variant", metavar="NAME", help="a folder of variants: the variant by default")
    parser.set_defaults(run=_package)


def _package(args: argparse.Namespace) -> int:
    result = package(
        args.dir,
        args.out,
        args.compress_level,
        progress=not args.no_progress,
        shares=args.shares,
        default_variant=args.default_variant,
    )
    print(f"{result.path}: {result.files} files, {result.size} bytes, sha256 {result.sha256}")
    if result.plan and result.plan_path:
        print(f"{result.plan_path}: worker plan, {result.plan.summary()}")
    if args.upload:
        if args.part_size_mb < 5:
            raise UploadError("--part-size-mb: S3 parts are at least 5 MB")
        uri = upload(result.path, args.upload, result.sha256, args.part_size_mb, progress=not args.no_progress)
        print(f"uploaded: {uri} (sha256 {result.sha256})")
        if result.plan_path:
            print(f"uploaded: {upload_plan(result.plan_path, uri)} (the worker plan deploy reads)")
    return 0


def _register_tiny_model(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tiny = commands.add_parser("tiny-model", help="build the tiny random-weight SDXL (no network)")
    tiny.add_argument("dir", type=Path, help="output folder")
    sizes = tiny.add_mutually_exclusive_group()
    sizes.add_argument(
        "--size", action="append", type=parse_size, metavar="WxH", help="a size to allow (repeatable; default 64x64)"
    )
    tiny.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    sizes.add_argument(
        "--variants",
        type=parse_sizes,
        metavar="WxH,WxH",
        help="a folder of variants instead: one tiny model per size, each in its own sub-folder, and a root manifest",
    )
    tiny.set_defaults(run=_tiny_model)


def _tiny_model(args: argparse.Namespace) -> int:
    from .tiny_model import DEFAULT_SHAPES, build_tiny_model, build_tiny_variants

    if args.variants:
        out = build_tiny_variants(args.dir, shapes=args.variants, seed=args.seed)
        print(f"tiny SDXL variants written to {out} ({', '.join(_sizes(args.variants))})", file=sys.stderr)
        return 0
    shapes = tuple(args.size) if args.size else DEFAULT_SHAPES
    out = build_tiny_model(args.dir, shapes=shapes, seed=args.seed)
    print(f"tiny SDXL written to {out} (sizes {', '.join(_sizes(shapes))})", file=sys.stderr)
    return 0


def _sizes(shapes: tuple[tuple[int, int], ...]) -> list[str]:
    return [f"{w}x{h}" for h, w in shapes]


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' -> (height, width), each a positive multiple of 8."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WxH, e.g. 64x64") from None
    if width <= 0 or height <= 0 or width % 8 or height % 8:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive multiples of 8")
    return height, width


def parse_sizes(text: str) -> tuple[tuple[int, int], ...]:
    """'WxH,WxH' -> ((height, width), ...), distinct sizes."""
    sizes = tuple(parse_size(part.strip()) for part in text.split(","))
    if len(set(sizes)) != len(sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: a size is listed twice")
    return sizes


def parse_shares(text: str) -> dict[str, float]:
    from sdxl_inf2.core.variants import VariantPlanError, parse_weights

    try:
        shares = parse_weights(text)
    except VariantPlanError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if any(share <= 0 for share in shares.values()):
        raise argparse.ArgumentTypeError(f"{text!r}: every share must be above 0")
    return shares


def _echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
