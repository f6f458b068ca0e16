#!/usr/bin/env python3
"""Checkpoint and restart tests: nothing finished is ever lost, a resumed search continues
exactly, and damaged files are refused cleanly.

usage: faults.py BANYAN CONFIG_DIR CASE

Cases: signal, sigkill, damaged, deterministic, h5py. Each prints ok/FAIL lines and exits
non-zero on any failure. Files are read with h5py (Debian's python3-h5py)."""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

BANYAN, CONFIG_DIR, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
SYNTH = os.path.join(CONFIG_DIR, "synthetic-bench.ini")
CIRCUIT = os.path.join(CONFIG_DIR, "bistability-3node.ini")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import (check, failures, mpirun, results_ids, run, same_tree, sets, sha, start,  # noqa: E402
                    tree_and_results)
common.setup(BANYAN)


SLOW = ("domain.synthetic.cost=sleep", "domain.synthetic.cost_mean=0.002", "checkpoint.every_seconds=0.3",
        "search.progress_seconds=0")


def case_signal():
    """SIGTERM (single process) and SIGUSR1 (mpirun): a final checkpoint is written, status 3,
    and resume completes the budget with every job id exactly once."""
    for label, n, sig in (("single process, SIGTERM", 1, signal.SIGTERM), ("mpirun -n 3, SIGUSR1", 3, signal.SIGUSR1)):
        with tempfile.TemporaryDirectory() as tmp:
            ck = os.path.join(tmp, "run.h5")
            budget = 3000
            base = ["run", SYNTH, "--quiet"] + sets(f"search.iterations={budget}", f"checkpoint.file={ck}", *SLOW)
            cmd = ([BANYAN] + base) if n == 1 else mpirun(n, *base)
            p = start(cmd)
            time.sleep(2.5)
            os.kill(p.pid, sig)
            out, err = p.communicate(timeout=120)
            check(p.returncode == 3, f"{label}: exit status 3 (got {p.returncode})", err[-800:])
            ids = results_ids(ck)
            check(0 < len(ids) < budget, f"{label}: checkpoint holds part of the run ({len(ids)} results)")
            check(len(ids) == len(set(ids)), f"{label}: no job id twice")
            r = run(mpirun(2, "resume", ck, "--quiet"))
            check(r.returncode == 0, f"{label}: resume exits 0 (got {r.returncode})", r.stderr[-800:])
            ids2 = results_ids(ck)
            check(len(ids2) == budget and len(set(ids2)) == budget,
                  f"{label}: after resume {budget} results, all distinct (got {len(ids2)}, {len(set(ids2))})")
            check(set(ids) <= set(ids2), f"{label}: every checkpointed result is still there")


def case_drain_timeout():
    """Jobs still running when checkpoint.drain_seconds runs out: they are stored as pending,
    the engines are aborted with status 3, and resume runs them again: every id exactly once."""
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "run.h5")
        budget = 16
        p = start(mpirun(3, "run", SYNTH, "--quiet", *sets(f"search.iterations={budget}", f"checkpoint.file={ck}",
                                                            "domain.synthetic.cost=sleep",
                                                            "domain.synthetic.cost_mean=1.0",
                                                            "checkpoint.drain_seconds=0.3")))
        time.sleep(3.5)
        os.kill(p.pid, signal.SIGUSR1)
        out, err = p.communicate(timeout=120)
        check(p.returncode == 3, f"exit status 3 (got {p.returncode})", err[-800:])
        with h5py.File(ck, "r") as f:
            pending = len(f["pending/rows"])
            done = len(f["results"])
        check(pending > 0, f"jobs still running are pending in the checkpoint ({pending} pending, {done} done)")
        r = run(mpirun(3, "resume", ck, "--quiet"))
        check(r.returncode == 0, f"resume exits 0 (got {r.returncode})", r.stderr[-800:])
        ids = results_ids(ck)
        check(len(ids) == budget and len(set(ids)) == budget, f"{budget} distinct results after resume (got {len(ids)})")


