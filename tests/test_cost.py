"""`sdxl-inf2 cost`: the numbers for the reference case's inputs, what it implies, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdxl_inf2.cost import (
    ON_PAPER,
    PRESETS,
    REFERENCE_CASE,
    CostInputs,
    figures,
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
    assert four.per_core_images_per_hour == pytest.approx(2 * four.images_per_hour)  # CFG off: one core idles
    assert preset_implications(PRESETS["sdxl-base-30"], workers=12).per_core_images_per_hour is None  # CFG: both busy
    two = preset_implications(PRESETS["lightning-2step"], workers=12)
    assert 0.9 < two.share_of_published < 1  # even 2 steps stay above the 1.55 s the published figure needs


def test_a_preset_in_the_report(capsys: Capsys) -> None:
    run = cli(capsys, "cost", "--seconds-per-image", "lightning-4step")
    assert run.code == 0, run.err
    assert run.out.startswith("inputs: 12 workers x 2.22 s per image")
    full_load = next(line for line in run.out.splitlines() if line.startswith("images per instance-hour, full"))
    assert full_load.split()[-2:] == ["19,452", "27,796"]  # beside the reference case's published figure
    assert "4 steps x 0.26 s + 1.18 s = 2.22 s per image per chip" in run.out
    assert "19,452 images an hour, 70% of the reference case's 27,796, which needs 1.55 s per image" in run.out
    assert "one worker per core (24) would give 38,904 an hour" in run.out and "not built, unverified" in run.out
    assert "seconds_per_image to 2.22" in run.out
    plain = cli(capsys, "cost", "--seconds-per-image", "2.5")
    assert plain.code == 0 and "preset" not in plain.out and "x 2.5 s per image" in plain.out


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
    ],
)
def test_bad_input_is_one_line(capsys: Capsys, args: list[str], words: list[str], tmp_path: Path) -> None:
    assert_one_line_error(cli(capsys, "cost", *args), *words)
