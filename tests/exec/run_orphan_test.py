#!/usr/bin/env python3
"""Daemons of evaluated programs: `banyan run` of the `exec` domain over tests/exec/daemon.sh,
whose every run double-forks a `sleep` into a session of its own (setsid), out of the
program's process group, holding the program's stdout and stderr; on 1 process and under
`mpirun -n 3 --oversubscribe`.

usage: run_orphan_test.py BANYAN

Checks, for each run: exit status 0, every job succeeded; the run's stdout and stderr (pipes,
as under mpirun or a batch system) reach end of file within seconds of the search's end, not
when the daemons would have ended (300 s); no daemon `sleep` is left afterwards. Exit status
0 = pass, 1 = fail.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

BANYAN = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
MARK = "300.%d" % os.getpid()  # the daemons' sleep argument, to find strays
BUDGET = 24
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", EXEC_TEST_DAEMON_SLEEP=MARK)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def daemons():
    """Processes still running `sleep MARK` (zombies have no command line)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if len(args) >= 2 and args[0].endswith(b"sleep") and args[1] == MARK.encode():
            found.append(int(pid))
    return found


def kill_all(pids):
    for p in pids:
        try:
            os.kill(p, 9)
        except OSError:
            pass


def case(tmp, ranks):
    name = f"daemon_n{ranks}"
    config = os.path.join(tmp, name + ".ini")
    with open(config, "w") as f:
        f.write(f"""[search]
iterations = {BUDGET}
progress_seconds = 0
[domain]
name = exec
[domain.exec]
length = 4
alphabet = ACGT
[exec]
command = {os.path.join(HERE, "daemon.sh")}
timeout = 10
""")
    summary = os.path.join(tmp, name + ".json")
    cmd = [BANYAN, "run", config, "--quiet", "--summary", summary]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe"] + cmd
    t0 = time.monotonic()
    stray = []
    p = subprocess.Popen(cmd, env=ENV, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=60)  # waits for end of file on both pipes too
    except subprocess.TimeoutExpired:
        p.kill()
        stray = daemons()
        kill_all(stray)  # they hold the pipes
        out, err = p.communicate()
        err += b"\n(killed after 60 s)"
    took = time.monotonic() - t0
    print(f"     {name}: {' '.join(cmd[:6])} ... took {took:.1f} s", flush=True)
    check(p.returncode == 0, f"{name}: exit status 0 (got {p.returncode}) {err.decode()[-1500:]}")
    s = json.load(open(summary)) if os.path.exists(summary) else {}
    check(s.get("iterations") == BUDGET and s.get("failures") == 0,
          f"{name}: all {BUDGET} jobs succeeded (iterations {s.get('iterations')}, failures {s.get('failures')})")
    check(took < 30, f"{name}: output closed {took:.1f} s after the start (< 30 s): no daemon held it")
    time.sleep(0.2)
    left = daemons()
    check(not left and not stray, f"{name}: no daemon left (found {len(left) + len(stray)})")
    kill_all(left)


t0 = time.monotonic()
with tempfile.TemporaryDirectory() as tmp:
    case(tmp, 1)
    case(tmp, 3)
print(f"     total {time.monotonic() - t0:.1f} s")
sys.exit(1 if failures else 0)
