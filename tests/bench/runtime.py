#!/usr/bin/env python3
"""Benchmarks of the distributed runtime (issue 2). Not part of the test suite: it prints
figures, each as a ratio against a baseline measured in the same invocation.

usage: tests/bench/runtime.py [--banyan build/banyan] [--quick] [--csv out.csv]

  throughput   zero-cost synthetic jobs, 2 ranks: evaluations/s without batching (baseline),
               with fixed batches of 16, and with adaptive batching
  efficiency   10 ms sleep jobs with 16 and 64 engines (oversubscribed): parallel efficiency
               = evaluations x 10 ms / (engines x wall), against the ideal 1.0
  idle         CPU share of an idle engine: 4 engines, one job in flight at a time
  circuit      circuit bistability search without delay: iterations/s with 1 and 2 search
               threads (baseline: 1 thread), on one rank and with one engine
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import RatioTable  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def run(banyan, ranks, config, sets, repeats=1):
    """Best of `repeats` runs (by evaluations/s): the summary dict."""
    best = None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            summary = os.path.join(tmp, "s.json")
            cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", banyan, "run", config, "--quiet",
                   "--summary", summary, "--set", "checkpoint.enabled=false"] + sum([["--set", s] for s in sets], [])
            subprocess.run(cmd, env=ENV, check=True, stdout=subprocess.DEVNULL, cwd=tmp)
            s = json.load(open(summary))
        if best is None or s["evaluations_per_second"] > best["evaluations_per_second"]:
            best = s
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--banyan", default=os.path.join(TOP, "build", "banyan"))
    ap.add_argument("--quick", action="store_true", help="smaller runs")
    ap.add_argument("--csv", help="also write the rows as CSV")
    a = ap.parse_args()
    synth = os.path.join(TOP, "configs", "synthetic-bench.ini")
    circuit = os.path.join(TOP, "configs", "bistability-3node.ini")
    table = RatioTable(11, 42, lambda v: f"{v:14,.3f}")
    row = table.row

    n = 300000 if a.quick else 2000000
    base = run(a.banyan, 2, synth, [f"search.iterations={n // 5}", "engine.batch=1"], 3)["evaluations_per_second"]
    row("throughput", "2 ranks, zero-cost, batch 1 (baseline)", base, "eval/s", base)
    for case, sets in (("batch 16", ["engine.batch=16", "engine.depth=32"]), ("adaptive batching", ["engine.batch=0"])):
        s = run(a.banyan, 2, synth, [f"search.iterations={n}"] + sets, 3)
        row("throughput", f"2 ranks, zero-cost, {case} (mean {s['mean_batch']:.0f})", s["evaluations_per_second"],
            "eval/s", base)

    for engines in (16, 64):
        per_engine = 100 if a.quick else 300
        s = run(a.banyan, engines + 1, synth, [f"search.iterations={engines * per_engine}",
                                               "domain.synthetic.cost=sleep", "domain.synthetic.cost_mean=0.01"])
        eff = s["evaluations"] * 0.010 / (s["engines"] * s["wall_seconds"])
        row("efficiency", f"{engines} engines, 10 ms sleep jobs", eff, "", 1.0)

    s = run(a.banyan, 5, synth, ["search.iterations=100", "search.max_in_flight=1", "domain.synthetic.cost=sleep",
                                 "domain.synthetic.cost_mean=0.02"])
    idle = max(e["cpu_seconds"] / e["wall_seconds"] for e in s["engine_stats"])
    row("idle", "busiest of 4 mostly idle engines, CPU share", idle, "core", 1.0)

    it = 100000 if a.quick else 400000
    for ranks, label in ((1, "1 rank (rank 0 evaluates)"), (2, "2 ranks (1 engine)")):
        base = None
        for threads in (1, 2):
            s = run(a.banyan, ranks, circuit, [f"search.iterations={it}", f"search.threads={threads}",
                                               "search.exhaust_after=0"], 3)
            base = base or s["evaluations_per_second"]
            row("circuit", f"bistability, {label}, {threads} thread{'s' if threads > 1 else ''}",
                s["evaluations_per_second"], "iter/s", base)

    if a.csv:
        table.write_csv(a.csv)


if __name__ == "__main__":
    main()
