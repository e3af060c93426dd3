"""`sdxl-inf2 cost`: images per instance-hour and cost per image, beside the reference case's published figures."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sdxl_inf2.cost import (
    ON_PAPER,
    PRESETS,
    REFERENCE_CASE,
    CostError,
    CostFigures,
    CostInputs,
    Preset,
    figures,
    instance_plan,
    preset_implications,
    price,
    reference_case_implications,
)


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
    parser.add_argument(
        "--instance-type",
        metavar="TYPE",
        help=f"an inf2 instance type (default: the config's, else {REFERENCE_CASE.instance_type}): its workers "
        "are the container's plan for the preset's model (one per NeuronCore without CFG, one per chip with it)",
    )
    parser.add_argument(
        "--workers", type=int, help="model workers per instance (default: the config's, else the instance type's plan)"
    )
    parser.add_argument(
        "--price-per-hour",
        type=float,
        help=f"instance price in USD (default: what the reference case implies, for {REFERENCE_CASE.instance_type})",
    )
    parser.add_argument("--cache-hit-rate", type=float, default=0.0, help="share of requests served from the cache")
    parser.add_argument("--target", type=float, help=f"usage-rate target (default {REFERENCE_CASE.target:g})")
    parser.add_argument(
        "--count-cache-hits",
        action=argparse.BooleanOptionalAction,
        help="the policy counts hits as requests "
        "(default: the config's count_cache_hits, else yes, as the reference case)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.set_defaults(run=_cost)


@dataclass(frozen=True)
class Setup:
    """What the figures are for: the inputs, and where the price and the workers come from."""

    inputs: CostInputs
    price_source: str
    instance_type: str
    workers_from: str  # "--workers", "the config", or the plan's cores per worker
    preset: Preset | None


def _cost(args: argparse.Namespace) -> int:
    preset = PRESETS.get(args.seconds_per_image or "")
    if preset is not None:
        args.seconds_per_image = preset.seconds_per_image
    elif args.seconds_per_image is not None:
        args.seconds_per_image = _seconds(args.seconds_per_image)
    setup = _setup(args, preset)
    setup.inputs.check()
    print(json.dumps(as_json(setup), indent=2) if args.json else "\n".join(report(setup)))
    return 0


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CostError(
            f"--seconds-per-image {text!r}: neither a number of seconds nor a preset ({', '.join(PRESETS)})"
        ) from None


def _setup(args: argparse.Namespace, preset: Preset | None) -> Setup:
    seconds, target, count_hits = REFERENCE_CASE.seconds_per_image, REFERENCE_CASE.target, True
    instance_type, config_workers = args.instance_type, None
    if args.config is not None:
        from sdxl_inf2.deploy.config import load_config
        from sdxl_inf2.deploy.workers import settled_for_estimates

        config = load_config(args.config)
        if args.workers is None and args.instance_type is None:
            config_workers = settled_for_estimates(config).workers
        instance_type = instance_type or config.instance_type
        if config.autoscaling is not None:
            seconds = config.autoscaling.usage_rate.seconds_per_image
            target = config.autoscaling.usage_rate.target_value
            count_hits = config.autoscaling.usage_rate.count_cache_hits
    instance_type = instance_type or REFERENCE_CASE.instance_type
    workers, workers_from = _workers(args.workers, config_workers, instance_type, preset)
    price_per_hour, source = price(args.price_per_hour, instance_type)
    inputs = CostInputs(
        seconds_per_image=seconds if args.seconds_per_image is None else args.seconds_per_image,
        workers=workers,
        price_per_hour=price_per_hour,
        cache_hit_rate=args.cache_hit_rate,
        target=target if args.target is None else args.target,
        count_cache_hits=count_hits if args.count_cache_hits is None else args.count_cache_hits,
    )
    return Setup(inputs, source, instance_type, workers_from, preset)


def _workers(flag: int | None, from_config: int | None, instance_type: str, preset: Preset | None) -> tuple[int, str]:
    if flag is not None:
        return flag, "--workers"
    if from_config is not None:
        return from_config, "the config"
    plan = instance_plan(instance_type, preset)
    [cores] = plan.cores.values()
    return plan.workers, f"one per {'NeuronCore' if cores == 1 else f'{cores} NeuronCores (a chip)'}"


def as_json(setup: Setup) -> dict[str, Any]:
    """`--json`: the inputs, the figures and the reference case's, flat; money in USD."""
    inputs, result, case = setup.inputs, figures(setup.inputs), REFERENCE_CASE
    return {
        "instance_type": setup.instance_type,
        "workers": inputs.workers,
        "workers_from": setup.workers_from,
        "preset": setup.preset.name if setup.preset else None,
        "seconds_per_image": inputs.seconds_per_image,
        "price_per_hour_usd": inputs.price_per_hour,
        "price_source": setup.price_source,
        "cache_hit_rate": inputs.cache_hit_rate,
        "target": inputs.target,
        "count_cache_hits": inputs.count_cache_hits,
        **{_json_name(key): value for key, value in asdict(result).items()},
        "share_of_reference": result.images_per_hour / case.images_per_instance_hour,
        "reference_images_per_hour": case.images_per_instance_hour,
        "reference_cost_per_image_usd": case.cost_per_image,
    }


def _json_name(field: str) -> str:
    return f"{field}_usd" if field.startswith("cost_") else field


def report(setup: Setup) -> list[str]:
    inputs, preset = setup.inputs, setup.preset
    result = figures(inputs)
    lines = [
        f"inputs: {inputs.workers} workers x {inputs.seconds_per_image:.3g} s per image, "
        f"${inputs.price_per_hour:,.2f} per instance-hour ({setup.price_source}), "
        f"cache hit rate {inputs.cache_hit_rate:.1%}, usage-rate target {inputs.target:g}",
        f"workers: {inputs.workers} on {setup.instance_type} ({setup.workers_from})",
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
    guidance_free = (
        preset.needs.compiled is not None and preset.needs.compiled.planned(preset.guidance_scale).cores == 1
    )
    return [
        f"preset {preset.name}: {preset.what}",
        f"  on paper: {preset.steps} steps x {ON_PAPER.step_s:.2f} s + {ON_PAPER.other_s:.2f} s = "
        f"{preset.seconds_per_image:.2f} s per image per worker (a public inf2 step rate; not measured here;",
        f"  the same model gives {PRESETS['sdxl-base-30'].seconds_per_image:.2f} s for SDXL base at 30 steps, "
        f"against the reference case's published {case.seconds_per_image:g} s);",
        f"  {inputs.workers} workers: {implied.images_per_hour:,.0f} images an hour, "
        f"{implied.share_of_published:.0%} of the reference case's {case.images_per_instance_hour:,.0f}, "
        f"which needs {needed:.2f} s per image at {case.workers} workers;",
        *(
            [
                "  without CFG the UNet runs one latent, which one NeuronCore runs alone: one worker per core",
                "  (optimum-neuron's no-data-parallel load; read from its source, never run on inf2);",
            ]
            if guidance_free
            else []
        ),
        f"  deploy: set autoscaling.usage_rate.seconds_per_image to {preset.seconds_per_image:.2f} for this model.",
    ]


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