def case_sigkill():
    """The run killed with SIGKILL at 20 random instants while checkpointing often: after each
    kill resume succeeds from a complete checkpoint; no job id twice; nothing checkpointed lost."""
    rng = random.Random(20261122)
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "run.h5")
        budget = 40000
        first = mpirun(3, "run", SYNTH, "--quiet", *sets(f"search.iterations={budget}", f"checkpoint.file={ck}",
                                                         "domain.synthetic.cost=sleep",
                                                         "domain.synthetic.cost_mean=0.001",
                                                         "checkpoint.every_seconds=0.05", "search.progress_seconds=0"))
        seen = set()
        kills = in_write = 0
        cmd = first
        while kills < 20:
            p = start(cmd)
            time.sleep(rng.uniform(0.3, 1.5))
            if p.poll() is not None:
                check(p.returncode == 0, f"run finished on its own with status 0 (got {p.returncode})")
                break
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            kills += 1
            if not os.path.exists(ck):
                cmd = first  # killed before the first checkpoint: nothing to resume yet
                continue
            seg_dir = ck + ".d"
            if os.path.isdir(seg_dir) and any(n.endswith(".tmp") for n in os.listdir(seg_dir)):
                in_write += 1  # killed while a segment (new or merged) was being written
            r = run([BANYAN, "inspect", ck, "--verify"])
            if not check(r.returncode == 0, f"kill {kills}: inspect --verify accepts the checkpoint and every segment",
                         r.stderr[-500:]):
                break
            ids = results_ids(ck)
            if not check(len(ids) == len(set(ids)), f"kill {kills}: no job id twice ({len(ids)} results)"):
                break
            lost = seen - set(ids)
            if not check(not lost, f"kill {kills}: every result of earlier checkpoints still there ({len(lost)} lost)"):
                break
            seen |= set(ids)
            cmd = mpirun(3, "resume", ck, "--quiet")
        check(kills == 20, f"20 kills (got {kills}; {in_write} while a segment file was being written or merged)")
        r = run(mpirun(3, "resume", ck, "--quiet", *sets("checkpoint.every_seconds=60")))
        check(r.returncode == 0, f"final resume exits 0 (got {r.returncode})", r.stderr[-800:])
        ids = results_ids(ck)
        check(len(ids) == budget and len(set(ids)) == budget, f"{budget} distinct results at the end (got {len(ids)})")
        check(seen <= set(ids), "every result ever checkpointed is in the final file")


def damaged_variants(good, tmp):
    """(name, path) of damaged copies of a good checkpoint."""
    out = []
    size = os.path.getsize(good)
    for frac in (0.0, 0.1, 0.5, 0.9, 0.999):
        p = os.path.join(tmp, f"truncated{frac}.h5")
        with open(good, "rb") as f, open(p, "wb") as g:
            g.write(f.read(int(size * frac)))
        out.append((f"truncated at {frac:.1%}", p))
    p = os.path.join(tmp, "random.h5")
    with open(p, "wb") as g:
        g.write(random.Random(7).randbytes(size))
    out.append(("random bytes", p))
    p = os.path.join(tmp, "text.h5")
    with open(p, "w") as g:
        g.write("not a checkpoint\n")
    out.append(("a text file", p))

    def variant(name, edit):
        p = os.path.join(tmp, name.replace(" ", "_") + ".h5")
        shutil.copy(good, p)
        with h5py.File(p, "r+") as f:
            edit(f)
        out.append((name + " (seal not updated)", p))  # the seal finds it
        q = p.replace(".h5", "-resealed.h5")
        shutil.copy(p, q)
        common.reseal(q)  # hostile but sealed: the checks behind the seal find it
        out.append((name, q))

    def child_out_of_range(f):
        c = f["tree/edges/child"]
        c[0] = 4000000
    variant("edge child out of range", child_out_of_range)

    def first_edge_out_of_range(f):
        fe = f["tree/nodes/first_edge"]
        fe[0] = 3999999999
    variant("node edge range out of range", first_edge_out_of_range)

    def wrong_size(f):
        v = f["tree/nodes/visits"][...]
        del f["tree/nodes/visits"]
        f.create_dataset("tree/nodes/visits", data=v[:-3])
    variant("node dataset of the wrong size", wrong_size)

    def missing(f):
        del f["tree/edges/child"]
    variant("missing dataset", missing)

    def other_domain(f):
        f.attrs["domain"] = np.bytes_(b"circuit") if isinstance(f.attrs["domain"], bytes) else "circuit"
    variant("file from another domain", other_domain)

    def bad_visits(f):
        v = f["tree/edges/visits"]
        v[0] = v[0] + 5
    variant("visit counts that do not add up", bad_visits)
    return out


def case_damaged():
    """Damaged files: resume and inspect stop with a clear error and a non-zero status, never
    crash, and never modify the file. (Also run with the ASan build by CTest when built.)"""
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "good.h5")
        r = run([BANYAN, "run", SYNTH, "--quiet"] + sets("search.iterations=2000", f"checkpoint.file={good}"))
        check(r.returncode == 0, f"making a good checkpoint (status {r.returncode})", r.stderr[-500:])
        r = run([BANYAN, "inspect", good])
        check(r.returncode == 0, "inspect reads the good checkpoint")
        for name, path in damaged_variants(good, tmp):
            before = sha(path)
            for cmd in ([BANYAN, "inspect", path], [BANYAN, "resume", path, "--quiet"]):
                r = run(cmd, timeout=120)
                what = f"{name}: {cmd[1]}"
                check(r.returncode in (1, 2), f"{what}: refused with status 1 or 2 (got {r.returncode})")
                msg = r.stderr.strip().splitlines()
                check(bool(msg) and "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr,
                      f"{what}: clear message, no sanitizer report: {msg[-1] if msg else ''}")
                check(sha(path) == before, f"{what}: file unchanged")


