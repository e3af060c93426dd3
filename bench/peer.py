"""bench/peer: the same tiny pipeline (64x64, 2 steps, PNG) behind LitServe 0.2.19 and behind
sdxl-inf2, one worker each, same client, same run.

Both servers stay up for the whole run and are measured in interleaved blocks (the order rotates
every block), so load from other jobs on the machine falls on both. Each block gives one
requests/s and one p50 per server and concurrency; the table shows the median over blocks and the
range. The verdict per concurrency compares the two block by block: "equal within noise" unless
every block agrees on which is faster. Target: sdxl-inf2 not slower beyond noise.

A block whose throughput exceeds what one worker can do (more than one second of reported compute
per second, or requests/s x the fastest generation > 1.1), or a response sooner than its reported
compute, is impossible: "invalid run".
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from bench import servers
from bench.harness import block_options, machine, median, run_load, save, table
from bench.overhead import server_compute_ms
from bench.verdict import InvalidRun, Spread, block_orders, compare, paired_ratios, refusing, target

OURS, PEER = "sdxl-inf2", "LitServe 0.2.19"
Results = dict[str, dict[int, list[dict[str, float]]]]  # server -> concurrency -> one dict per block


def one_block(port: int, concurrency: int, total: int, timed_by_server: bool) -> dict[str, float]:
    result = run_load(port, total, concurrency)
    if result.ok != len(result.samples):
        raise InvalidRun(f"{len(result.samples) - result.ok} of {len(result.samples)} requests failed")
    block = {"rps": result.throughput, "p50_ms": median(result.latencies()) * 1e3}
    if timed_by_server:
        compute = [server_compute_ms(s.server_timing) / 1e3 for s in result.samples]
        if any(s.latency_s < c for s, c in zip(result.samples, compute, strict=True)):
            raise InvalidRun("a response arrived sooner than the compute the server reported for it")
        block["busy"] = sum(compute) / result.wall_s  # one worker: at most 1
        block["fastest_s"] = min(compute)
    return block


def measure(model: Path, levels: list[int], blocks: int, per_block: int) -> Results:
    with ExitStack() as stack:
        ports = {
            OURS: stack.enter_context(servers.sdxl_inf2(model, {"SDXL_BACKEND": "torch", "SDXL_LOG_LEVEL": "warning"})),
            PEER: stack.enter_context(servers.litserve(model, null=False)),
        }
        for port in ports.values():
            run_load(port, 10, 1)  # warm-up
        results: Results = {name: {c: [] for c in levels} for name in ports}
        for order in block_orders(list(ports), blocks):
            for concurrency in levels:
                for name in order:
                    block = one_block(ports[name], concurrency, per_block, timed_by_server=name == OURS)
                    results[name][concurrency].append(block)
    return results


def check_possible(results: Results) -> None:
    """One worker computes at most one second per second, and finishes at most one request per
    fastest generation seen in the run."""
    fastest_s = min(b["fastest_s"] for runs in results[OURS].values() for b in runs)
    for name, levels in results.items():
        for concurrency, runs in levels.items():
            busiest = max(max(b.get("busy", 0), b["rps"] * fastest_s) for b in runs)
            if busiest > 1.1:
                raise InvalidRun(
                    f"{name} at concurrency {concurrency}: one worker would have been busy {busiest:.2f} s per "
                    f"second (fastest generation {fastest_s * 1e3:.1f} ms)"
                )


def report(results: Results, blocks: int, per_block: int) -> None:
    print(f"\nbench/peer (tiny SDXL 64x64, 2 steps, PNG, one worker each; {blocks} interleaved blocks of {per_block})")
    print("(medians over blocks; the range of the block values in brackets)")
    rows = [
        [name, c, Spread.of([b["rps"] for b in runs]).text(1), Spread.of([b["p50_ms"] for b in runs]).text(1)]
        for name, levels in results.items()
        for c, runs in levels.items()
    ]
    print(table(["server", "concurrency", "requests/s", "p50 ms"], rows))
    verdicts: dict[int, str] = {}
    for concurrency, ours in results[OURS].items():
        ratios = paired_ratios([b["rps"] for b in ours], [b["rps"] for b in results[PEER][concurrency]])
        verdicts[concurrency] = compare(ratios, f"{OURS} faster", f"{OURS} slower")
        print(f"concurrency {concurrency}: {verdicts[concurrency]}")
    slower = [c for c, v in verdicts.items() if v.startswith(f"{OURS} slower")]
    print(target(f"{OURS} not slower than {PEER} beyond noise", not slower, f"slower at {slower or 'no level'}"))
    save("peer", {"blocks": blocks, "per_block": per_block, "results": results, "verdicts": verdicts})


def main() -> None:
    args = block_options(__doc__ or "", "model_artifacts/tiny-sdxl", 6, 24, "requests per block and concurrency")
    servers.require("bench/peer", args.model, litserve=True)
    print(f"load average before: {machine()['load_avg_1m']:.2f}")

    def measured() -> Results:
        results = measure(args.model, [1, 4], args.blocks, args.requests)
        check_possible(results)
        return results

    report(refusing(measured), args.blocks, args.requests)


if __name__ == "__main__":
    main()
