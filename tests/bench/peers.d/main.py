"""The peers benchmark (run through tests/bench/peers, which installs and builds first):
banyan against multiprocessing, mpi4py.futures, Dask distributed and Celery + Redis on the
same machine, the same workloads and the same job durations, in one invocation.

Workloads (select with --workloads, systems with --systems):
  check       banyan's /results against durations.py: the peers sleep what banyan sleeps
  throughput  zero-cost jobs, 1 worker and all cores: jobs per second
  efficiency  fixed 10 ms sleeping jobs, 16/32/64 workers: sum / (workers x wall), and the
              tail: wall - sum / workers
  uneven      uniform 10-40 ms sleeping jobs, 16/32/64 workers: the same figures
  graph       search-graph iterations/s on rank 0 alone (1 process, circuit domain, zero-cost
              evaluation), 3 and 5 components, 1 and 2 search threads
  memory      resident bytes per search-graph node at 1,000,000 nodes
Results: OUT/peers.txt, OUT/peers.csv, OUT/peers.md (a summary for README.md), OUT/peers.json
and one log per run in OUT/logs/.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import time

import durations
import machine
import procs
import report
import systems
from systems import LABELS, MeasurementError, log_progress

WORKLOADS = ["check", "throughput", "efficiency", "uneven", "graph", "memory"]
SEED = 1

# Zero-cost jobs per run, per system: each run lasts a few seconds (full) on a 2-core VM.
THROUGHPUT_JOBS = {
    "full": {"banyan": 2_000_000, "banyan-tcp": 2_000_000, "pool": 100_000, "mpi4py": 10_000, "dask": 1_000,
             "celery": 3_000},
    "quick": {"banyan": 300_000, "banyan-tcp": 300_000, "pool": 20_000, "mpi4py": 2_000, "dask": 300,
              "celery": 1_000},
}
# Sleeping workloads: the same job count for every system (jobs per worker x workers).
PLAN = {
    "full": {"efficiency_workers": [16, 32, 64], "efficiency_per_worker": 100,
             "uneven_workers": [16, 32, 64], "uneven_per_worker": 40, "throughput_repeats": 3,
             "sleep_repeats": 1, "graph_iterations": {3: 1_000_000, 5: 300_000}, "graph_repeats": 3,
             "memory_circuit": True},
    "quick": {"efficiency_workers": [16, 64], "efficiency_per_worker": 30,
              "uneven_workers": [64], "uneven_per_worker": 16, "throughput_repeats": 1,
              "sleep_repeats": 1, "graph_iterations": {3: 300_000, 5: 100_000}, "graph_repeats": 1,
              "memory_circuit": False},
}


def parse_args():
    top = systems.TOP
    ap = argparse.ArgumentParser(prog="tests/bench/peers", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller runs, fewer worker counts (~6 min)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated, from: " + ",".join(WORKLOADS))
    ap.add_argument("--systems", default=",".join(systems.ALL), help="comma-separated, from: " + ",".join(systems.ALL))
    ap.add_argument("--workers", help="worker counts of the efficiency and uneven workloads (e.g. 16,64)")
    ap.add_argument("--repeats", type=int, help="runs per figure, the best kept (default 3 for throughput "
                                                "and graph, 1 otherwise; --quick: 1)")
    ap.add_argument("--banyan", default=os.path.join(top, "build", "banyan"))
    ap.add_argument("--graph-memory", default=os.path.join(top, "build", "tests", "bench_graph_memory"),
                    help="the bench_graph_memory helper")
    ap.add_argument("--out", default=os.path.join(top, "build", "bench", "peers"), help="output directory")
    ap.add_argument("--timeout", type=float, default=900, help="seconds any one run may take")
    a = ap.parse_args()
    a.workloads = [w for w in a.workloads.split(",") if w]
    a.systems = [s for s in a.systems.split(",") if s]
    for w in a.workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    for s in a.systems:
        if s not in systems.ALL:
            ap.error(f"unknown system {s!r}")
    a.plan = dict(PLAN["quick" if a.quick else "full"])
    a.throughput_jobs = THROUGHPUT_JOBS["quick" if a.quick else "full"]
    if a.workers:
        ws = [int(x) for x in a.workers.split(",") if x]
        a.plan["efficiency_workers"] = a.plan["uneven_workers"] = ws
    if a.repeats:
        for k in ("throughput_repeats", "sleep_repeats", "graph_repeats"):
            a.plan[k] = a.repeats
    return a


class Bench:
    def __init__(self, a):
        self.a = a
        os.makedirs(os.path.join(a.out, "logs"), exist_ok=True)
        for old in os.listdir(os.path.join(a.out, "logs")):
            os.remove(os.path.join(a.out, "logs", old))
        self.runner = systems.Runner(a.banyan, os.path.join(a.out, "logs"), a.timeout)
        options = ("tests/bench/peers" + (" --quick" if a.quick else "") + f" --workloads {','.join(a.workloads)}"
                   + f" --systems {','.join(a.systems)}; {datetime.datetime.now().isoformat(timespec='seconds')}")
        self.report = report.Report(machine.describe(a.banyan), options)
        self.raw = {"machine": dict(self.report.machine), "options": options, "workloads": {}}
        self.failures = 0

    # ---- one dispatch measurement ---------------------------------------------------------------
    def measure(self, system, workers, n, model, repeats):
        t = time.monotonic()
        row = {"system": system, "label": LABELS[system], "workers": workers, "jobs": n,
               "sum_durations": sum(model.durations(SEED, n))}
        try:
            if system in ("banyan", "banyan-tcp"):
                r = self.runner.banyan_measure(workers, n, model, SEED, repeats, tcp=system == "banyan-tcp")
            else:
                r = self.runner.peer_measure(system, workers, n, model, SEED, repeats)
            row.update(r)
        except (MeasurementError, procs.Timeout, OSError, ValueError) as e:
            self.failures += 1
            row["error"] = str(e)
            row["wall_seconds"] = None
        log_progress(f"  {LABELS[system]:24s} {workers:3d} workers {n:9,d} jobs: "
                     + (f"wall {row['wall_seconds']:.3f} s" if row.get("wall_seconds") else f"FAILED: {row['error']}")
                     + f"  [{time.monotonic() - t:.0f} s]")
        return row

    def dispatch_workload(self, key, title, note, worker_counts, model, jobs_for, repeats, kind, short):
        log_progress(f"== {title}")
        rows = []
        order = [s for s in systems.ALL if s in self.a.systems]
        for w in worker_counts:
            for s in order:
                rows.append(self.measure(s, w, jobs_for(s, w), model, repeats))
        self.report.add_dispatch(key, title, note, rows, kind, short)
        self.raw["workloads"][key] = rows

    # ---- workloads ------------------------------------------------------------------------------
    def throughput(self):
        cores = os.cpu_count() or 1
        self.dispatch_workload(
            "throughput", "1. Zero-cost jobs: dispatch throughput (jobs/s, higher is better)",
            f"1 worker and all cores ({cores} workers). Job counts differ per system so that each run lasts "
            "a few seconds;\nbanyan runs its search over the synthetic tree, the peers a submit-and-collect "
            f"loop. Best of {self.a.plan['throughput_repeats']} runs.",
            sorted({1, cores}), durations.CostModel("none"), lambda s, w: self.a.throughput_jobs[s],
            self.a.plan["throughput_repeats"], "throughput", "zero-cost")

    def efficiency(self):
        per = self.a.plan["efficiency_per_worker"]
        self.dispatch_workload(
            "efficiency", "2. Fixed 10 ms sleeping jobs: parallel efficiency (higher is better)",
            f"{per} jobs per worker, the same jobs for every system. efficiency = sum of durations / "
            "(workers x wall);\ntail = wall - sum / workers, the time the last job finishes after the "
            "ideal (lower is better).",
            self.a.plan["efficiency_workers"], durations.CostModel("sleep", "fixed", 0.01),
            lambda s, w: per * w, self.a.plan["sleep_repeats"], "efficiency", "10 ms")

    def uneven(self):
        per = self.a.plan["uneven_per_worker"]
        self.dispatch_workload(
            "uneven", "3. Uneven jobs, uniform 10-40 ms: parallel efficiency and tail",
            f"{per} jobs per worker; durations drawn by banyan's cost model from each job's seed "
            "(seed 1),\nthe same for every system (the seeds' 1-4 s dispatcher example scaled by 1/100).",
            self.a.plan["uneven_workers"], durations.CostModel("sleep", "uniform", 0.025, 0.01, 0.04),
            lambda s, w: per * w, self.a.plan["sleep_repeats"], "efficiency", "10-40 ms")

    def check(self):
        """banyan's /results: seeds equal to durations.job_seed, run times matching the draws."""
        log_progress("== duration check")
        import h5py  # python3-h5py (Debian), a dependency of the build

        model = durations.CostModel("sleep", "uniform", 0.025, 0.01, 0.04)
        n, engines = 200, 4
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = os.path.join(tmp, "check.h5")
            cmd = (["mpirun", "-n", str(engines + 1), "--oversubscribe", self.a.banyan, "run", systems.SYNTHETIC,
                    "--quiet", "--set", f"search.iterations={n}", "--set", f"search.seed={SEED}",
                    "--set", f"checkpoint.file={ckpt}"] + sum((["--set", s] for s in model.banyan_sets()), []))
            rows = []
            try:
                self.runner.run_logged(cmd, "check")
                with h5py.File(ckpt, "r") as f:
                    res = f["results"][:]
                ids = sorted(int(i) for i in res["job_id"])
                seeds_ok = sum(1 for r in res if int(r["seed"]) == durations.job_seed(SEED, int(r["job_id"])))
                diffs = sorted(float(r["t_finished"] - r["t_started"]) - model.duration(SEED, int(r["job_id"]))
                               for r in res)
                ok = (ids == list(range(n)) and seeds_ok == n and diffs[0] > -1e-4 and diffs[len(diffs) // 2] < 2e-3)
                figures = {"jobs": n, "ids_ok": ids == list(range(n)), "seeds_equal": seeds_ok,
                           "median_overrun_ms": 1e3 * diffs[len(diffs) // 2], "min_overrun_ms": 1e3 * diffs[0],
                           "max_overrun_ms": 1e3 * diffs[-1], "ok": ok}
            except (MeasurementError, procs.Timeout, OSError, KeyError) as e:
                figures = {"ok": False, "error": str(e)}
        if not figures["ok"]:
            self.failures += 1
            figures.setdefault("error", "banyan's job ids, seeds or run times do not match durations.py: the "
                                        "peers would not run the same jobs")
        rows.append(["uniform 10-40 ms, 4 engines", f"{n}", f"{figures.get('seeds_equal', '-')}",
                     _ms(figures.get("min_overrun_ms")), _ms(figures.get("median_overrun_ms")),
                     _ms(figures.get("max_overrun_ms")), "yes" if figures["ok"] else "NO"])
        self.report.add_table(
            "check", "0. The peers sleep what banyan sleeps (durations.py against banyan's /results)",
            "banyan run with a checkpoint; every /results row: seed == durations.job_seed(1, job_id), and\n"
            "t_finished - t_started minus the duration durations.py draws for that job (sleep overrun).",
            ["case", "jobs", "seeds equal", "overrun min ms", "median ms", "max ms", "ok"], rows,
            [dict(metric=k, value=str(v)) for k, v in figures.items()],
            errors=[figures["error"]] if "error" in figures else [])
        self.raw["workloads"]["check"] = figures
        log_progress(f"  {figures}")

    def graph(self):
        log_progress("== search-graph operations on rank 0 alone")
        rows, csv_rows, raw, errors = [], [], [], []
        for comps, root in ((3, "ABC::"), (5, "ABCDE::")):
            n = self.a.plan["graph_iterations"][comps]
            base = None
            for threads in (1, 2):
                best = None
                try:
                    for _ in range(self.a.plan["graph_repeats"]):
                        s = self.runner.banyan_run(1, systems.CIRCUIT, [
                            f"search.iterations={n}", f"search.threads={threads}", "search.exhaust_after=0",
                            f"domain.circuit.root={root}", "domain.circuit.delay=0"], f"graph-{comps}c-{threads}t")
                        if best is None or s["evaluations_per_second"] > best["evaluations_per_second"]:
                            best = s
                except (MeasurementError, procs.Timeout, OSError) as e:
                    self.failures += 1
                    rows.append([str(comps), str(threads), f"{n:,}", "-", "FAILED", "-", "-"])
                    errors.append(f"{comps} components, {threads} threads: {e}")
                    continue
                ips = best["evaluations_per_second"]
                base = base or ips
                rows.append([str(comps), str(threads), f"{best['iterations']:,}", f"{best['wall_seconds']:.3f}",
                             f"{ips:,.0f}", f"{best['nodes']:,}", f"{ips / base:.2f}"])
                csv_rows.append({"workers": 0, "system": f"banyan circuit {comps} components, {threads} threads",
                                 "metric": "iterations_per_second", "value": f"{ips:.6g}", "unit": "iter/s",
                                 "jobs": best["iterations"], "wall_seconds": f"{best['wall_seconds']:.6f}",
                                 "banyan_ratio": f"{ips / base:.6g}", "note": f"nodes {best['nodes']}"})
                raw.append({"components": comps, "threads": threads, "summary": best})
                log_progress(f"  {comps} components, {threads} threads: {ips:,.0f} iterations/s")
        self.report.add_table(
            "graph", "4. Search-graph operations per second on rank 0 alone (higher is better)",
            "One process (rank 0 evaluates its own jobs), circuit domain, bistability reward without delay\n"
            "(zero-cost evaluation), exhaust_after = 0: each iteration is select + expand + rollout/evaluate "
            "+ backprop.\nRatio: to 1 search thread. "
            f"Best of {self.a.plan['graph_repeats']} runs.",
            ["components", "threads", "iterations", "wall s", "iterations/s", "nodes", "ratio"], rows, csv_rows,
            "Search-graph iterations per second on rank 0 alone (1 process, circuit domain, zero-cost "
            "evaluation; ratio to 1 thread)", errors)
        self.raw["workloads"]["graph"] = raw

    def memory(self):
        log_progress("== resident memory per search-graph node")
        rows, csv_rows, raw, errors = [], [], {}, []
        cases = [("synthetic 8x8, exhaust_after 1", systems.SYNTHETIC, ["search.exhaust_after=1"])]
        if self.a.plan["memory_circuit"]:
            cases.append(("circuit, 5 components", systems.CIRCUIT, ["domain.circuit.root=ABCDE::",
                                                                     "search.exhaust_after=0"]))
        target = 1_000_000
        for label, config, sets in cases:
            try:
                r = self._graph_memory(config, target, sets, label)
            except (MeasurementError, procs.Timeout, OSError, ValueError) as e:
                self.failures += 1
                rows.append(["graph alone (bench_graph_memory)", label, "-", "-", "FAILED"])
                errors.append(f"graph alone, {label}: {e}")
                continue
            rows.append(["graph alone (bench_graph_memory)", label, f"{r['nodes']:,}", f"{r['edges']:,}",
                         f"{r['bytes_per_node']:.1f}"])
            csv_rows.append({"system": f"graph alone, {label}", "metric": "bytes_per_node",
                             "value": f"{r['bytes_per_node']:.6g}", "unit": "B", "jobs": r["iterations"],
                             "note": f"nodes {r['nodes']} edges {r['edges']}"})
            raw[label] = r
            log_progress(f"  graph alone, {label}: {r['bytes_per_node']:.1f} B/node at {r['nodes']:,} nodes")
        try:
            r = self._process_memory(target)
            rows.append(["rank 0 process (banyan run, 1 process)", "synthetic 8x8, exhaust_after 1",
                         f"{r['nodes']:,}", f"{r['edges']:,}", f"{r['bytes_per_node']:.1f}"])
            csv_rows.append({"system": "rank 0 process incl. results log, synthetic", "metric": "bytes_per_node",
                             "value": f"{r['bytes_per_node']:.6g}", "unit": "B", "jobs": r["iterations"],
                             "note": f"nodes {r['nodes']} peak RSS {r['maxrss_bytes']}"})
            raw["process"] = r
            log_progress(f"  rank 0 process: {r['bytes_per_node']:.1f} B/node at {r['nodes']:,} nodes")
        except (MeasurementError, procs.Timeout, OSError) as e:
            self.failures += 1
            rows.append(["rank 0 process (banyan run, 1 process)", "synthetic", "-", "-", "FAILED"])
            errors.append(f"rank 0 process: {e}")
        self.report.add_table(
            "memory", "5. Resident memory per search-graph node at 1,000,000 nodes (bytes, lower is better)",
            "graph alone: bench_graph_memory runs the search loop of one rank without MPI or results log and\n"
            "reads /proc/self/statm: (RSS at 1M nodes - RSS of the empty graph) / nodes added.\n"
            "rank 0 process: peak RSS (VmHWM) of `banyan run` (1 process, search.max_nodes = 1,000,001 and 10,001)\n"
            "difference / node difference: also counts the results log (one row per iteration) and the rest.",
            ["what", "domain", "nodes", "edges", "bytes/node"], rows, csv_rows,
            "Resident memory per search-graph node at 1,000,000 nodes", errors)
        self.raw["workloads"]["memory"] = raw

    def _graph_memory(self, config, target, sets, label):
        helper = self.a.graph_memory
        if not os.access(helper, os.X_OK):
            raise MeasurementError(f"{helper} is missing (build the bench_graph_memory target)")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.txt")
            with open(out, "w") as f:
                rc, _ = procs.run([helper, config, str(target)] + sets, self.a.timeout, env=self.runner.env,
                                  stdout=f, stderr=f)
            text = open(out).read()
        with open(os.path.join(self.a.out, "logs", f"graph-memory-{label.split()[0]}.log"), "w") as f:
            f.write(text)
        if rc != 0:
            raise MeasurementError(f"bench_graph_memory exited with {rc}: {text[-300:]}")
        return json.loads(text.strip().splitlines()[-1])

    def _process_memory(self, target):
        """Peak RSS of a 1-process banyan run whose graph fills search.max_nodes, big and small."""
        figures = {}
        for nodes in (target // 100 + 1, target + 1):
            with tempfile.TemporaryDirectory() as tmp:
                summary = os.path.join(tmp, "s.json")
                cmd = [self.a.banyan, "run", systems.SYNTHETIC, "--quiet", "--summary", summary,
                       "--set", "checkpoint.enabled=false", "--set", "search.exhaust_after=1",
                       "--set", "search.iterations=100000000", "--set", f"search.max_nodes={nodes}",
                       "--set", "log.level=error"]
                with open(os.path.join(self.a.out, "logs", f"memory-process-{nodes}.log"), "w") as log:
                    rc, peak = procs.run_peak_rss(cmd, self.a.timeout, env=self.runner.env, stdout=log, stderr=log)
                if rc != 0 or peak == 0:
                    raise MeasurementError(f"banyan run for the memory figure: exit status {rc}, peak RSS {peak}")
                with open(summary) as f:
                    s = json.load(f)
            figures[nodes] = (s, peak)
        (small, rss_small), (big, rss_big) = figures[target // 100 + 1], figures[target + 1]
        if big["nodes"] < target:
            raise MeasurementError(f"the run stopped at {big['nodes']} nodes ({big['stop_reason']})")
        return {"nodes": big["nodes"], "edges": big["edges"], "iterations": big["iterations"],
                "maxrss_bytes": rss_big, "maxrss_small_bytes": rss_small,
                "bytes_per_node": (rss_big - rss_small) / (big["nodes"] - small["nodes"])}

    # ---- the whole run ----------------------------------------------------------------------------
    def run(self):
        t0 = time.monotonic()
        for w in WORKLOADS:
            if w in self.a.workloads:
                getattr(self, w)()
        self.report.machine.append(("load average at end", " ".join(f"{x:.2f}" for x in os.getloadavg())))
        self.report.machine.append(("benchmark time", f"{time.monotonic() - t0:.0f} s"))
        self.raw["machine"] = dict(self.report.machine)
        text = self.report.text()
        with open(os.path.join(self.a.out, "peers.txt"), "w") as f:
            f.write(text + "\n")
        self.report.write_csv(os.path.join(self.a.out, "peers.csv"))
        with open(os.path.join(self.a.out, "peers.md"), "w") as f:
            f.write(self.report.markdown() + "\n")
        with open(os.path.join(self.a.out, "peers.json"), "w") as f:
            json.dump(self.raw, f, indent=1, default=str)
        print(text)
        print(f"written: {os.path.join(self.a.out, 'peers.txt')}, peers.csv, peers.md (for README.md), "
              "peers.json (logs in logs/)")
        if self.failures:
            print(f"{self.failures} measurement(s) failed: see the tables and the logs", file=sys.stderr)
        return 1 if self.failures else 0


def _ms(v):
    return "-" if v is None else f"{v:.2f}"


def main():
    a = parse_args()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    bench = None
    try:
        if not os.access(a.banyan, os.X_OK):
            sys.exit(f"{a.banyan} is missing: build it first (tests/bench/peers does)")
        if shutil.which("mpirun") is None:
            sys.exit("mpirun is missing (openmpi-bin)")
        bench = Bench(a)
        return bench.run()
    except KeyboardInterrupt:
        print("interrupted: stopping everything the benchmark started", file=sys.stderr)
        return 130
    finally:
        if bench is not None:
            bench.runner.stop()
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
