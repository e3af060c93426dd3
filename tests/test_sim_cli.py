"""`sdxl-inf2 simulate`: the table, the JSON and the PNG for deploy/example.yaml, the same JSON for the
same seed, traces from specs and CSV files, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.aws import EXAMPLE, assert_one_line_error, cli, write_config

Capsys = pytest.CaptureFixture[str]
SPIKE = "spike:20:900:5:10:40"  # 20 a minute, 900 a minute from minute 5 for 10 minutes, 40 minutes
JSON_FIELDS = {
    "p50_s",
    "p95_s",
    "p99_s",
    "mean_wait_s",
    "completed",
    "expired",
    "instance_hours",
    "cost_usd",
    "cost_per_image_usd",
    "peak_instances",
    "slo_attainment",
}


def test_prints_the_table_and_writes_the_json_and_the_plot(capsys: Capsys, tmp_path: Path) -> None:
    out_json, out_png = tmp_path / "sim.json", tmp_path / "sim.png"
    run = cli(
        capsys,
        "simulate",
        str(EXAMPLE),
        "--trace",
        SPIKE,
        "--max",
        "20",
        "--json",
        str(out_json),
        "--plot",
        str(out_png),
    )
    assert run.code == 0, run.err
    header = run.out.splitlines()[1]
    assert header.split() == ["usage-rate-container", "usage-rate-demand", "surge", "backlog"]
    assert "time to result p95 (s)" in run.out and "cost per image (USD)" in run.out
    assert "implied by the reference case" in run.out  # the `cost` command's price
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    document = json.loads(out_json.read_text())
    assert set(document["policies"]) == {"usage-rate-container", "usage-rate-demand", "surge", "backlog"}
    for name, result in document["policies"].items():
        assert set(result) >= JSON_FIELDS, name
        assert result["completed"] + result["expired"] == result["requests"]
        assert result["cost_usd"] == pytest.approx(result["instance_hours"] * 27_796 * 0.000425, rel=1e-5)
        assert result["p50_s"] <= result["p95_s"] <= result["p99_s"] <= result["max_s"]
        assert 1 <= result["peak_instances"] <= 20
    assert document["inputs"]["fleet"]["max_capacity"] == 20
    assert "simulate: backlog (4/4)" in run.err  # the progress line


def test_the_same_seed_gives_the_same_json(capsys: Capsys, tmp_path: Path) -> None:
    paths = [tmp_path / f"{n}.json" for n in range(3)]
    for path, seed in zip(paths, ("7", "7", "8"), strict=True):
        run = cli(
            capsys,
            "simulate",
            str(EXAMPLE),
            "--trace",
            SPIKE,
            "--seed",
            seed,
            "--service-time",
            "exp",
            "--json",
            str(path),
        )
        assert run.code == 0, run.err
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def simulate_json(capsys: Capsys, tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """Runs `sdxl-inf2 simulate ARGS --json`; returns stdout and the figures by policy."""
    path = tmp_path / "out.json"
    run = cli(capsys, "simulate", *args, "--json", str(path))
    assert run.code == 0, run.err
    return run.out, json.loads(path.read_text())["policies"]


def test_csv_and_merged_traces(capsys: Capsys, tmp_path: Path) -> None:
    arrivals = tmp_path / "arrivals.csv"
    arrivals.write_text("0\n1.5\n\n30\n")
    traces = ["--trace", f"csv:{arrivals}", "--trace", "steady:2:3"]
    _, policies = simulate_json(capsys, tmp_path, str(EXAMPLE), *traces, "--policy", "none")
    result = policies["none"]
    assert (result["requests"], result["completed"], result["p50_s"]) == (9, 9, 10.0)  # one instance, all at once


def test_policy_none_keeps_the_initial_capacity(capsys: Capsys, tmp_path: Path) -> None:
    args = ["--trace", "steady:600:20", "--policy", "none", "--initial", "3"]
    result = simulate_json(capsys, tmp_path, str(EXAMPLE), *args)[1]["none"]
    assert result["peak_instances"] == 3 and result["mean_instances"] == pytest.approx(3)
    assert result["expired"] == 0 and result["p95_s"] > 60  # 600 a minute against 216: a growing queue


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--trace", "spike:1:2"], ["--trace spike:1:2", "BASE_PER_MIN:PEAK_PER_MIN"]),
        (["--trace", "poisson:x:10"], ["--trace poisson:x:10", "PER_MIN must be a number"]),
        (["--trace", "steady:0:10"], ["PER_MIN must be above 0"]),
        (["--trace", "spike:1:2:50:20:60"], ["within MINUTES"]),
        (["--trace", "bursty:1:2"], ["the kind must be one of"]),
        (["--trace", "csv:/nonexistent/a.csv"], ["cannot read /nonexistent/a.csv"]),
        (["--cache-hit-rate", "1"], ["--cache-hit-rate must be in [0, 1)"]),
        (["--slo-s", "0"], ["--slo-s must be above 0"]),
        (["--max", "0"], ["--max must be at least 1"]),
        (["--workers", "0"], ["--workers must be at least 1"]),
        (["--launch-s", "-5"], ["--launch-s must not be negative"]),
        (["--metric-lag-s", "-1"], ["--metric-lag-s must not be negative"]),
        (["--high-resolution-lag-s", "-1"], ["--high-resolution-lag-s must not be negative"]),
        (["--low-alarm-ratio", "1.5"], ["--low-alarm-ratio"]),
        (["--start", "monday"], ["--start monday"]),
        (["--json", "/nonexistent/dir/out.json"], ["/nonexistent/dir/out.json: cannot write"]),
    ],
)
def test_bad_input_is_one_line(capsys: Capsys, args: list[str], words: list[str]) -> None:
    trace = [] if "--trace" in args else ["--trace", "steady:1:2"]
    assert_one_line_error(cli(capsys, "simulate", str(EXAMPLE), *trace, *args), *words)


def test_the_surge_is_sized_for_the_simulated_maximum(capsys: Capsys, tmp_path: Path) -> None:
    """--max is the config's max_capacity for the policies deploy would build: the surge's top band."""
    args = ["--trace", "spike:60:12000:30:30:120", "--policy", "surge", "--max", "250"]
    surge = simulate_json(capsys, tmp_path, str(EXAMPLE), *args)[1]["surge"]
    assert 200 <= surge["peak_instances"] < 250  # the example's own max_capacity is 4
    assert json.loads((tmp_path / "out.json").read_text())["inputs"]["observation"]["high_resolution_lag_s"] == 10
    slower = simulate_json(capsys, tmp_path, str(EXAMPLE), *args, "--high-resolution-lag-s", "40")[1]["surge"]
    assert slower["p95_s"] > surge["p95_s"]  # the surge's datapoints reach its alarm later


def test_a_bad_csv_line_is_named(capsys: Capsys, tmp_path: Path) -> None:
    arrivals = tmp_path / "arrivals.csv"
    arrivals.write_text("0\n12\nsoon\n")
    assert_one_line_error(cli(capsys, "simulate", str(EXAMPLE), "--trace", f"csv:{arrivals}"), f"{arrivals}:3", "soon")
    arrivals.write_text("-4\n")
    assert_one_line_error(cli(capsys, "simulate", str(EXAMPLE), "--trace", f"csv:{arrivals}"), f"{arrivals}:1")


def test_a_config_without_autoscaling_runs_only_policy_none(capsys: Capsys, tmp_path: Path) -> None:
    config = write_config(tmp_path, autoscaling=None)
    run = cli(capsys, "simulate", str(config), "--trace", "steady:1:2")
    assert_one_line_error(run, "no autoscaling section")
    assert cli(capsys, "simulate", str(config), "--trace", "steady:1:2", "--policy", "none").code == 0


def test_the_command_line_loads_simpy_and_matplotlib_only_when_simulating() -> None:
    probe = "import sys, sdxl_inf2.cli; print(sorted(m for m in ('simpy', 'matplotlib') if m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_scheduled_actions_move_the_bounds_unless_left_out(capsys: Capsys, tmp_path: Path) -> None:
    """deploy/example.yaml raises MinCapacity to 1 at 08:00 London on weekdays (GMT in January); without
    the step policy nothing else can leave zero instances."""
    config = write_config(tmp_path, **{"autoscaling.scale_from_zero.enabled": False})
    args = [str(config), "--trace", "steady:2:10", "--policy", "usage-rate-container", "--initial", "0"]
    args += ["--start", "2026-01-05T07:55:00Z"]
    out, policies = simulate_json(capsys, tmp_path, *args)
    assert "scheduled actions fired: sdxl-inf2-prod-weekday-morning" in out
    result = policies["usage-rate-container"]
    assert (result["scheduled_actions"], result["peak_instances"], result["completed"]) == (1, 1, 20)
    result = simulate_json(capsys, tmp_path, *args, "--no-schedules", "--ttl-s", "600")[1]["usage-rate-container"]
    assert (result["scheduled_actions"], result["peak_instances"], result["expired"]) == (0, 0, 20)
