#!/usr/bin/env python3
"""MPI integration tests: run `banyan run` under mpirun with N ranks and check what the
end-of-run JSON summary (and the exit status) say.

usage: run_case.py BANYAN CONFIG_DIR CASE NRANKS

Each case is a function below; it gets a helper that runs banyan and returns
(exit status, summary dict, stdout, stderr). Exit status 0 = pass, 1 = fail.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BANYAN, CONFIG_DIR, CASE, NRANKS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
SYNTH = os.path.join(CONFIG_DIR, "synthetic-bench.ini")
CIRCUIT = os.path.join(CONFIG_DIR, "bistability-3node.ini")

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def command(config, sets, summary, n=None):
    n = NRANKS if n is None else n
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", BANYAN, "run", config, "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    if summary:
        cmd += ["--summary", summary]
    return cmd


def run(config, sets, timeout=240, n=None):
    """Run in a fresh directory (the checkpoint goes there), return (status, summary, out, err)."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, "summary.json")
        p = subprocess.run(command(config, sets, summary, n), env=ENV, capture_output=True, text=True,
                           timeout=timeout, cwd=tmp)
        data = None
        if os.path.exists(summary):
            with open(summary) as f:
                data = json.load(f)
        return p.returncode, data, p.stdout, p.stderr


failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def engines_jobs(s):
    return sum(e["jobs"] for e in s["engine_stats"])


def case_exactly_once():
    """Every dispatched job gets exactly one result: counts agree on both sides."""
    budget = 30000
    rc, s, out, err = run(SYNTH, [f"search.iterations={budget}", "search.check=true"])
    check(rc == 0, f"exit status 0 (got {rc}): {err[-2000:]}")
    if not s:
        return check(False, "summary written")
    check(s["iterations"] == budget, f"iterations == {budget} (got {s['iterations']})")
    check(s["issued"] == budget, f"issued == {budget} (got {s['issued']})")
    check(s["dispatched"] == budget, f"dispatched == {budget} (got {s['dispatched']})")
    check(s["results_received"] == budget, f"results received == {budget} (got {s['results_received']})")
    check(s["failures"] == 0, "no failures")
    check(s["engines"] == NRANKS - 1, f"{NRANKS - 1} engines")
    if NRANKS > 1:
        check(engines_jobs(s) == budget, f"engines ran {budget} jobs in total (got {engines_jobs(s)})")
        check(all(e["jobs"] > 0 for e in s["engine_stats"]), "every engine got work")


def case_optimum():
    """The planted optimum of the synthetic landscape (reward exactly 1.0) is found."""
    rc, s, out, err = run(SYNTH, ["search.iterations=40000", "domain.synthetic.depth=6",
                                  "domain.synthetic.branching=6", "search.check=true"])
    check(rc == 0, f"exit status 0 (got {rc}): {err[-2000:]}")
    if not s:
        return check(False, "summary written")
    best = s["best"][0] if s["best"] else {"mean_reward": 0, "state": "-"}
    check(best["mean_reward"] == 1.0, f"best state has reward 1.0 (got {best['mean_reward']} for {best['state']})")
    check(all(b["mean_reward"] < 0.9 for b in s["best"][1:]), "every other listed state is clearly lower")


def case_utilization():
    """Jobs of random duration (uniform 5-15 ms) keep the engines busy >= 90% of the time."""
    engines = max(NRANKS - 1, 1)
    budget = int(2.0 / 0.010 * engines)
    rc, s, out, err = run(SYNTH, [f"search.iterations={budget}", "domain.synthetic.cost=sleep",
                                  "domain.synthetic.cost_dist=uniform", "domain.synthetic.cost_min=0.005",
                                  "domain.synthetic.cost_max=0.015"])
    check(rc == 0, f"exit status 0 (got {rc}): {err[-2000:]}")
    if not s:
        return check(False, "summary written")
    check(s["iterations"] == budget, f"all {budget} iterations ran")
    check(s["engine_utilization"] >= 0.90, f"engine utilization >= 0.90 (got {s['engine_utilization']:.3f})")


def case_failures():
    """Jobs that fail (20% injected) are counted, leave no phantom visits, and the search completes."""
    budget = 20000
    rc, s, out, err = run(SYNTH, [f"search.iterations={budget}", "domain.synthetic.fail_rate=0.2",
                                  "search.check=true"])
    check(rc == 0, f"exit status 0 (got {rc}): {err[-2000:]}")
    if not s:
        return check(False, "summary written")
    check(s["iterations"] == budget, f"iterations == {budget} (got {s['iterations']})")
    frac = s["failures"] / budget
    check(0.17 < frac < 0.23, f"about 20% failed (got {frac:.3f})")
    check(s["evaluations"] + s["failures"] == budget, "evaluations + failures == iterations")
    if NRANKS > 1:
        check(sum(e["failures"] for e in s["engine_stats"]) == s["failures"], "engines' failure counts agree")


