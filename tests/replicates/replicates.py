"""Campaigns: many searches (search.replicates = N) in one run sharing the engines.

    replicates.py BANYAN CONFIG_DIR CASE

  deterministic  10 replicates of the bistability search in one deterministic run give the
                 graphs and results of 10 separate deterministic runs with seeds seed + r
  resume         a campaign stopped by a signal, then killed (SIGKILL) three times, then resumed completes
                 every replicate: every job id once per replicate, and (deterministic mode)
                 each replicate the graph of the uninterrupted separate run
  fair           8 replicates (4 in deterministic mode) on 2 engines for a fixed time: their
                 iteration counts stay close
  hostile        damaged, forged and planted campaign files and replicates: resume, inspect and
                 report refuse each in one line, change nothing, crash never
  readers        inspect, watch, the Python reader and report on a campaign
"""
import json
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
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "checkpoint"))
import common  # noqa: E402
from common import (check, failures, mpirun, results_ids, run, same_tree, sets, sha, start,  # noqa: E402
                    tree_and_results, xxh3_64)
common.setup(BANYAN)

CIRCUIT = os.path.join(CONFIG_DIR, "bistability-3node.ini")
SYNTH = os.path.join(CONFIG_DIR, "synthetic-bench.ini")
QUIET = ("search.progress_seconds=0",)


def replicate(tmp, name, r):
    return os.path.join(tmp, "%s.r%03d.h5" % (name, r))


def compare_with_separate(tmp, config, common_sets, n, name, launcher):
    """Replicate r of campaign `name` against a separate run with seed 1 + r."""
    same = 0
    for r in range(n):
        sep = os.path.join(tmp, "sep%d.h5" % r)
        res = run(launcher + ["run", config, "--quiet", *sets(*common_sets, f"search.seed={1 + r}",
                                                               f"checkpoint.file={sep}")])
        if not check(res.returncode == 0, f"separate run with seed {1 + r} (status {res.returncode})",
                     res.stderr[-400:]):
            continue
        ta, ja, ra = tree_and_results(replicate(tmp, name, r))
        tb, jb, rb = tree_and_results(sep)
        ok = same_tree(ta, tb) and np.array_equal(ja, jb) and np.array_equal(ra, rb)
        same += ok
        if not ok:
            check(False, f"replicate {r}: graph and results equal those of the separate run with seed {1 + r}",
                  "nodes %d vs %d" % (len(ta.get("states", [])), len(tb.get("states", []))))
    check(same == n, f"{same} of {n} replicates have the graph (nodes, edges, visits, rewards) and results of "
                     f"the separate deterministic run with their seed")
    return same


def case_deterministic():
    n, budget = 10, 1500
    common_sets = ("search.deterministic=true", f"search.iterations={budget}", "search.seed=1") + QUIET
    with tempfile.TemporaryDirectory() as tmp:
        camp = os.path.join(tmp, "c.h5")
        res = run(mpirun(3, "run", CIRCUIT, "--quiet", *sets(*common_sets, f"search.replicates={n}",
                                                               f"checkpoint.file={camp}")))
        check(res.returncode == 0, f"campaign of {n} replicates (status {res.returncode})", res.stderr[-500:])
        check(os.path.exists(os.path.join(tmp, "c.campaign")), "the campaign file c.campaign is written")
        # The separate runs in one process each: deterministic mode does not depend on engines.
        compare_with_separate(tmp, CIRCUIT, common_sets, n, "c", [BANYAN])
        with h5py.File(replicate(tmp, "c", 4), "r") as f:
            check(int(f.attrs["seed"]) == 5, "replicate 4's checkpoint records seed 5")
            check(b"replicates = 1" in bytes(f.attrs["config"]) if not isinstance(f.attrs["config"], str) else "replicates = 1" in f.attrs["config"], "a replicate's configuration is that of a lone run")


def job_ids_once(path, budget):
    ids = results_ids(path)
    return len(ids) == budget and sorted(ids) == list(range(budget))


