"""`sdxl-inf2 cost`: images per instance-hour and cost per image, beside the reference case's published figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from sdxl_inf2.cost import (
    ON_PAPER,
    PRESETS,
    REFERENCE_CASE,
    CostError,
    CostFigures,
    CostInputs,
    Preset,
    figures,
    preset_implications,
    price,
    reference_case_implications,
)

DEFAULT_WORKERS = REFERENCE_CASE.workers


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    text = "images per instance-hour and cost per image; the reference case's figures side by side"
    parser: argparse.ArgumentParser = commands.add_parser("cost", help=text, description=text)
    parser.add_argument("--config", type=Path, help="a deployment config: seconds per image, workers and target")
    parser.add_argument(
        "--seconds-per-image",
        metavar="S|PRESET",
        help=f"one worker, one image: seconds, or an on-paper preset ({', '.join(PRESETS)}); "
        f"default {REFERENCE_CASE.seconds_per_image:g}",
    )
    parser.add_argument("--workers", type=int, help=f"model workers per instance (default {DEFAULT_WORKERS})")
    parser.add_argument(
        "--price-per-hour", type=float, help="instance price in USD (default: what the reference case implies)"
    )
    parser.add_argument("--cache-hit-rate", type=float, default=0.0, help="share of requests served from the cache")
    parser.add_argument("--target", type=float, help=f"usage-rate target (default {REFERENCE_CASE.target:g})")
    parser.add_argument(
        "--count-cache-hits",
        action=argparse.BooleanOptionalAction,
        help="the policy counts hits as requests "
        "(default: the config's count_cache_hits, else yes, as the reference case)",
    )
    parser.set_defaults(run=_cost)


def _cost(args: argparse.Namespace) -> int:
    preset = PRESETS.get(args.seconds_per_image or "")
    if preset is not None:
        args.seconds_per_image = preset.seconds_per_image
    elif args.seconds_per_image is not None:
        args.seconds_per_image = _seconds(args.seconds_per_image)
    inputs, price_source = _inputs(args)
    print("\n".join(report(inputs.check(), price_source, preset)))
    return 0


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CostError(
            f"--seconds-per-image {text!r}: neither a number of seconds nor a preset ({', '.join(PRESETS)})"
        ) from None


def _inputs(args: argparse.Namespace) -> tuple[CostInputs, str]:
    seconds, workers, target, count_hits = (
        REFERENCE_CASE.seconds_per_image,
        DEFAULT_WORKERS,
        REFERENCE_CASE.target,
        True,
    )
    if args.config is not None:
        from sdxl_inf2.deploy.config import load_config

        config = load_config(args.config)
        workers = config.workers
        if config.autoscaling is not None:
            seconds = config.autoscaling.usage_rate.seconds_per_image
            target = config.autoscaling.usage_rate.target_value
            count_hits = config.autoscaling.usage_rate.count_cache_hits
    price_per_hour, source = price(args.price_per_hour)
    inputs = CostInputs(
        seconds_per_image=seconds if args.seconds_per_image is None else args.seconds_per_image,
        workers=workers if args.workers is None else args.workers,
        price_per_hour=price_per_hour,
        cache_hit_rate=args.cache_hit_rate,
        target=target if args.target is None else args.target,
        count_cache_hits=count_hits if args.count_cache_hits is None else args.count_cache_hits,
    )
    return inputs, source


def report(inputs: CostInputs, price_source: str, preset: Preset | None = None) -> list[str]:
    result = figures(inputs)
    lines = [
        f"inputs: {inputs.workers} workers x {inputs.seconds_per_image:.3g} s per image, "
        f"${inputs.price_per_hour:,.2f} per instance-hour ({price_source}), "
        f"cache hit rate {inputs.cache_hit_rate:.1%}, usage-rate target {inputs.target:g}",
        "",
        *_table(result),
        "",
        *([*_preset_lines(preset, inputs), ""] if preset else []),
        *_reference_case_lines(),
        "",
        *_assumptions(inputs.count_cache_hits),
    ]
    return lines


def _preset_lines(preset: Preset, inputs: CostInputs) -> list[str]:
    case = REFERENCE_CASE
    implied = preset_implications(preset, inputs.workers)
    needed = reference_case_implications().seconds_per_image_needed
    lines = [
        f"preset {preset.name}: {preset.what}",
        f"  on paper: {preset.steps} steps x {ON_PAPER.step_s:.2f} s + {ON_PAPER.other_s:.2f} s = "
        f"{preset.seconds_per_image:.2f} s per image per chip (a public inf2 step rate; not measured here;",
        f"  the same model gives {PRESETS['sdxl-base-30'].seconds_per_image:.2f} s for SDXL base at 30 steps, "
        f"against the reference case's published {case.seconds_per_image:g} s);",
        f"  {inputs.workers} workers: {implied.images_per_hour:,.0f} images an hour, "
        f"{implied.share_of_published:.0%} of the reference case's {case.images_per_instance_hour:,.0f}, "
        f"which needs {needed:.2f} s per image at {case.workers} workers;",
    ]
    if implied.per_core_images_per_hour is not None:
        lines += [
            f"  without CFG a chip's second NeuronCore idles: one worker per core ({2 * inputs.workers}) would give "
            f"{implied.per_core_images_per_hour:,.0f} an hour,",
            "  but optimum-neuron 0.4.5 loads SDXL data-parallel on 2 cores per process: not built, unverified;",
        ]
    lines.append(
        f"  deploy: set autoscaling.usage_rate.seconds_per_image to {preset.seconds_per_image:.2f} for this model."
    )
    return lines


def _table(result: CostFigures) -> list[str]:
    case = REFERENCE_CASE
    rows = [
        ("", "these inputs", "reference (published)"),
        (
            "images per instance-hour, full load",
            f"{result.images_per_hour:,.0f}",
            f"{case.images_per_instance_hour:,.0f}",
        ),
        ("cost per image, full load", f"${result.cost_per_image:.6f}", f"${case.cost_per_image:.6f}"),
        ("  of which rendered by workers", f"{result.worker_images_per_hour:,.0f} /h", ""),
        ("images per instance-hour, at the target", f"{result.images_per_hour_at_target:,.0f}", ""),
        ("cost per image, at the target", f"${result.cost_per_image_at_target:.6f}", ""),
        ("worker busy time, at the target", f"{result.worker_busy_at_target:.1%}", ""),
    ]
    return [f"{label:<42}{mine:>16}  {reference:>21}".rstrip() for label, mine, reference in rows]


def _reference_case_lines() -> list[str]:
    case = REFERENCE_CASE
    implied = reference_case_implications()
    return [
        f"what the reference case's figures imply ({case.workers} workers, {case.seconds_per_image:g} s per image, "
        f"target {case.target:g}):",
        f"  price per instance-hour: {case.images_per_instance_hour:,.0f} x ${case.cost_per_image} "
        f"= ${implied.price_per_hour:,.2f}",
        f"  {case.images_per_instance_hour:,.0f} images an hour from {case.workers} workers is "
        f"{implied.seconds_per_image_needed:.2f} s of worker time per image, not {case.seconds_per_image:g} s;",
        f"  or, at {case.seconds_per_image:g} s, {implied.cache_hit_rate_needed:.1%} of the images served from a cache",
        "  (or several images per request; the post does not say which).",
        f"  its usage-rate policy (m2 / (m1 * 60 / {case.policy_seconds_per_image:g} * {case.workers})) reads "
        f"{implied.usage_rate_at_published_throughput:.2f} at that throughput, against a target of {case.target:g}:",
        f"  holding the target, an instance takes {implied.requests_per_hour_at_target:,.0f} requests an hour,",
        "  so the published throughput is not a steady state under that policy.",
    ]


def _assumptions(count_cache_hits: bool) -> list[str]:
    policy = (
        "the usage-rate policy counts hits as requests, as the reference case does."
        if count_cache_hits
        else "the usage-rate policy counts misses only (count_cache_hits: false)."
    )
    return [
        "assumptions: a worker renders one image per --seconds-per-image back to back; a cache hit costs no",
        "worker time; the instance is paid every hour it runs, and nothing else is priced (S3, transfer,",
        f"CloudWatch, scale-out and idle time); {policy}",
    ]