def case_bistability():
    """The default circuit search finds bistable circuits (mean reward > 0.5)."""
    rc, s, out, err = run(CIRCUIT, ["search.iterations=50000", "search.check=true"])
    check(rc == 0, f"exit status 0 (got {rc}): {err[-2000:]}")
    if not s:
        return check(False, "summary written")
    check(len(s["best"]) > 0 and s["best"][0]["mean_reward"] > 0.5,
          f"best circuit is bistable (got {s['best'][:1]})")
    check(all(b["state"].startswith("*ABC::") for b in s["best"]), "best states are finished 3-node circuits")


def case_threads():
    """Many search threads (8, oversubscribed on small machines): every job exactly once, the
    graph's invariants hold at the end and in the checkpoint, and deterministic mode gives
    the same search as with one thread."""
    budget = 20000
    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, "summary.json")
        # Checkpoints every 2,000 results: each one quiesces the 8 threads mid-run.
        cmd = command(SYNTH, [f"search.iterations={budget}", "search.threads=8", "search.check=true",
                              "checkpoint.every_seconds=0", "checkpoint.every_evaluations=2000",
                              "checkpoint.max_time_share=1"], summary)
        p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=240, cwd=tmp)
        check(p.returncode == 0, f"8 threads: exit status 0 (got {p.returncode}): {p.stderr[-2000:]}")
        s = json.load(open(summary)) if os.path.exists(summary) else None
        if not s:
            return check(False, "summary written")
        check(s["search_threads"] == 8, f"8 search threads (got {s['search_threads']})")
        for key in ("iterations", "issued", "dispatched", "results_received"):
            check(s[key] == budget, f"8 threads: {key} == {budget} (got {s[key]})")
        ckpt = os.path.join(tmp, "synthetic-bench.h5")
        v = subprocess.run([BANYAN, "inspect", ckpt, "--verify"], env=ENV, capture_output=True, text=True,
                           timeout=120)
        check(v.returncode == 0, f"inspect --verify of the checkpoint: status 0 (got {v.returncode}): {v.stderr[-2000:]}")
        n = [int(l.split()[1]) for l in v.stdout.splitlines() if l.split()[:1] == ["checkpoints"]]
        check(n and n[0] >= 2, f"a checkpoint taken while the threads ran, and the last one (got {n})")
    det = ["search.iterations=3000", "search.deterministic=true", "search.check=true"]
    runs = [run(CIRCUIT, det + [f"search.threads={t}"]) for t in (1, 4)]
    for t, (rc, s, out, err) in zip((1, 4), runs):
        check(rc == 0 and s is not None, f"deterministic, {t} thread(s): exit status 0 (got {rc}): {err[-2000:]}")
    if all(r[1] for r in runs):
        a, b = runs[0][1], runs[1][1]
        same = all(a[k] == b[k] for k in ("iterations", "nodes", "edges", "best"))
        check(same, "deterministic mode: the same graph and best states with 1 and 4 threads")


def case_bad_config():
    """A bad value stops every rank before work starts: file:line: key: message, status 2."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "bad.ini")
        with open(SYNTH) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace("threads = 1", "threads = zero"))
        line = [i + 1 for i, l in enumerate(text.splitlines()) if l.startswith("threads = 1")][0]
        rc, s, out, err = run(cfg, [], timeout=60)
        check(rc == 2, f"exit status 2 (got {rc})")
        check(f"{cfg}:{line}: search.threads:" in err, f"message names {cfg}:{line}: search.threads (got {err!r})")
        check(s is None, "no summary written")


def stop_with_signal(cmd, sig, expect_engines):
    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, "summary.json")
        cmd = cmd + ["--summary", summary]
        p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp)
        time.sleep(4)
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
        check(p.returncode == 3, f"{sig.name}: exit status 3 (got {p.returncode}): {err[-2000:]}")
        ok = os.path.exists(summary)
        check(ok, f"{sig.name}: summary written")
        if ok:
            s = json.load(open(summary))
            check(s["stop_reason"] == "stopped by a signal", f"stop reason (got {s['stop_reason']})")
            check(s["iterations"] > 0 and s["dispatched"] == s["results_received"] == s["iterations"],
                  "every job sent before the signal came back and was applied")
            check(s["engines"] == expect_engines, f"{expect_engines} engines")


def case_signal():
    """A signal stops issuing, collects the jobs in flight, reports, and exits with status 3:
    SIGUSR1 to mpirun (Open MPI forwards it to every rank; this is what Slurm's --signal
    sends), and SIGTERM or SIGINT to a single-process run."""
    slow = ["search.iterations=100000000", "domain.synthetic.cost=sleep", "domain.synthetic.cost_mean=0.002"]
    stop_with_signal(command(SYNTH, slow, None), signal.SIGUSR1, NRANKS - 1)
    bare = [BANYAN, "run", SYNTH, "--quiet"] + sum([["--set", x] for x in slow], [])
    stop_with_signal(bare, signal.SIGTERM, 0)
    stop_with_signal(bare, signal.SIGINT, 0)


globals()["case_" + CASE]()
sys.exit(1 if failures else 0)
