#!/usr/bin/env python3
"""Benchmark (issue 3): how much search throughput drops while checkpoints are written.

usage: tests/bench/checkpoint_overhead.py [--banyan build/banyan] [--iterations N] [--every S]
                                         [--set section.key=value]...

Runs the same zero-cost synthetic search (2 ranks) without checkpoints (baseline) and with
a checkpoint every S seconds, alternating, three times each, and prints evaluations per
second, the graph size, the checkpoints written, and the ratio with/without. Zero-cost jobs
are the worst case: rank 0 is the bottleneck, and on 2 cores the writer thread competes
with the dispatcher, the search thread and the engine for CPU."""
import argparse
import json
import os
import subprocess
import tempfile

import h5py

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def once(banyan, iterations, every, tmp, extra):
    ck, summary = os.path.join(tmp, "b.h5"), os.path.join(tmp, "s.json")
    sets = [f"search.iterations={iterations}", f"checkpoint.file={ck}", "search.progress_seconds=0"] + extra
    sets += [f"checkpoint.every_seconds={every}"] if every else ["checkpoint.enabled=false"]
    cmd = ["mpirun", "-n", "2", banyan, "run", os.path.join(TOP, "configs", "synthetic-bench.ini"), "--quiet",
           "--overwrite", "--summary", summary] + sum([["--set", s] for s in sets], [])
    subprocess.run(cmd, env=ENV, check=True, stdout=subprocess.DEVNULL)
    s = json.load(open(summary))
    written = 0
    if every:
        with h5py.File(ck, "r") as f:
            written = len(f["stats/checkpoints"]) - 1  # the final one is outside the timed search
    return s["evaluations_per_second"], s["nodes"], written


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--banyan", default=os.path.join(TOP, "build", "banyan"))
    ap.add_argument("--iterations", type=int, default=6000000)
    ap.add_argument("--every", type=float, default=1.0)
    ap.add_argument("--set", action="append", default=[], help="extra option for both runs")
    a = ap.parse_args()
    base, with_ckpt = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(3):
            base.append(once(a.banyan, a.iterations, 0, tmp, a.set))
            with_ckpt.append(once(a.banyan, a.iterations, a.every, tmp, a.set))
    b = max(r[0] for r in base)
    w = max(r[0] for r in with_ckpt)
    print(f"zero-cost synthetic search, 2 ranks, {a.iterations} iterations, graph {with_ckpt[0][1]:,} nodes "
          f"{' '.join(a.set)}")
    print(f"  without checkpoints (baseline)      {b:12,.0f} eval/s")
    print(f"  checkpoint every {a.every:g} s ({with_ckpt[0][2]} written) {w:12,.0f} eval/s   ratio {w / b:.3f}")


if __name__ == "__main__":
    main()
