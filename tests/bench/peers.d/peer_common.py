"""What every peer driver shares: reading its spec, the durations it submits, the warm-up,
the timed repeats, and writing what it measured.

A driver is run as `python3 peer_<system>.py SPEC.json OUT.json` (mpi4py.futures under
mpirun). The spec gives the workers, the job count, the run seed, the cost model and the
repeats; the driver submits the durations of job ids 0..n-1 (durations.py) in order, one
job per submission, collects every result, and reports the wall time from the first
submission to the last result (the shortest of the repeats, all of them listed). Start-up
and a warm-up (warm_up: every worker up and busy at once) are not timed.
"""
import json
import sys
import time

import durations


def load_spec():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} SPEC.json OUT.json")
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    model = durations.CostModel.from_dict(spec["model"])
    return spec, model.durations(spec["seed"], spec["n"])


def warm_up(submit_and_collect, workers):
    """Untimed: rounds of one 0.1 s job per worker until a round takes less than 0.15 s
    (every worker is up and takes jobs at once; at most 5 rounds, since a system whose
    dispatch is slower than that never gets there), then 200 zero-cost jobs, so that the
    submission path is warm too."""
    for _ in range(5):
        t0 = time.perf_counter()
        submit_and_collect([0.1] * workers)
        if time.perf_counter() - t0 < 0.15:
            break
    submit_and_collect([0.0] * 200)


def measure(spec, durs, submit_and_collect, extra=None):
    """Time `submit_and_collect(durs) -> (results received, sum of returned values)` the
    spec's number of times and write the figures to OUT.json."""
    walls, checks = [], []
    for _ in range(max(1, spec.get("repeats", 1))):
        t0 = time.perf_counter()
        received, returned_sum = submit_and_collect(durs)
        walls.append(time.perf_counter() - t0)
        checks.append((received, returned_sum))
    received = min(c[0] for c in checks)
    worst = max(checks, key=lambda c: abs(c[1] - sum(durs)))
    out = {"system": spec["system"], "workers": spec["workers"], "jobs": len(durs), "received": received,
           "sum_durations": sum(durs), "returned_sum": worst[1], "wall_seconds": min(walls), "walls": walls}
    out.update(extra or {})
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)
