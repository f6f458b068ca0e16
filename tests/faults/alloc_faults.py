#!/usr/bin/env python3
"""Allocation failures inside banyan (issue 13 item 6), SQLite's way: fail the Nth
allocation banyan's own code makes (malloc, calloc, realloc, strdup, strndup,
aligned_alloc, realpath, anonymous mmap; alloc_shim.c, preloaded), for N = 1, 2, 3, ...
and a spread of larger N up to the number the command makes, across `run` (configuration,
search, engines, checkpoint writing), `resume` (reading, validating, continuing,
writing) and `mpirun -n 2 run`. Every run must end cleanly: status 0 (the failure was
absorbed) or 1 with an error line and the error trail, in a few lines; never a signal, a
hang, an MPI_ABORT, a sanitizer report (when BANYAN is an ASan build) or status 2 (that
one is for configurations to fix).

usage: alloc_faults.py BANYAN CONFIG_DIR SHIM [--all] [--quick]
  --all    every N up to the count (slow: minutes)
"""
import os
import subprocess
import sys
import tempfile
import time

BANYAN, CONFIG_DIR, SHIM = (os.path.abspath(a) for a in sys.argv[1:4])
EVERY = "--all" in sys.argv
SYNTH = os.path.abspath(os.path.join(CONFIG_DIR, "synthetic-bench.ini"))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
ASAN = b"libasan" in subprocess.run(["ldd", BANYAN], capture_output=True).stdout
if ASAN:
    # The shim forwards to ASan's allocator; ASan would refuse to come second otherwise.
    ENV["ASAN_OPTIONS"] = "verify_asan_link_order=0:detect_leaks=0:abort_on_error=0"
    ENV["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
TIMEOUT = 60 if ASAN else 30
failures = []
runs = 0


def check(cond, what, detail=""):
    if not cond:
        print("FAIL " + what + ("\n     " + detail if detail else ""), flush=True)
        failures.append(what)
    return cond


def sets(*kv):
    return sum([["--set", x] for x in kv], [])


def run(cmd, cwd, fail_at=0, count_file=None, mpi=False):
    global runs
    runs += 1
    env = dict(ENV)
    shim_env = {"BANYAN_FAIL_ALLOC": str(fail_at)}
    if count_file:
        shim_env["BANYAN_ALLOC_COUNT"] = count_file
    if not mpi:  # one process: no orted beside it (faster, and nothing else preloaded)
        env["OMPI_MCA_ess_singleton_isolated"] = "1"
    if mpi:  # to the ranks only, not to mpirun
        cmd = cmd[:1] + sum([["-x", f"{k}={v}"] for k, v in shim_env.items()], []) + \
            ["-x", f"LD_PRELOAD={SHIM}"] + cmd[1:]
    else:
        env.update(shim_env)
        env["LD_PRELOAD"] = SHIM
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
        return p.returncode, p.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, err, time.monotonic() - t0


def judge(label, n, rc, err):
    where = f"{label}, allocation {n}"
    lines = [x for x in err.splitlines() if x.strip()]
    ours = [x for x in lines if x.startswith("banyan")]
    tail = "\n     ".join(lines[-12:])
    if not check(rc is not None, f"{where}: no hang (over {TIMEOUT} s)", tail):
        return
    check(rc in (0, 1), f"{where}: status 0 or 1 (got {rc})", tail)
    check("AddressSanitizer" not in err and "runtime error:" not in err and "LeakSanitizer" not in err,
          f"{where}: no sanitizer report", tail)
    check("MPI_ABORT" not in err, f"{where}: no MPI_ABORT", tail)
    if rc == 1:
        check(any(" error: " in x or x.startswith("banyan: ") or x.startswith("banyan ") for x in ours),
              f"{where}: an error line", tail)
        check(len(ours) <= 6, f"{where}: a short report ({len(ours)} lines)", tail)


def plan(count, first, spread):
    """The N to try: 1..first, then `spread` more spread over the rest, and count + 1 (no
    failure)."""
    if EVERY:
        return list(range(1, count + 2))
    ns = set(range(1, min(count, first) + 1))
    if count > first:
        for i in range(spread):
            ns.add(first + round((count - first) * (i + 1) / (spread + 1)))
    ns.add(count + 1)
    return sorted(ns)


def sweep(label, make_cmd, first, spread, prepare=None, mpi=False):
    """Count the command's allocations, then fail each planned N in a fresh directory."""
    with tempfile.TemporaryDirectory() as tmp:
        if prepare:
            prepare(tmp)
        cf = os.path.join(tmp, "count")
        rc, err, dt = run(make_cmd(tmp), tmp, 0, cf, mpi)
        if not check(rc == 0, f"{label}: runs without a failure (status {rc})", err[-800:]):
            return
        with open(cf) as f:  # one line per banyan process: the largest count
            count = max(int(x) for x in f.read().split())
    ns = plan(count, first, spread)
    t0 = time.monotonic()
    outcomes = {}
    for n in ns:
        with tempfile.TemporaryDirectory() as tmp:
            if prepare:
                prepare(tmp)
            rc, err, dt = run(make_cmd(tmp), tmp, n, None, mpi)
            judge(label, n, rc, err)
            outcomes[rc] = outcomes.get(rc, 0) + 1
    print(f"ok   {label}: {count} allocations; failed each of {len(ns)} (N = 1..{min(count, first)} and "
          f"{len(ns) - min(count, first)} more up to {count + 1}) in {time.monotonic() - t0:.1f} s; "
          f"statuses {dict(sorted(outcomes.items(), key=lambda kv: str(kv[0])))}", flush=True)


SMALL = ("search.iterations=3000", "checkpoint.every_evaluations=1000", "checkpoint.every_seconds=0",
         "search.progress_seconds=0", "checkpoint.max_time_share=0")


def run_cmd(tmp):
    return [BANYAN, "run", SYNTH, "--quiet"] + sets(f"checkpoint.file={tmp}/run.h5", *SMALL)


def make_checkpoint(tmp):
    r = subprocess.run([BANYAN, "run", SYNTH, "--quiet"] + sets(f"checkpoint.file={tmp}/run.h5", *SMALL),
                       env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr


def resume_cmd(tmp):
    return [BANYAN, "resume", f"{tmp}/run.h5", "--quiet"] + sets("search.iterations=6000")


def mpi_cmd(tmp):
    return ["mpirun", "-n", "2", "--oversubscribe", BANYAN, "run", SYNTH, "--quiet"] + \
        sets(f"checkpoint.file={tmp}/run.h5", *SMALL)


if __name__ == "__main__":
    t0 = time.monotonic()
    # About a minute in all: every early allocation (configuration, set-up), a spread of the
    # later ones (search, checkpoint writing, reading and validating), a few under mpirun
    # (where each failing run also costs mpirun's own 1-2 s of ending the job).
    sweep("run", run_cmd, 25, 25)
    sweep("resume", resume_cmd, 10, 20, prepare=make_checkpoint)
    sweep("mpirun -n 2 run", mpi_cmd, 2, 4, mpi=True)
    print(f"{len(failures)} failure(s) in {runs} runs, {time.monotonic() - t0:.1f} s{' (ASan build)' if ASAN else ''}")
    sys.exit(1 if failures else 0)
