#!/usr/bin/env python3
"""Benchmark (issue 14, part 2): a campaign of R replicates in one run against R separate
runs back to back, same budgets, same engines.

usage: tests/bench/replicates.py [--banyan build/banyan] [--replicates 50] [--engines 16]
                                 [--iterations N] [--cost 0.01] [--set section.key=value]...

Each search is the synthetic domain with jobs that sleep --cost seconds (10 ms), N
iterations each, on --engines engines (mpirun -n engines+1 --oversubscribe). The campaign
(search.replicates = R) runs once; the separate runs use seeds seed + r, one after the
other, as a user without campaigns would. Prints the wall time of both (launches
included: they are part of what a campaign saves), the iterations done, and the ratio
separate / campaign. Checkpoints are on (the default), as in real use."""
import argparse
import os
import subprocess
import tempfile
import time

import h5py

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def launch(a, sets, tmp, name):
    cmd = ["mpirun", "-n", str(a.engines + 1), "--oversubscribe", a.banyan, "run",
           os.path.join(TOP, "configs", "synthetic-bench.ini"), "--quiet", "--overwrite"]
    base = [f"search.iterations={a.iterations}", "search.progress_seconds=0", "domain.synthetic.cost=sleep",
            "domain.synthetic.cost_dist=fixed", f"domain.synthetic.cost_mean={a.cost}",
            f"checkpoint.file={os.path.join(tmp, name)}"] + a.set + sets
    t0 = time.monotonic()
    subprocess.run(cmd + sum([["--set", s] for s in base], []), env=ENV, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def completed(path):
    with h5py.File(path, "r") as f:
        return int(f.attrs["completed"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--banyan", default=os.path.join(TOP, "build", "banyan"))
    ap.add_argument("--replicates", type=int, default=50)
    ap.add_argument("--engines", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--cost", type=float, default=0.01)
    ap.add_argument("--set", action="append", default=[], help="extra option for every run")
    a = ap.parse_args()
    R = a.replicates
    with tempfile.TemporaryDirectory() as tmp:
        t_camp = launch(a, [f"search.replicates={R}"], tmp, "camp.h5")
        done_camp = sum(completed(os.path.join(tmp, "camp.r%03d.h5" % r)) for r in range(R))
        t_sep = 0.0
        done_sep = 0
        for r in range(R):
            t_sep += launch(a, [f"search.seed={1 + r}"], tmp, "sep%d.h5" % r)
            done_sep += completed(os.path.join(tmp, "sep%d.h5" % r))
    ideal = R * a.iterations * a.cost / a.engines
    print(f"{R} searches x {a.iterations} iterations of {a.cost * 1000:g} ms jobs on {a.engines} engines "
          f"(ideal {ideal:.1f} s of engine time each way)")
    print(f"  one campaign (search.replicates={R}): {t_camp:8.1f} s  {done_camp} iterations  "
          f"{done_camp / t_camp:8.0f} per s")
    print(f"  {R} separate runs back to back:    {t_sep:8.1f} s  {done_sep} iterations  "
          f"{done_sep / t_sep:8.0f} per s")
    print(f"  wall-time ratio separate / campaign: {t_sep / t_camp:.2f}")


if __name__ == "__main__":
    main()
