#!/usr/bin/env python3
"""Integration test of external-program evaluation: `banyan run` of the `exec` domain over
tests/exec/mixed.sh, a program that exits with status 3, crashes, prints garbage, prints
nan, hangs (leaving a background sleep) or succeeds, depending on the job id; on 1 process
and under `mpirun -n 3 --oversubscribe`. Then tests/exec/flaky.sh, which fails the first
attempt of every job, with and without engine.retries.

usage: run_exec_test.py BANYAN CRASH_HELPER

Checks, for each run: exit status 0 with search.check = true (the graph invariants hold,
so no failed job left a phantom visit); every job id 0..N-1 in /results exactly once; each
row's status and reason exactly what the program's rule says for its job id; the counts by
kind and by reason in the --summary JSON equal to the expected ones, and equal to the
checkpoint's; the graph holds exactly the successful evaluations (/tree backprops); the
program's stderr reached banyan's; no background sleep of the hanging program is left.
With engine.retries = 1 every flaky job succeeds with attempts == 2; without, every one
fails ("exit status: 1") after 1 attempt. Run with Debian's /usr/bin/python3 (h5py).
Exit status 0 = pass, 1 = fail.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

import h5py

BANYAN, CRASH = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
HERE = os.path.dirname(os.path.abspath(__file__))
LENGTH = 6
HANG_IDS = (15, 37)  # ids that would otherwise succeed; each costs exec.timeout
SLEEP_MARK = "1000.%d" % os.getpid()  # the hanging program's sleep argument, to find strays
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1",
           EXEC_TEST_CRASH=CRASH, EXEC_TEST_HANG_IDS=" ".join(map(str, HANG_IDS)),
           EXEC_TEST_SLEEP=SLEEP_MARK)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def expected_reason(job_id):
    """mixed.sh's rule: the reason job `job_id` fails with, or None if it succeeds."""
    if job_id in HANG_IDS:
        return "timeout: after 1 s"
    return {1: "exit status: 3", 2: "signal: 11 (SIGSEGV)", 3: 'unparsable output: "garbage"',
            4: 'non-finite reward: "nan"'}.get(job_id % 10)


def kind(reason):
    """The kind of a reason "KIND: DETAIL"."""
    return reason.split(": ", 1)[0]


def text(field):
    return bytes(field).split(b"\0", 1)[0].decode()


def stray_sleeps():
    """Processes still running `sleep SLEEP_MARK` (zombies have no command line)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if len(args) >= 2 and args[0].endswith(b"sleep") and args[1] == SLEEP_MARK.encode():
            found.append(int(pid))
    return found


def run(tmp, name, program, budget, ranks, sets=()):
    """Run a search over `program`; return (status, summary, stderr, /results rows, backprops)."""
    config = os.path.join(tmp, name + ".ini")
    with open(config, "w") as f:
        f.write(f"""[search]
