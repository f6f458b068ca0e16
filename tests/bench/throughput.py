#!/usr/bin/env python3
"""Throughput out of the box, on idle and on shared cores (issue 12). Not part of the test
suite: it prints figures, each as a ratio against a baseline measured in the same invocation.

usage: tests/bench/throughput.py [--banyan build/banyan] [--before-commit REV | --before BANYAN]
                                 [--repeats 3] [--quick] [--no-threads] [--csv out.csv]

Nothing is set in the environment of the runs (OMP_WAIT_POLICY and GOMP_SPINCOUNT are
removed if the caller has them): this measures what a user gets.

  workloads  bistability (configs/bistability-3node.ini, 200,000 iterations) and zero-cost
             synthetic jobs (configs/synthetic-bench.ini, 1,000,000); checkpoints off
  modes      1 process (`banyan run`, rank 0 evaluates), 2 ranks (`mpirun -n 2`, one
             engine), sequential (1 process, search.max_in_flight = 1)
  neighbour  idle, or one busy process beside the run (`yes >/dev/null`, stopped after)
  before     --before-commit REV builds REV (e.g. the commit before a change) into a
             temporary git worktree with this build's CMAKE_BUILD_TYPE, runs it side by
             side with this build on the same config files, and removes the worktree;
             --before BANYAN uses a binary that exists
  threads    search.threads = 1, 2 and 8 on bistability, 1 process and 2 ranks, idle

Each figure is the median of --repeats runs; runs of the two builds alternate (ABBA) and
every run is capped at 8 s (search.max_seconds), so a slow "before" cannot stall the
table. On a machine that others use, each block of runs first waits (up to --wait-quiet
seconds) until no other process is running; the blocks that ran under load are counted. Ratios: each row against the idle run of this build in the same mode; the summary
gives busy/idle ("kept"), this build / before, and 1 process / 2 ranks.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import RatioTable  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
PRESET = [k for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if ENV.pop(k, None) is not None]
CAP_SECONDS = 8

WORKLOADS = {
    "bistability": (os.path.join(TOP, "configs", "bistability-3node.ini"), 200000),
    "synthetic": (os.path.join(TOP, "configs", "synthetic-bench.ini"), 1000000),
}
# mode: (ranks, extra settings, iterations divisor)
MODES = {
    "1 process": (1, [], 1),
    "2 ranks": (2, [], 1),
    "sequential": (1, ["search.max_in_flight=1"], 2),
}


def run(banyan, ranks, config, sets):
    """Evaluations per second of one run (its JSON summary), in a fresh directory."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, "s.json")
        cmd = [banyan, "run", config, "--quiet", "--summary", summary, "--set", "checkpoint.enabled=false",
               "--set", f"search.max_seconds={CAP_SECONDS}"] + sum([["--set", s] for s in sets], [])
        if ranks > 1:
            cmd = ["mpirun", "-n", str(ranks), "--oversubscribe"] + cmd
        subprocess.run(cmd, env=ENV, check=True, stdout=subprocess.DEVNULL, cwd=tmp, timeout=300)
        with open(summary) as f:
            return json.load(f)["evaluations_per_second"]


def others_running():
    """Runnable tasks besides this one, from /proc/loadavg (the most of a few looks)."""
    most = 0
    for _ in range(5):
        with open("/proc/loadavg") as f:
            most = max(most, int(f.read().split()[3].split("/")[0]) - 1)
        time.sleep(0.1)
    return most


def wait_quiet(limit):
    """Wait until nothing else runs, at most `limit` seconds; False if it never did."""
    end = time.monotonic() + limit
    while others_running() > 0:
        if time.monotonic() >= end:
            return False
        time.sleep(1)
    return True


class Neighbour:
    """`yes >/dev/null` while the block runs (nothing if busy is false)."""

    def __init__(self, busy):
        self.busy, self.p = busy, None

    def __enter__(self):
        if self.busy:
            self.p = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        if self.p:
            self.p.kill()
            self.p.wait()


