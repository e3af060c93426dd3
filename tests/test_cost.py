"""`sdxl-inf2 cost`: the numbers for the reference case's inputs, what it implies, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdxl_inf2.cost import (
    ON_PAPER,
    PRESETS,
    REFERENCE_CASE,
    CostInputs,
    figures,
    instance_plan,
    preset_implications,
    reference_case_implications,
)
from tests.aws import EXAMPLE, assert_one_line_error, cli

Capsys = pytest.CaptureFixture[str]
REFERENCE_PRICE = 27_796 * 0.000425  # $11.8133 an instance-hour


def test_figures_for_the_reference_cases_inputs() -> None:
    result = figures(CostInputs(seconds_per_image=9.7, workers=12, price_per_hour=REFERENCE_PRICE, target=0.75))
    assert result.worker_images_per_hour == pytest.approx(12 * 3600 / 9.7)  # 4,453.6
    assert result.images_per_hour == pytest.approx(4453.608, abs=1e-3)
    assert result.cost_per_image == pytest.approx(REFERENCE_PRICE / 4453.608, rel=1e-6)  # $0.0026525
    assert result.images_per_hour_at_target == pytest.approx(3340.206, abs=1e-3)
    assert result.cost_per_image_at_target == pytest.approx(0.0035367, abs=1e-7)
    assert result.worker_busy_at_target == 0.75


def test_a_policy_that_counts_misses_only_keeps_the_workers_at_its_target() -> None:
    misses = figures(CostInputs(10, 12, 12.0, cache_hit_rate=0.5, count_cache_hits=False))
    assert misses.worker_busy_at_target == pytest.approx(0.75)
    assert misses.images_per_hour_at_target == pytest.approx(0.75 * 4320 / 0.5)  # the hits come on top


def test_a_cache_hit_rate_multiplies_throughput_but_not_the_policys_target() -> None:
    cached = figures(CostInputs(seconds_per_image=10, workers=12, price_per_hour=12.0, cache_hit_rate=0.5))
    assert cached.images_per_hour == pytest.approx(8640)  # 4,320 rendered + 4,320 from the cache
    assert cached.cost_per_image == pytest.approx(12.0 / 8640)
    assert cached.images_per_hour_at_target == pytest.approx(0.75 * 4320)  # hits count as requests
    assert cached.worker_busy_at_target == pytest.approx(0.375)


def test_what_the_reference_cases_figures_imply() -> None:
    implied = reference_case_implications()
    assert implied.price_per_hour == pytest.approx(11.8133)
    assert implied.seconds_per_image_needed == pytest.approx(12 * 3600 / 27_796)  # 1.554 s
    assert implied.cache_hit_rate_needed == pytest.approx(1 - 4453.608 / 27_796, abs=1e-6)  # 84.0%
    assert implied.usage_rate_at_published_throughput == pytest.approx(27_796 / 4320)  # 6.43
    assert implied.requests_per_hour_at_target == pytest.approx(3240)
    # the implied hit rate reproduces the reference case's published throughput and cost per image
    again = figures(
        CostInputs(
            9.7, 12, implied.price_per_hour, cache_hit_rate=implied.cache_hit_rate_needed, target=REFERENCE_CASE.target
        )
    )
    assert again.images_per_hour == pytest.approx(27_796)
    assert again.cost_per_image == pytest.approx(0.000425)


def test_the_report_prints_both_columns_and_names_its_price(capsys: Capsys) -> None:
    run = cli(capsys, "cost")
    assert run.code == 0, run.err
    full_load = next(line for line in run.out.splitlines() if line.startswith("images per instance-hour, full"))
    assert full_load.split()[-2:] == ["4,454", "27,796"]
    cost = next(line for line in run.out.splitlines() if line.startswith("cost per image, full"))
    assert cost.split()[-2:] == ["$0.002653", "$0.000425"]
    assert (
        "$11.81 per instance-hour (implied by the reference case: 27,796 x $0.000425; not an AWS list price)" in run.out
    )
    assert "1.55 s of worker time per image" in run.out and "84.0% of the images served from a cache" in run.out
    assert "reads 6.43" in run.out and "75.0%" in run.out
    assert "assumptions:" in run.out


def test_inputs_from_flags_and_a_deploy_config(capsys: Capsys) -> None:
    run = cli(capsys, "cost", "--config", str(EXAMPLE), "--price-per-hour", "15", "--cache-hit-rate", "0.5")
    assert run.code == 0, run.err
    assert run.out.startswith(
        "inputs: 12 workers x 10 s per image, $15.00 per instance-hour (--price-per-hour), cache hit rate 50.0%"
    )
    full_load = next(line for line in run.out.splitlines() if line.startswith("images per instance-hour, full"))
    assert full_load.split()[-2] == "8,640"


def test_the_on_paper_step_model() -> None:
    assert ON_PAPER.seconds_per_image(50) == pytest.approx(14.2)  # the log it comes from, 50 steps a request
    assert PRESETS["sdxl-base-30"].seconds_per_image == pytest.approx(8.99, abs=0.01)  # the reference: 9.7
    assert PRESETS["lightning-4step"].seconds_per_image == pytest.approx(2.22, abs=0.01)
    assert PRESETS["lcm-4step"].seconds_per_image == PRESETS["lightning-4step"].seconds_per_image


def test_few_step_implications() -> None:
    four = preset_implications(PRESETS["lightning-4step"], workers=12)
    assert four.images_per_hour == pytest.approx(12 * 3600 / PRESETS["lightning-4step"].seconds_per_image)  # 19,452
    assert four.share_of_published == pytest.approx(four.images_per_hour / 27_796)  # 70%: still short of 1.55 s
    two = preset_implications(PRESETS["lightning-2step"], workers=12)
    assert 0.9 < two.share_of_published < 1  # even 2 steps stay above the 1.55 s the published figure needs


def test_workers_per_instance_are_the_containers_plan() -> None:
    """One worker per NeuronCore without CFG (the UNet runs one latent, on one core), one per chip with it."""
    reference = instance_plan(REFERENCE_CASE.instance_type, PRESETS["sdxl-base-30"])
    assert reference.workers == REFERENCE_CASE.workers == 12  # the reference case's SDXL base: one per chip
    for name in ("lightning-8step", "lightning-4step", "lightning-2step", "lcm-4step"):
        assert instance_plan("ml.inf2.48xlarge", PRESETS[name]).workers == 24, name
    assert instance_plan("ml.inf2.xlarge", PRESETS["lightning-4step"]).workers == 2
    assert instance_plan("ml.inf2.24xlarge", None).workers == 6  # plain seconds: taken as a CFG model


def test_a_preset_in_the_report(capsys: Capsys) -> None:
    """Behaviour changed with issue 20: guidance-free presets count one worker per NeuronCore (24, not 12)."""
    run = cli(capsys, "cost", "--seconds-per-image", "lightning-4step")
    assert run.code == 0, run.err
    assert run.out.startswith("inputs: 24 workers x 2.22 s per image")
    assert "workers: 24 on ml.inf2.48xlarge (one per NeuronCore)" in run.out
    full_load = next(line for line in run.out.splitlines() if line.startswith("images per instance-hour, full"))
    assert full_load.split()[-2:] == ["38,904", "27,796"]  # beside the reference case's published figure
    assert "4 steps x 0.26 s + 1.18 s = 2.22 s per image per worker" in run.out
    assert "38,904 images an hour, 140% of the reference case's 27,796, which needs 1.55 s per image" in run.out
    assert "never run on inf2" in run.out
    assert "seconds_per_image to 2.22" in run.out
    chip = cli(capsys, "cost", "--seconds-per-image", "sdxl-base-30")
    assert chip.out.startswith("inputs: 12 workers x 8.99 s") and "one per 2 NeuronCores (a chip)" in chip.out
    plain = cli(capsys, "cost", "--seconds-per-image", "2.5")
    assert plain.code == 0 and "preset" not in plain.out and "12 workers x 2.5 s per image" in plain.out


def test_the_issues_figure_as_json(capsys: Capsys) -> None:
    args = ("--seconds-per-image", "lightning-4step", "--instance-type", "ml.inf2.48xlarge", "--json")
    run = cli(capsys, "cost", *args)
    assert run.code == 0, run.err
    found = json.loads(run.out)
    assert (found["workers"], found["instance_type"], found["preset"]) == (24, "ml.inf2.48xlarge", "lightning-4step")
    assert found["images_per_hour"] >= 27_796 and found["images_per_hour"] == pytest.approx(
        24 * 3600 / (4 / 3.84 + 14.2 - 50 / 3.84)
    )
    assert found["seconds_per_image"] == pytest.approx(2.2208, abs=1e-4)
    assert found["cost_per_image_usd"] == pytest.approx(REFERENCE_PRICE / found["images_per_hour"])
    assert found["share_of_reference"] == pytest.approx(found["images_per_hour"] / 27_796)
    small = json.loads(
        cli(
            capsys,
            "cost",
            "--seconds-per-image",
            "lightning-4step",
            "--instance-type",
            "ml.inf2.xlarge",
            "--price-per-hour",
            "0.76",
            "--json",
        ).out
    )
    assert (small["workers"], small["price_per_hour_usd"]) == (2, 0.76)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--seconds-per-image", "fast"], ["--seconds-per-image 'fast'", "lightning-4step"]),
        (["--cache-hit-rate", "1"], ["--cache-hit-rate", "[0, 1)"]),
        (["--seconds-per-image", "0"], ["--seconds-per-image"]),
        (["--workers", "0"], ["--workers"]),
        (["--target", "1.5"], ["--target"]),
        (["--price-per-hour", "-1"], ["--price-per-hour"]),
        (["--config", "/no/such.yaml"], ["/no/such.yaml"]),
        (["--instance-type", "ml.inf2.24xlarge"], ["--price-per-hour: required for ml.inf2.24xlarge"]),
        (
            ["--instance-type", "ml.g5.2xlarge", "--price-per-hour", "1"],
            ["--instance-type 'ml.g5.2xlarge'", "--workers"],
        ),
    ],
)
def test_bad_input_is_one_line(capsys: Capsys, args: list[str], words: list[str], tmp_path: Path) -> None:
    assert_one_line_error(cli(capsys, "cost", *args), *words)
