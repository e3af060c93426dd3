"""bench/verdict.py: the rules every benchmark's verdict follows (block order, spread, noise,
refusing impossible runs), and the steady-state throughput of bench/harness."""

from __future__ import annotations

import pytest

from bench.harness import LoadResult, Sample
from bench.overhead import server_compute_ms
from bench.verdict import InvalidRun, Spread, block_orders, compare, invalid, judge, median_interval, paired_ratios


def test_block_order_rotates_so_no_series_is_always_first() -> None:
    assert block_orders(["a", "b"], 4) == [["a", "b"], ["b", "a"], ["a", "b"], ["b", "a"]]
    assert [order[0] for order in block_orders(["a", "b", "c"], 3)] == ["a", "b", "c"]


def test_spread_is_the_median_and_range_of_block_values() -> None:
    spread = Spread.of([1.0, 3.0, 2.0, 10.0])
    assert (spread.median, spread.low, spread.high) == (2.5, 1.0, 10.0)
    assert spread.text(1) == "2.5 (1.0-10.0)"
    with pytest.raises(InvalidRun):
        Spread.of([])


def test_only_unanimous_blocks_give_a_direction() -> None:
    assert compare([1.1, 1.2, 1.05, 1.3, 1.1, 1.2], "ours faster", "ours slower").startswith("ours faster by 15.0%")
    assert compare([0.9] * 6, "ours faster", "ours slower").startswith("ours slower by 10.0%")
    mixed = compare([1.5, 0.9, 1.2, 1.1, 1.3, 1.4], "ours faster", "ours slower")
    assert mixed == "equal within noise (block ratios 0.900-1.500)"
    assert compare([2.0, 2.0], "ours faster", "ours slower").startswith("too few blocks for a verdict")


def test_paired_ratios_refuse_mismatched_or_empty_blocks() -> None:
    assert paired_ratios([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]
    for numerator, denominator in (([1.0], [1.0, 2.0]), ([], []), ([1.0], [0.0])):
        with pytest.raises(InvalidRun):
            paired_ratios(numerator, denominator)


def test_invalid_prints_one_line_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        invalid("faster than the call it wraps")
    assert exit_info.value.code == 1
    assert capsys.readouterr().out == "invalid run: faster than the call it wraps\n"


def test_server_compute_is_inference_plus_encode() -> None:
    assert server_compute_ms("queue;dur=0.1, inference;dur=35.2, encode;dur=0.4, total;dur=36") == pytest.approx(35.6)


def test_steady_throughput_leaves_out_the_first_round_and_counts_the_rest() -> None:
    finished = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 4.5]  # two workers, then one last straggler
    result = LoadResult(5.0, [Sample(1.0, 200, b"", None, t) for t in finished])
    assert result.steady_throughput(skip=1) == pytest.approx(7 / 3.5)


def test_median_interval_is_the_order_statistics_of_the_binomial_tail() -> None:
    assert median_interval(list(range(1, 31))) == (10, 21)
    assert median_interval(list(range(1, 17))) == (4, 13)
    with pytest.raises(InvalidRun):
        median_interval([1.0, 2.0, 3.0, 4.0, 5.0])  # no 95% interval from five blocks


def test_a_target_is_met_only_when_the_whole_interval_is_within_it() -> None:
    steady = [1.00, 1.01, 1.02, 1.03, 1.00, 1.01, 1.02, 1.00, 1.01, 1.02, 1.03, 1.04]
    assert judge("ratio <= 1.05", steady, 1.05).endswith("-> met")
    assert judge("ratio <= 0.9", steady, 0.9).endswith("-> MISSED")
    noisy = [0.7, 1.8, 1.0, 0.9, 1.2, 1.1, 0.95, 1.3, 1.0, 1.05, 0.99, 1.1]
    assert "no verdict" in judge("ratio <= 1.05", noisy, 1.05)