def stop_twice_and_compare(config, common, budget, label):
    """An uninterrupted run and the same run stopped by SIGUSR1 twice and resumed."""
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "a.h5"), os.path.join(tmp, "b.h5")
        r = run(mpirun(3, "run", config, "--quiet", *sets(*common, f"checkpoint.file={a}")))
        check(r.returncode == 0, f"{label}: uninterrupted run (status {r.returncode})", r.stderr[-500:])
        cmd = mpirun(3, "run", config, "--quiet", *sets(*common, f"checkpoint.file={b}"))
        for stop in range(2):
            p = start(cmd)
            time.sleep(1.5)
            os.kill(p.pid, signal.SIGUSR1)
            out, err = p.communicate(timeout=120)
            check(p.returncode == 3, f"{label}: stop {stop + 1}: status 3 (got {p.returncode})", err[-500:])
            cmd = mpirun(4, "resume", b, "--quiet")
        r = run(cmd)
        check(r.returncode == 0, f"{label}: final resume (status {r.returncode})", r.stderr[-500:])
        ta, ja, ra = tree_and_results(a)
        tb, jb, rb = tree_and_results(b)
        check(len(ja) == budget and len(jb) == budget, f"{label}: both have {budget} results")
        check(same_tree(ta, tb), f"{label}: stopped twice and resumed: identical /tree datasets")
        check(np.array_equal(ja, jb) and np.array_equal(ra, rb), f"{label}: stopped twice and resumed: identical /results")
        return ta


def case_deterministic():
    """Deterministic mode: an uninterrupted run and the same run stopped by a signal twice and
    resumed give identical /tree datasets and /results; 1 engine and 8 engines give identical trees."""
    budget = 6000
    common = ("search.deterministic=true", f"search.iterations={budget}", "domain.synthetic.cost=sleep",
              "domain.synthetic.cost_dist=uniform", "domain.synthetic.cost_min=0.0005",
              "domain.synthetic.cost_max=0.003", "search.progress_seconds=0", "checkpoint.every_seconds=0.5")
    stop_twice_and_compare(SYNTH, common, budget, "synthetic")
    with tempfile.TemporaryDirectory() as tmp:
        a, c = os.path.join(tmp, "a.h5"), os.path.join(tmp, "c.h5")
        fast = common + ("domain.synthetic.cost_max=0.0006",)
        r = run(mpirun(9, "run", SYNTH, "--quiet", *sets(*fast, f"checkpoint.file={c}")))
        check(r.returncode == 0, f"8-engine run (status {r.returncode})", r.stderr[-500:])
        r = run(mpirun(2, "run", SYNTH, "--quiet", *sets(*fast, f"checkpoint.file={a}")))
        check(r.returncode == 0, f"1-engine run (status {r.returncode})", r.stderr[-500:])
        ta, ja, ra = tree_and_results(a)
        tc, jc, rc = tree_and_results(c)
        check(same_tree(ta, tc), "1 engine and 8 engines: identical /tree datasets")
        check(np.array_equal(ja, jc) and np.array_equal(ra, rc), "1 engine and 8 engines: identical /results")


def case_deterministic_exhaustion():
    """The same with exhaustion under way (circuits exhausted after 5 samples), where selection's
    marks of exhausted children must survive the checkpoint for the runs to stay identical."""
    budget = 12000
    common = ("search.deterministic=true", f"search.iterations={budget}", "search.exhaust_after=5",
              "domain.circuit.delay=0.0006", "search.progress_seconds=0", "checkpoint.every_seconds=0.5")
    tree = stop_twice_and_compare(CIRCUIT, common, budget, "circuit")
    check(int(np.count_nonzero(tree["edges/flags"])) > 0, "edges marked as leading to exhausted circuits were saved")


def case_h5py():
    """The file is read by h5dump and by h5py: results count and best state as the run reported."""
    import json
    with tempfile.TemporaryDirectory() as tmp:
        ck, summary = os.path.join(tmp, "c.h5"), os.path.join(tmp, "s.json")
        r = run(mpirun(3, "run", CIRCUIT, "--quiet", "--summary", summary,
                       *sets("search.iterations=20000", f"checkpoint.file={ck}")))
        check(r.returncode == 0, f"circuit run (status {r.returncode})", r.stderr[-500:])
        s = json.load(open(summary))
        r = subprocess.run(["h5dump", "-H", ck], capture_output=True, text=True)
        check(r.returncode == 0 and "/results" in r.stdout or '"results"' in r.stdout, "h5dump -H reads the file")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "read_with_h5py.py")
        r = subprocess.run([sys.executable, script, ck, str(s["iterations"]), s["best"][0]["state"]],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"h5py reads {s['iterations']} results and best {s['best'][0]['state']}: "
                                 f"{r.stdout[-500:]}{r.stderr[-500:]}")
        r = run([BANYAN, "export", ck, "--csv", os.path.join(tmp, "r.csv")])
        lines = open(os.path.join(tmp, "r.csv")).read().splitlines() if r.returncode == 0 else []
        check(len(lines) == s["iterations"] + 1, f"export writes a header and {s['iterations']} rows")


globals()["case_" + CASE]()
sys.exit(1 if failures else 0)