def build_before(rev, banyan):
    """Build `rev` in a temporary worktree; returns (banyan path, worktree path)."""
    build_type = "RelWithDebInfo"
    cache = os.path.join(os.path.dirname(os.path.abspath(banyan)), "CMakeCache.txt")
    if os.path.exists(cache):
        for line in open(cache):
            if line.startswith("CMAKE_BUILD_TYPE:"):
                build_type = line.split("=", 1)[1].strip() or build_type
    tree = tempfile.mkdtemp(prefix="banyan-before-")
    os.rmdir(tree)
    subprocess.run(["git", "-C", TOP, "worktree", "add", "--detach", tree, rev], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"building {rev} ({build_type}) in {tree} ...", flush=True)
    subprocess.run(["cmake", "-S", tree, "-B", os.path.join(tree, "build"), f"-DCMAKE_BUILD_TYPE={build_type}",
                    "-DBANYAN_TESTS=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", os.path.join(tree, "build"), "-j2", "--target", "banyan_cli"], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(tree, "build", "banyan"), tree


def remove_worktree(tree):
    subprocess.run(["git", "-C", TOP, "worktree", "remove", "--force", tree], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    shutil.rmtree(tree, ignore_errors=True)


def measure(builds, repeats, quick, quiet_limit):
    """figures[(workload, mode, busy, build)] = list of eval/s, runs interleaved; and the
    number of blocks that ran while other processes did."""
    figures, loaded = {}, 0
    for r in range(repeats):
        order = builds if r % 2 == 0 else builds[::-1]
        for wname, (config, iters) in WORKLOADS.items():
            for mname, (ranks, sets, div) in MODES.items():
                n = iters // div // (4 if quick else 1)
                for busy in (False, True):
                    loaded += not wait_quiet(quiet_limit)
                    with Neighbour(busy):
                        for bname, banyan in order:
                            v = run(banyan, ranks, config, [f"search.iterations={n}"] + sets)
                            figures.setdefault((wname, mname, busy, bname), []).append(v)
        print(f"  repeat {r + 1} of {repeats} done", file=sys.stderr, flush=True)
    return {k: statistics.median(v) for k, v in figures.items()}, loaded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--banyan", default=os.path.join(TOP, "build", "banyan"))
    ap.add_argument("--before", help="a banyan binary with the old behaviour")
    ap.add_argument("--before-commit", help="build this commit into a temporary worktree and compare with it")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a quarter of the iterations")
    ap.add_argument("--no-threads", action="store_true", help="skip the search.threads part")
    ap.add_argument("--wait-quiet", type=float, default=30, metavar="SECONDS",
                    help="before each block, wait at most this long for other processes to stop running")
    ap.add_argument("--csv", help="also write the rows as CSV")
    a = ap.parse_args()
    if PRESET:
        print(f"note: {', '.join(PRESET)} removed from the runs' environment", file=sys.stderr)
    builds = [("this", os.path.abspath(a.banyan))]
    tree = None
    try:
        if a.before_commit:
            before, tree = build_before(a.before_commit, a.banyan)
            builds.append(("before", before))
        elif a.before:
            builds.append(("before", os.path.abspath(a.before)))
        load = os.getloadavg()
        figures, loaded = measure(builds, a.repeats, a.quick, a.wait_quiet)
        blocks = a.repeats * len(WORKLOADS) * len(MODES) * 2
        table = RatioTable(24, 36, lambda v: f"{v:14,.0f}")
        print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; median of {a.repeats} runs; "
              f"{loaded} of {blocks} blocks ran while other processes did")
        for wname in WORKLOADS:
            for mname in MODES:
                base = figures[(wname, mname, False, "this")]
                for bname, _ in builds:
                    for busy in (False, True):
                        case = ("busy neighbour" if busy else "idle") + ("" if bname == "this" else f" ({bname})")
                        if bname == "this" and not busy:
                            case += " (baseline)"
                        table.row(f"{wname}, {mname}", case, figures[(wname, mname, busy, bname)], "eval/s", base)

        print("\nsummary (eval/s; kept = busy / idle of the same build)\n")
        head = "| workload | mode | idle | busy neighbour | kept |"
        rule = "|---|---|---:|---:|---:|"
        if len(builds) > 1:
            head += " before: idle | before: busy | before: kept | idle vs before | busy vs before |"
            rule += "---:|---:|---:|---:|---:|"
        print(head)
        print(rule)
        for wname in WORKLOADS:
            for mname in MODES:
                i, b = figures[(wname, mname, False, "this")], figures[(wname, mname, True, "this")]
                line = f"| {wname} | {mname} | {i:,.0f} | {b:,.0f} | {b / i:.2f} |"
                if len(builds) > 1:
                    bi, bb = figures[(wname, mname, False, "before")], figures[(wname, mname, True, "before")]
                    line += f" {bi:,.0f} | {bb:,.0f} | {bb / bi:.2f} | {i / bi:.1f}x | {b / bb:.1f}x |"
                print(line)
        for wname in WORKLOADS:
            one, two = figures[(wname, "1 process", False, "this")], figures[(wname, "2 ranks", False, "this")]
            print(f"\n{wname}: 1 process / 2 ranks = {one / two:.2f} (idle)", end="")
        print()

        if not a.no_threads:
            config, iters = WORKLOADS["bistability"]
            n = iters // (4 if a.quick else 1)
            print("\nsearch threads (bistability, idle, this build)")
            for ranks, label in ((1, "1 process"), (2, "2 ranks")):
                runs = {t: [] for t in (1, 2, 8)}
                for _ in range(a.repeats):
                    wait_quiet(a.wait_quiet)
                    for t in runs:
                        runs[t].append(run(builds[0][1], ranks, config, [f"search.iterations={n}", f"search.threads={t}"]))
                base = statistics.median(runs[1])
                for t, v in runs.items():
                    table.row(f"threads, {label}", f"search.threads={t}" + (" (baseline)" if t == 1 else ""),
                              statistics.median(v), "eval/s", base)
        if a.csv:
            table.write_csv(a.csv)
    finally:
        if tree:
            remove_worktree(tree)


if __name__ == "__main__":
    main()
