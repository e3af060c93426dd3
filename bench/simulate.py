"""bench/simulate: `sdxl-inf2 simulate` on a 24-hour trace of about one million requests, the four
default policies (the surge's alarm evaluated every 10 s among them), measured end to end (a child
process: start-up, trace, simulation, report, plot).

Target: at most 60 s on the 2-core development machine. Plausibility: every request of every
policy must be accounted for (completed + expired = requests), and no policy may have taken less
than 1 us of wall time per request (SimPy alone costs several us per event; one event per request
is the floor): otherwise the run is reported invalid, not as a verdict.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import save, table

ROOT = Path(__file__).resolve().parent.parent
TRACE = "diurnal:1389:1"  # mean 1,389 / 2 a minute for 1,440 minutes: about 1,000,000 requests
TARGET_S = 60.0
FLOOR_S_PER_REQUEST = 1e-6


def run(trace: str, extra: list[str]) -> tuple[float, dict[str, Any], dict[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "day.json"
        command = [
            *(sys.executable, "-m", "sdxl_inf2.cli", "simulate", str(ROOT / "deploy" / "example.yaml")),
            *(
                "--trace",
                trace,
                "--max",
                "40",
                "--no-schedules",
                "--json",
                str(out),
                "--plot",
                str(Path(folder) / "day.png"),
            ),
            *extra,
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        per_policy = {m[0]: float(m[1]) for m in re.findall(r"simulate: (\S+) \(\d+/\d+\).*?([\d.]+) s", done.stderr)}
        return wall, json.loads(out.read_text()), per_policy


def verdict(wall: float, document: dict[str, Any], per_policy: dict[str, float]) -> str:
    for name, result in document["policies"].items():
        if result["completed"] + result["expired"] != result["requests"]:
            return f"invalid run: {name} lost requests"
        if per_policy.get(name, 0.0) < result["requests"] * FLOOR_S_PER_REQUEST:
            return f"invalid run: {name} took under {FLOOR_S_PER_REQUEST * 1e6:g} us per request"
    return f"{'met' if wall <= TARGET_S else 'NOT met'} (target <= {TARGET_S:g} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", default=TRACE)
    args, extra = parser.parse_known_args()
    wall, document, per_policy = run(args.trace, extra)
    requests = next(iter(document["policies"].values()))["requests"]
    rows = [[name, f"{seconds:.1f}", f"{requests / seconds:,.0f}"] for name, seconds in per_policy.items()]
    print(f"\nbench/simulate ({args.trace}: {requests:,} requests, example.yaml, --max 40, {len(per_policy)} policies)")
    print(table(["policy", "simulation s", "requests simulated / s"], rows))
    print(f"whole command: {wall:.1f} s wall ({len(per_policy) * requests / wall:,.0f} requests / s over the policies)")
    result = verdict(wall, document, per_policy)
    print(f"verdict: {result}")
    save(
        "simulate",
        {"trace": args.trace, "requests": requests, "wall_s": wall, "policies_s": per_policy, "verdict": result},
    )


if __name__ == "__main__":
    main()