def case_resume():
    n, budget = 4, 1200
    common_sets = ("search.deterministic=true", f"search.iterations={budget}", "search.seed=1",
                   "domain.synthetic.cost=sleep", "domain.synthetic.cost_dist=uniform",
                   "domain.synthetic.cost_min=0.001", "domain.synthetic.cost_max=0.003",
                   "checkpoint.every_seconds=0.3") + QUIET
    with tempfile.TemporaryDirectory() as tmp:
        camp = os.path.join(tmp, "c.h5")
        cfile = os.path.join(tmp, "c.campaign")
        p = start(mpirun(3, "run", SYNTH, "--quiet", *sets(*common_sets, f"search.replicates={n}",
                                                          f"checkpoint.file={camp}")))
        time.sleep(2.0)
        os.kill(p.pid, signal.SIGUSR1)
        t0 = time.monotonic()
        _, err = p.communicate(timeout=120)
        took = time.monotonic() - t0
        check(p.returncode == 3, f"stopped by a signal: status 3 (got {p.returncode})", err[-500:])
        # Jobs held in the shared outbox must not keep a replicate waiting for the drain
        # (checkpoint.drain_seconds, 30 s): the stop takes the checkpoints and a few jobs.
        check(took < 10 and "still in flight" not in err, f"the stop took {took:.1f} s, without giving up on jobs",
              err[-500:])
        done = [len(results_ids(replicate(tmp, "c", r))) for r in range(n)]
        check(all(0 < d < budget for d in done), f"every replicate stopped midway: {done} of {budget}")
        # Killed outright while running, three times at random instants: every replicate keeps
        # its last complete checkpoint, which never holds fewer results than the one before.
        rng = random.Random(14)
        kept = done
        for kill in range(3):
            p = start(mpirun(3, "resume", cfile, "--quiet"))
            time.sleep(rng.uniform(0.8, 2.0))
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate(timeout=60)
            now = [len(results_ids(replicate(tmp, "c", r))) for r in range(n)]
            check(all(a >= b for a, b in zip(now, kept)),
                  f"kill {kill + 1}: each replicate's checkpoint keeps its results: {kept} -> {now}")
            kept = now
        res = run(mpirun(4, "resume", cfile, "--quiet"))
        check(res.returncode == 0, f"resumed after the kill, to the end (status {res.returncode})", res.stderr[-500:])
        ok = [job_ids_once(replicate(tmp, "c", r), budget) for r in range(n)]
        check(all(ok), f"every replicate complete, each job id 0..{budget - 1} once: {ok}")
        res = run([BANYAN, "inspect", cfile])
        check(res.returncode == 0 and f"{n} of {n} replicates finished" in res.stdout,
              "inspect: every replicate finished", res.stdout[-600:] + res.stderr[-300:])
        compare_with_separate(tmp, SYNTH, common_sets, n, "c", mpirun(5))


def case_fair():
    n, seconds = 8, 4
    with tempfile.TemporaryDirectory() as tmp:
        camp = os.path.join(tmp, "c.h5")
        summary = os.path.join(tmp, "s.json")
        res = run(mpirun(3, "run", SYNTH, "--quiet", "--summary", summary,
                         *sets("search.iterations=1000000", f"search.max_seconds={seconds}",
                               f"search.replicates={n}", "domain.synthetic.cost=sleep",
                               "domain.synthetic.cost_dist=fixed", "domain.synthetic.cost_mean=0.002",
                               f"checkpoint.file={camp}", *QUIET)))
        check(res.returncode == 0, f"{n} replicates on 2 engines for {seconds} s (status {res.returncode})",
              res.stderr[-500:])
        counts = []
        for r in range(n):
            with h5py.File(replicate(tmp, "c", r), "r") as f:
                counts.append(int(f.attrs["completed"]))
        mean = sum(counts) / n
        check(mean > 200, f"the replicates ran ({counts})")
        check(min(counts) >= 0.85 * mean and max(counts) <= 1.15 * mean,
              f"each replicate's iterations within 15% of the mean {mean:.0f}: {counts}")
        s = json.load(open(summary))
        check(s["replicates"] == n and [x["iterations"] for x in s["per_replicate"]] == counts,
              "the summary lists each replicate's iterations as its checkpoint does")
    # Deterministic mode: each replicate has its whole window W = 64 in flight (far more than
    # its share of 2 engines x depth 2); the engines must still take the replicates in turn.
    with tempfile.TemporaryDirectory() as tmp:
        camp = os.path.join(tmp, "d.h5")
        res = run(mpirun(3, "run", SYNTH, "--quiet",
                         *sets("search.iterations=1000000", "search.max_seconds=2.5", "search.deterministic=true",
                               "search.replicates=4", "domain.synthetic.cost=sleep",
                               "domain.synthetic.cost_dist=fixed", "domain.synthetic.cost_mean=0.005",
                               f"checkpoint.file={camp}", *QUIET)))
        check(res.returncode == 0, f"4 deterministic replicates on 2 engines for 2.5 s (status {res.returncode})",
              res.stderr[-500:])
        counts = []
        for r in range(4):
            with h5py.File(replicate(tmp, "d", r), "r") as f:
                counts.append(int(f.attrs["completed"]))
        mean = sum(counts) / 4
        check(mean > 100 and min(counts) >= 0.85 * mean and max(counts) <= 1.15 * mean,
              f"deterministic: each replicate's iterations within 15% of the mean {mean:.0f}: {counts}")


