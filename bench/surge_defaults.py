"""bench/surge_defaults: the simulations behind the surge policy's defaults (docs/simulator.md, "choosing
a policy"). Each row is deploy/example.yaml with one change (none: the shipped defaults), simulated with
`sdxl-inf2 simulate --policy usage-rate-demand --policy surge` on the campaign spike, the issue's second
spike, a spike of our own, the diurnal day, a jump near the surge's gate and two spikes 45 minutes
apart; every figure is the surge's over usage-rate-demand's under the same config (p95 time to result,
cost per image), with the surge's peak and scaling activities.

    python -m bench.surge_defaults [--only NAME ...]

Deterministic (every trace has its seed), so the table is the same on any machine; about 25 s a row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.harness import save, table

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "example.yaml"
TRACES = {  # name -> simulate arguments
    "campaign": ["--trace", "spike:60:12000:30:30:180", "--max", "250"],
    "seed 7": ["--trace", "spike:30:3000:60:20:240", "--max", "100", "--seed", "7"],
    "own spike": ["--trace", "spike:60:6000:30:45:180", "--max", "150"],
    "diurnal": ["--trace", "diurnal:1389:1", "--max", "40", "--no-schedules"],
    # +60% in a minute on a fleet at its target (23 instances for 1,200 a minute): a jump near the gate
    "jump": ["--trace", "spike:1200:1920:60:30:180", "--max", "100", "--initial", "23"],
    # two campaign spikes 45 minutes apart: target tracking scales in between them
    "two spikes": ["--trace", "spike:15:12000:30:15:180", "--trace", "spike:15:12000:75:15:180", "--max", "250"],
}
ROWS: dict[str, dict[str, Any]] = {  # name -> changes to autoscaling (dotted keys)
    "defaults": {},
    "surge.gate 1.25": {"surge.gate": 1.25},
    "surge.gate 1.5": {"surge.gate": 1.5},
    "surge.gate 2": {"surge.gate": 2.0},
    "surge.backlog_minutes 0.1": {"surge.backlog_minutes": 0.1},
    "surge.backlog_minutes 1": {"surge.backlog_minutes": 1.0},
    "surge.cooldown_s 3600": {"surge.cooldown_s": 3600},
    "surge.target_value 0.75": {"surge.target_value": 0.75},
    "surge.target_value 0.85": {"surge.target_value": 0.85},
    "surge.target_value 0.95": {"surge.target_value": 0.95},
    "surge.datapoints 2": {"surge.datapoints": 2},
    "surge.period_s 30": {"surge.period_s": 30},
    "surge.band_ratio 1.25": {"surge.band_ratio": 1.25},
    "usage_rate.scale_out_cooldown_s 60": {"usage_rate.scale_out_cooldown_s": 60},
    "usage_rate.target_value 0.8": {"usage_rate.target_value": 0.8},
}


def config_with(changes: dict[str, Any], folder: Path) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    for dotted, value in changes.items():
        *sections, key = dotted.split(".")
        target = data["autoscaling"]
        for section in sections:
            target = target.setdefault(section, {})
        target[key] = value
    path = folder / "deploy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def simulate(config: Path, arguments: list[str], folder: Path) -> dict[str, Any]:
    out = folder / "out.json"
    command = [sys.executable, "-m", "sdxl_inf2.cli", "simulate", str(config), *arguments, "--json", str(out)]
    command += ["--policy", "usage-rate-demand", "--policy", "surge"]
    subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    policies: dict[str, Any] = json.loads(out.read_text())["policies"]
    return policies


def row(name: str, changes: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    cells: list[Any] = [name]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        config = config_with(changes, Path(folder))
        for trace, arguments in TRACES.items():
            result = simulate(config, arguments, Path(folder))
            demand, surge = result["usage-rate-demand"], result["surge"]
            p95 = surge["p95_s"] / demand["p95_s"]
            cost = surge["cost_per_image_usd"] / demand["cost_per_image_usd"]
            cells.append(f"{p95:.2f} / {cost:.3f} / {surge['peak_instances']} / {surge['scaling_activities']}")
            figures[trace] = {"usage-rate-demand": demand, "surge": surge}
    return cells, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=list(ROWS), help="rows to run (default: all)")
    args = parser.parse_args()
    cells, figures = [], {}
    for name in args.only or list(ROWS):
        line, figures[name] = row(name, ROWS[name])
        cells.append(line)
        print(" | ".join(str(cell) for cell in line), file=sys.stderr, flush=True)
    headers = ["config", *(f"{trace}: p95 / cost per image / peak / activities" for trace in TRACES)]
    print(table(headers, cells))
    save("surge_defaults", {"traces": TRACES, "rows": ROWS, "figures": figures})


if __name__ == "__main__":
    main()
