"""The pure parts of serving variants: the worker split (docs/compile.md's inf2.48xlarge example), the
slots each variant gets, plan parsing, and the cache key per variant."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdxl_inf2.container.config import load_settings
from sdxl_inf2.container.devices import neuron_lanes
from sdxl_inf2.core.cache.key import request_key
from sdxl_inf2.core.manifest import Defaults, Shape
from sdxl_inf2.core.modeldir import ModelInfo, Variant
from sdxl_inf2.core.schema import GenerationParams
from sdxl_inf2.core.variants import VariantPlanError, parse_worker_plan
from sdxl_inf2.core.workers import Lane
from sdxl_inf2.core.workers import split_workers as split_lanes

DEFAULTS = Defaults(num_inference_steps=30, guidance_scale=5.0, scheduler="euler")
BUCKETS = ["1024x1024", "1152x896", "896x1152", "1216x832", "832x1216", "1344x768", "768x1344"]


def variant(name: str, share: float = 1.0) -> Variant:
    width, height = (int(v) for v in name.split("x"))
    model = ModelInfo(Path(name), "neuron", (Shape(height=height, width=width),), 1, DEFAULTS, None)
    return Variant(name, model, share)


def split_workers(variants: list[Variant], total: int, plan: dict[str, int] | None) -> dict[str, int]:
    """The split over `total` worker slots (one each), as on GPUs or chips."""
    return split_lanes([Lane(v.name, v.share) for v in variants], total, explicit=plan)


def test_inf2_48xlarge_by_share() -> None:
    """12 chips, square images 4x as popular as each of the two portrait/landscape sizes."""
    variants = [variant("1024x1024", 4), variant("1152x896"), variant("896x1152")]
    counts = split_workers(variants, 12, None)
    assert counts == {"1024x1024": 8, "1152x896": 2, "896x1152": 2}
    lanes = neuron_lanes(list(range(24)), counts, dict.fromkeys(counts, 2))
    cores = {name: [s.env["NEURON_RT_VISIBLE_CORES"] for s in slots] for name, slots in lanes.items()}
    assert cores["1024x1024"] == [f"{2 * k}-{2 * k + 1}" for k in range(8)]
    assert cores["1152x896"] == ["16-17", "18-19"] and cores["896x1152"] == ["20-21", "22-23"]
    assert [s.index for slots in lanes.values() for s in slots] == list(range(12))  # worker ids stay global


@pytest.mark.parametrize(
    ("shares", "total", "expected"),
    [
        ([1] * 7, 12, [2, 2, 2, 2, 2, 1, 1]),  # the seven standard SDXL buckets, equal shares
        ([1, 1], 3, [2, 1]),
        ([1, 100], 4, [1, 3]),  # at least one worker each, whatever the share
        ([3, 1], 1 + 1, [1, 1]),
        ([0.5, 0.25, 0.25], 8, [4, 2, 2]),
    ],
)
def test_default_split_is_proportional_with_one_worker_each(
    shares: list[float], total: int, expected: list[int]
) -> None:
    variants = [variant(name, share) for name, share in zip(BUCKETS, shares, strict=False)]
    counts = split_workers(variants, total, None)
    assert list(counts.values()) == expected and sum(counts.values()) == total


@pytest.mark.parametrize(
    ("plan", "total", "words"),
    [
        (None, 2, "2 worker(s) for 3 variants"),
        ({"1024x1024": 10, "1152x896": 2, "896x1152": 1}, 12, "asks for 13 workers; 12 available"),
        ({"1024x1024": 10, "1152x896": 2}, 12, "variant '896x1152' has no worker"),
        ({"1024x1024": 1, "1152x896": 1, "896x1152": 0}, 12, "variant '896x1152' has no worker"),
        ({"1024x1024": 1, "1152x896": 1, "896x1152": 1, "512x512": 1}, 12, "unknown variant '512x512'"),
    ],
)
def test_plans_that_cannot_be_met(plan: dict[str, int] | None, total: int, words: str) -> None:
    variants = [variant("1024x1024"), variant("1152x896"), variant("896x1152")]
    with pytest.raises(VariantPlanError, match=words.replace("(", r"\(").replace(")", r"\)")):
        split_workers(variants, total, plan)


def test_an_explicit_plan_is_kept_in_variant_order() -> None:
    variants = [variant("1024x1024"), variant("1152x896")]
    assert split_workers(variants, 12, parse_worker_plan("1152x896:2,1024x1024:8")) == {"1024x1024": 8, "1152x896": 2}


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("1024x1024", "expected name:number"),
        (":3", "expected name:number"),
        ("a:1,a:2", "'a' is listed twice"),
        ("a:two", "'two' is not a number"),
        ("a:1.5", "a worker count is a whole number"),
        ("a:-1", "expected a number >= 0"),
        ("a:nan", "expected a number >= 0"),
    ],
)
def test_plan_syntax(spec: str, words: str) -> None:
    with pytest.raises(VariantPlanError, match=words):
        parse_worker_plan(spec)


def test_every_queue_holds_http_threads() -> None:
    settings = load_settings({"SDXL_MAX_QUEUE": "10"})
    assert settings.threads_for(12) == 10 + 12 + 8
    assert settings.threads_for(12, queues=3) == 3 * 10 + 12 + 8


def test_the_cache_key_includes_the_variant() -> None:
    params = GenerationParams("a cat", None, None, None, 4, 0.0, 7, 1024, 1024, 1, "euler_trailing", "png", None, "a")
    assert request_key(params, "f") != request_key(replace(params, variant="b"), "f")
    assert request_key(params, "f") == request_key(replace(params), "f")