iterations = {budget}
progress_seconds = 0
check = true
[domain]
name = exec
[domain.exec]
length = {LENGTH}
alphabet = ACGT
[exec]
command = {program}
timeout = 1
""")
    summary = os.path.join(tmp, name + ".json")
    cmd = [BANYAN, "run", config, "--quiet", "--summary", summary]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe"] + cmd
    for s in sets:
        cmd += ["--set", s]
    t0 = time.monotonic()
    # Output goes to files, not pipes: a stray background process holding a pipe open would
    # make the wait last as long as it does, instead of being reported below.
    with open(os.path.join(tmp, name + ".out"), "w+") as out, open(os.path.join(tmp, name + ".err"), "w+") as err:
        p = subprocess.run(cmd, env=ENV, cwd=tmp, stdout=out, stderr=err, timeout=120)
        err.seek(0)
        stderr = err.read()
    print(f"     {name}: {' '.join(cmd[:6])} ... took {time.monotonic() - t0:.1f} s", flush=True)
    data = json.load(open(summary)) if os.path.exists(summary) else None
    rows, backprops = [], None
    ckpt = os.path.join(tmp, name + ".h5")
    if os.path.exists(ckpt):
        with h5py.File(ckpt, "r") as f:
            res = f["results"][...]
            failed = f["result_failures"][...]
            why = {int(x["row"]): ": ".join(t for t in (text(x["failure_kind"]), text(x["failure_detail"])) if t)
                   for x in failed}
            backprops = int(f["tree"].attrs["backprops"])
            for i, r in enumerate(res):
                rows.append({"job_id": int(r["job_id"]), "status": int(r["status"]), "attempts": int(r["attempts"]),
                             "reward": float(r["reward"]), "reason": why.get(i, "")})
    return p.returncode, data, stderr, rows, backprops


def check_mixed(tmp, ranks):
    budget = 200
    name = f"mixed_n{ranks}"
    rc, s, err, rows, backprops = run(tmp, name, os.path.join(HERE, "mixed.sh"), budget, ranks)
    check(rc == 0, f"{name}: exit status 0 with search.check = true (got {rc})" + (rc and ": " + err[-1500:] or ""))
    if not s or not rows:
        return check(False, f"{name}: summary and checkpoint written")
    check(s["iterations"] == budget, f"{name}: all {budget} iterations ran (got {s['iterations']})")
    ids = sorted(r["job_id"] for r in rows)
    check(ids == list(range(budget)), f"{name}: every job id 0..{budget - 1} in /results exactly once")
    wrong = [r for r in rows if r["reason"] != (expected_reason(r["job_id"]) or "")
             or r["status"] != (2 if expected_reason(r["job_id"]) else 1)]
    check(not wrong, f"{name}: every row's status and reason follow the program's rule (wrong: {wrong[:3]})")
    bad_reward = [r for r in rows if r["status"] == 1 and abs(r["reward"] - LENGTH / 100) > 1e-12]
    check(not bad_reward, f"{name}: successful rows carry the program's reward {LENGTH / 100}")
    want_reasons = collections.Counter(expected_reason(i) for i in range(budget) if expected_reason(i))
    want_kinds = collections.Counter()
    for r, n in want_reasons.items():
        want_kinds[kind(r)] += n
    check(s["failures"] == sum(want_reasons.values()),
          f"{name}: failures == {sum(want_reasons.values())} (got {s['failures']})")
    check(s["failures_by_reason"] == dict(want_reasons),
          f"{name}: summary counts by reason {dict(want_reasons)} (got {s['failures_by_reason']})")
    check(s["failures_by_kind"] == dict(want_kinds),
          f"{name}: summary counts by kind {dict(want_kinds)} (got {s['failures_by_kind']})")
    check(collections.Counter(r["reason"] for r in rows if r["status"] == 2) == want_reasons,
          f"{name}: checkpoint /results counts by reason agree")
    check(backprops == budget - s["failures"],
          f"{name}: the graph holds only the {budget - s['failures']} successful evaluations (backprops {backprops})")
    check("crash: read" in err, f"{name}: the program's stderr reaches banyan's stderr")
    if ranks > 1:
        check(s["engines"] == ranks - 1 and sum(e["failures"] for e in s["engine_stats"]) == s["failures"],
              f"{name}: {ranks - 1} engines, whose failure counts add up")
    time.sleep(0.5)  # killed processes may take a moment to disappear
    strays = stray_sleeps()
    check(not strays, f"{name}: no background sleep of the hanging program left (found {strays})")


def check_flaky(tmp, ranks, retries):
    budget = 60
    name = f"flaky_n{ranks}_r{retries}"
    rc, s, err, rows, _ = run(tmp, name, os.path.join(HERE, "flaky.sh"), budget, ranks,
                              [f"engine.retries={retries}"])
    check(rc == 0, f"{name}: exit status 0 (got {rc})" + (rc and ": " + err[-1500:] or ""))
    if not s or not rows:
        return check(False, f"{name}: summary and checkpoint written")
    check(len(rows) == budget, f"{name}: {budget} results")
    if retries:
        check(s["failures"] == 0, f"{name}: no failure with engine.retries = 1 (got {s['failures']})")
        check(all(r["status"] == 1 and r["attempts"] == 2 for r in rows),
              f"{name}: every job succeeded on attempt 2 (attempts {collections.Counter(r['attempts'] for r in rows)})")
    else:
        check(s["failures_by_reason"] == {"exit status: 1": budget},
              f"{name}: without retries every job fails once (got {s['failures_by_reason']})")
        check(all(r["attempts"] == 1 for r in rows), f"{name}: one attempt each")


t0 = time.monotonic()
with tempfile.TemporaryDirectory() as tmp:
    check_mixed(tmp, 1)
    check_mixed(tmp, 3)
    check_flaky(tmp, 3, 1)
    check_flaky(tmp, 1, 0)
print(f"     total {time.monotonic() - t0:.1f} s")
sys.exit(1 if failures else 0)