def write_campaign(path, body):
    """A campaign file with `body` and a valid checksum: hostile but self-consistent."""
    data = body.encode()
    with open(path, "wb") as f:
        f.write(data + b"checksum %016x\n" % xxh3_64(data))


def refused_in_one_line(label, cmd):
    try:
        res = subprocess.run(cmd, env=common.ENV, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return check(False, f"{label}: refused (timed out)")
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    return check(res.returncode in (1, 2) and len(lines) == 1 and "Traceback" not in res.stderr,
                 f"{label}: refused in one line, status {res.returncode}",
                 res.stderr[-600:] + res.stdout[-200:])


def case_hostile():
    with tempfile.TemporaryDirectory() as tmp:
        camp = os.path.join(tmp, "c.h5")
        res = run([BANYAN, "run", CIRCUIT, "--quiet",
                   *sets("search.iterations=300", "search.replicates=3", f"checkpoint.file={camp}", *QUIET)])
        check(res.returncode == 0, f"a campaign of 3 (status {res.returncode})", res.stderr[-400:])
        good = open(os.path.join(tmp, "c.campaign")).read()
        lines = good.splitlines()
        body = "\n".join(lines[:-1]) + "\n"
        files = [replicate(tmp, "c", r) for r in range(3)]
        before = {f: sha(f) for f in files}
        bad = os.path.join(tmp, "h.campaign")
        for r in range(3):  # the hostile file's replicates are the good ones, by name
            shutil.copy(files[r], replicate(tmp, "h", r))
        variants = {
            "garbage after the magic": lambda: open(bad, "w").write("banyan campaign 1\n\x00\x01garbage"),
            "a wrong checksum": lambda: open(bad, "w").write(good.replace("replicates 3", "replicates 2")),
            "no checksum line": lambda: open(bad, "w").write(body),
            "4096+1 replicates": lambda: write_campaign(bad, body.replace("replicates 3", "replicates 4097")),
            "a replicate without its checkpoint": lambda: write_campaign(
                bad, body.replace("replicates 3", "replicates 4") + "replicate 3 run_id 0123456789abcdef\n"),
            "a foreign run id": lambda: write_campaign(bad, body.replace(lines[3].split()[-1], "00000000deadbeef")),
            "another seed": lambda: write_campaign(bad, body.replace("seed 1\n", "seed 7\n")),
            "a path in a line": lambda: write_campaign(bad, body + "file /etc/passwd\n"),
            "replicates out of order": lambda: write_campaign(
                bad, "\n".join(lines[:3] + [lines[4], lines[3], lines[5]]) + "\n"),
            "a 2 MB file": lambda: open(bad, "w").write("banyan campaign 1\n" + "x" * (2 << 20)),
            "a huge seed": lambda: write_campaign(bad, body.replace("seed 1\n", "seed 99999999999999999999\n")),
        }
        for label, make in variants.items():
            if os.path.lexists(bad):
                os.remove(bad)
            make()
            refused_in_one_line(f"resume with {label}", [BANYAN, "resume", bad, "--quiet"])
            refused_in_one_line(f"inspect with {label}", [BANYAN, "inspect", bad])
        os.remove(bad)
        os.symlink(os.path.join(tmp, "c.campaign"), bad)
        refused_in_one_line("resume through a symbolic link", [BANYAN, "resume", bad, "--quiet"])
        refused_in_one_line("report through a symbolic link", [BANYAN, "report", bad, "-o", os.path.join(tmp, "rep")])
        os.remove(bad)
        write_campaign(bad, body.replace(lines[3].split()[-1], "00000000deadbeef"))
        refused_in_one_line("report with a foreign run id", [BANYAN, "report", bad, "-o", os.path.join(tmp, "rep")])
        # A replicate swapped for another replicate of the same campaign.
        shutil.copy(files[0], replicate(tmp, "h", 1))
        shutil.copy(os.path.join(tmp, "c.campaign"), bad)
        refused_in_one_line("resume with replicate 0's checkpoint in replicate 1's place",
                            [BANYAN, "resume", bad, "--quiet"])
        refused_in_one_line("resume changing search.replicates",
                            [BANYAN, "resume", os.path.join(tmp, "c.campaign"), "--set", "search.replicates=5"])
        refused_in_one_line("resume of one replicate changing search.replicates",
                            [BANYAN, "resume", files[0], "--set", "search.replicates=5"])
        check(all(sha(f) == before[f] for f in files), "the campaign's own checkpoints are unchanged")
        res = run([BANYAN, "resume", os.path.join(tmp, "c.campaign"), "--quiet"])
        check(res.returncode == 0, f"the good campaign still resumes (status {res.returncode})", res.stderr[-400:])


def case_readers():
    with tempfile.TemporaryDirectory() as tmp:
        camp = os.path.join(tmp, "c.h5")
        res = run(mpirun(3, "run", CIRCUIT, "--quiet",
                         *sets("search.iterations=800", "search.replicates=3", "search.seed=5",
                               f"checkpoint.file={camp}", *QUIET)))
        check(res.returncode == 0, f"a campaign of 3 (status {res.returncode})", res.stderr[-400:])
        cfile = os.path.join(tmp, "c.campaign")
        res = run([BANYAN, "inspect", cfile])
        check(res.returncode == 0 and "replicates       3 (seeds 5 .. 7)" in res.stdout and
              res.stdout.count("finished  ") == 3, "inspect lists 3 replicates, seeds 5..7, all finished",
              res.stdout[-800:])
        res = run([BANYAN, "inspect", replicate(tmp, "c", 2)])
        check(res.returncode == 0 and "seed             7" in res.stdout, "inspect reads a replicate as a run")
        script = ("import sys, banyan\n"
                  "c = banyan.open_campaign(sys.argv[1])\n"
                  "rows = c.summary()\n"
                  "print(c.replicates, c.seed, [r['iterations'] for r in rows], [r['seed'] for r in rows])\n")
        env = dict(common.ENV, PYTHONPATH=os.path.join(os.path.dirname(BANYAN), "python"))
        res = subprocess.run([sys.executable, "-c", script, cfile], capture_output=True, text=True, env=env)
        check(res.returncode == 0 and res.stdout.strip() == "3 5 [800, 800, 800] [5, 6, 7]",
              "banyan.open_campaign: 3 replicates, seed 5, 800 iterations each", res.stdout + res.stderr[-500:])
        res = run([BANYAN, "watch", "--once", cfile])
        check(res.returncode == 0 and "3 replicates, 2400 of 2400 iterations, 3 finished" in res.stdout and
              res.stdout.count("\n") == 5, "watch --once: the campaign and a line per replicate", res.stdout[-600:])
        out = os.path.join(tmp, "rep")
        res = run([BANYAN, "report", cfile, "-o", out, "-q"])
        page = open(os.path.join(out, "index.html")).read() if res.returncode == 0 else ""
        check(res.returncode == 0 and page.count("<tr><td>") == 3 and os.path.exists(os.path.join(out, "best.png")),
              "report: a page with one row per replicate and the figures", res.stderr[-500:])


globals()["case_" + CASE]()
sys.exit(1 if failures else 0)
