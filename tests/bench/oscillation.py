#!/usr/bin/env python3
"""Benchmark of the circuit domain's oscillation reward (Gillespie simulation). Not part of
the test suite: it prints figures, each as a ratio against a baseline measured in the same
invocation.

usage: tests/bench/oscillation.py [--build build] [--quick] [--csv out.csv]

  events      simulated Gillespie events per second of one engine (one thread), from
              build/tests/bench_oscillation_events over parameter sets 0..N-1 of three
              circuits: the repressilator, a dense 3-node circuit and a 5-node circuit with
              15 interactions (baseline: the repressilator)
  search      oscillation search (configs/oscillator-3node.ini) with 1, 2 and 4 engines
              (mpirun -n 2, 3, 5 --oversubscribe): evaluations per second (baseline: 1
              engine). The runs use search.deterministic = true, so every engine count runs
              the same jobs (simulation cost depends on the circuit). On a machine with C
              cores, engines beyond C share cores, so the ratio stops growing near C (rank 0
              mostly sleeps while it waits for results).

Build first: cmake --build build --target banyan_cli bench_oscillation_events
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import RatioTable  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")

CIRCUITS = [
    ("repressilator *ABC::ABi_BCi_CAi", "*ABC::ABi_BCi_CAi"),
    ("3-node, 9 interactions", "*ABC::AAa_ABa_ACi_BAi_BBa_BCa_CAi_CBa_CCi"),
    ("5-node, 15 interactions", "*ABCDE::AAa_ABi_ACa_ADi_AEa_BAi_BBa_BCi_CDa_DEi_EAa_EBi_ECa_EDi_EEa"),
]


def events_per_second(tool, circuit, sets):
    out = subprocess.run([tool, circuit, str(sets)], check=True, capture_output=True, text=True).stdout
    m = re.search(r"events=(\d+) seconds=([\d.]+) events_per_second=(\d+)", out)
    if not m:
        sys.exit(f"unexpected output of {tool}:\n{out}")
    return int(m.group(1)), float(m.group(2)), float(m.group(3)), out


def search(banyan, ranks, config, iterations):
    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, "s.json")
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", banyan, "run", config, "--quiet",
               "--summary", summary, "--set", f"search.iterations={iterations}",
               "--set", "checkpoint.enabled=false", "--set", "search.progress_seconds=0",
               "--set", "search.deterministic=true"]
        subprocess.run(cmd, env=ENV, check=True, stdout=subprocess.DEVNULL, cwd=tmp)
        return json.load(open(summary))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--quick", action="store_true", help="smaller runs")
    ap.add_argument("--csv", help="also write the rows as CSV")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    banyan = os.path.join(build, "banyan")
    tool = os.path.join(build, "tests", "bench_oscillation_events")
    config = os.path.join(TOP, "configs", "oscillator-3node.ini")
    table = RatioTable(8, 48, lambda v: f"{v:14,.{0 if v >= 1000 else 2}f}")
    row = table.row

    sets = 10 if a.quick else 40
    base = None
    for label, circuit in CIRCUITS:
        n = sets if "5-node" not in label else max(sets // 4, 4)
        events, seconds, eps, _ = events_per_second(tool, circuit, n)
        base = base or eps
        row("events", f"{label}, {n} sets", eps, "events/s", base)

    iterations = 200 if a.quick else 600
    base = None
    for engines in (1, 2, 4):
        s = search(banyan, engines + 1, config, iterations)
        base = base or s["evaluations_per_second"]
        row("search", f"oscillator-3node, {engines} engine{'s' if engines > 1 else ''}, {iterations} evals",
            s["evaluations_per_second"], "eval/s", base)

    if a.csv:
        table.write_csv(a.csv)


if __name__ == "__main__":
    main()
