#!/usr/bin/env python3
"""Liveness and stops (issue 13 items 6, 7, 10): engines that freeze or die, stop signals in
every phase, options that could hold a run past its time limit, a checkpoint that cannot be
written.

usage: liveness.py BANYAN CONFIG_DIR CASE

Cases:
  sigstop      mpirun -n 3: one engine frozen (SIGSTOP) mid-run is noticed within
               engine.lost_after, its jobs go to the other engine, the budget completes, the
               run exits with status 4 (checkpointed, resume me), mpirun ends the frozen rank;
               every job id once; resume then finishes with status 0
  sigkill      mpirun -n 3: one engine killed (SIGKILL): Open MPI ends the job at once
               (mpirun sends rank 0 SIGTERM, then SIGKILL 1 s later); the last checkpoint is
               complete (inspect --verify) and resume completes the budget, every id once
  stop_drain   a stop signal while the last jobs of a spent budget run (one 30 s job each):
               exit status 3 within 2 s, on 1 process (SIGTERM, checkpoint.drain_seconds = 0
               too) and under mpirun (SIGUSR1), no MPI_ABORT; the jobs are pending and resume
               runs them
  time_limit   engine.depth = 1048576 with search.max_seconds = 1: the run ends within a few
               seconds, on 1 process and under mpirun -n 2
  write_fail   mpirun -n 3: the checkpoint's directory disappears mid-run: status 1 with the
               cause in one line and the error trail, no MPI_ABORT, within seconds

Prints ok/FAIL lines (and the measured times); exit status 0 iff all passed."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "checkpoint"))
import common  # noqa: E402
from common import ENV, check, failures, mpirun, ranks_of, run, sets  # noqa: E402  (ok/FAIL lines, mpirun)

BANYAN, CONFIG_DIR, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
common.setup(BANYAN)
SYNTH = os.path.join(CONFIG_DIR, "synthetic-bench.ini")


class Started:
    """A process whose stderr lines are collected with their arrival times."""

    def __init__(self, cmd):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  start_new_session=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait(self, timeout):
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
            return None
        self.reader.join(timeout=5)
        return self.p.returncode

    def first(self, text):
        """(time, line) of the first stderr line containing text, or (None, None)."""
        for t, line in self.lines:
            if text in line:
                return t, line
        return None, None

    def stderr(self):
        return "\n".join(line for _, line in self.lines)


def wait_ranks(p, n, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = ranks_of(p.pid)
        if len(r) == n:
            return r
        time.sleep(0.05)
    return ranks_of(p.pid)


def wait_for_file(path, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not os.path.exists(path):
        time.sleep(0.05)
    return os.path.exists(path)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def results_ids(path):
    with h5py.File(path, "r") as f:
        return [int(x) for x in f["results"]["job_id"]]


def counters(path):
    with h5py.File(path, "r") as f:
        return int(f.attrs["completed"]), len(f["pending/rows"])


def no_abort(err):
    return "MPI_ABORT" not in err and "MPI_Abort" not in err


# Jobs of a known length on the synthetic domain; liveness on a short fuse.
SLEEP = ("domain.synthetic.cost=sleep", "domain.synthetic.cost_dist=fixed", "search.progress_seconds=0")
FUSE = ("engine.heartbeat_seconds=0.2", "engine.lost_after=1")


def case_sigstop():
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "run.h5")
        budget = 160
        p = Started(mpirun(3, "run", SYNTH, "--quiet", *sets(f"search.iterations={budget}", f"checkpoint.file={ck}",
                                                             "domain.synthetic.cost_mean=0.04",
                                                             "checkpoint.every_seconds=0.5", *SLEEP, *FUSE)))
        ranks = wait_ranks(p.p, 3)
        check(len(ranks) == 3, f"found the three ranks ({sorted(ranks)})")
        if not wait_for_file(ck):
            check(False, "a first checkpoint", p.stderr()[-800:])
        victim = ranks.get(2)
        t_stop = time.monotonic()
        if victim:
            os.kill(victim, signal.SIGSTOP)
        rc = p.wait(120)
        t_lost, line = p.first("engine 2 lost")
        notice = t_lost - t_stop if t_lost else None
        print(f"     time to notice a frozen engine: {notice:.2f} s (engine.lost_after = 1 s, heartbeats every 0.2 s)"
              if notice is not None else "     the frozen engine was not noticed")
        check(rc == 4, f"exit status 4: an engine was lost, checkpointed, resume me (got {rc})", p.stderr()[-1500:])
        check(notice is not None and notice < 3.0, f"noticed within 3 s ({notice})", line or "")
        check(no_abort(p.stderr()), "no MPI_ABORT")
        check(victim is not None and not alive(victim), "the frozen rank is gone when mpirun returns")
        done, pending = counters(ck)
        ids = results_ids(ck)
        check(done == budget and pending == 0, f"the other engine ran the frozen engine's jobs: {done} results, "
                                               f"{pending} pending")
        check(len(ids) == len(set(ids)) == budget, f"every job id once ({len(ids)} rows, {len(set(ids))} ids)")
        r = run(mpirun(3, "resume", ck, "--quiet"))
        check(r.returncode == 0, f"resume exits 0 (got {r.returncode})", r.stderr[-600:])


def case_sigkill():
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "run.h5")
        budget = 400
        p = Started(mpirun(3, "run", SYNTH, "--quiet", *sets(f"search.iterations={budget}", f"checkpoint.file={ck}",
                                                             "domain.synthetic.cost_mean=0.01",
                                                             "checkpoint.every_seconds=0.2", *SLEEP, *FUSE)))
        ranks = wait_ranks(p.p, 3)
        wait_for_file(ck)
        time.sleep(0.5)
        t_kill = time.monotonic()
        if 2 in ranks:
            os.kill(ranks[2], signal.SIGKILL)
        rc = p.wait(60)
        t_end = time.monotonic()
        t_term, _ = p.first("stop requested")
        print(f"     engine killed: rank 0 told to stop after "
              f"{(t_term - t_kill) if t_term else float('nan'):.2f} s, mpirun returned after {t_end - t_kill:.2f} s "
              f"with status {rc}")
        check(rc not in (0, None), f"mpirun ends the job (status {rc})")
        check(t_end - t_kill < 10, f"within 10 s ({t_end - t_kill:.1f} s)")
        check(not any(alive(pid) for pid in ranks.values()), "no rank left running")
        r = run([BANYAN, "inspect", ck, "--verify"])
        check(r.returncode == 0, "the last checkpoint is complete (inspect --verify)", r.stderr[-500:])
        before = set(results_ids(ck))
        r = run(mpirun(3, "resume", ck, "--quiet"))
        check(r.returncode == 0, f"resume exits 0 (got {r.returncode})", r.stderr[-600:])
        ids = results_ids(ck)
        check(len(ids) == len(set(ids)) == budget and before <= set(ids),
              f"after resume {budget} results, each id once, the checkpointed ones kept ({len(ids)}, {len(set(ids))})")


def case_stop_drain():
    long_job = ("domain.synthetic.cost_mean=30", "search.iterations=2", "search.max_in_flight=2")
    for label, cmd, sig, extra in (
            ("1 process, SIGTERM", [BANYAN], signal.SIGTERM, ("checkpoint.drain_seconds=0.5",)),
            ("1 process, SIGTERM, checkpoint.drain_seconds = 0", [BANYAN], signal.SIGTERM,
             ("checkpoint.drain_seconds=0",)),
            ("mpirun -n 3, SIGUSR1", mpirun(3)[:-1] + [BANYAN], signal.SIGUSR1, ("checkpoint.drain_seconds=0.5",))):
        with tempfile.TemporaryDirectory() as tmp:
            ck = os.path.join(tmp, "run.h5")
            p = Started(cmd + ["run", SYNTH, "--quiet"] + sets(f"checkpoint.file={ck}", *SLEEP, *long_job, *extra))
            wait_for_file(ck + ".lock")
            time.sleep(1.5)  # the budget is issued at once: the two jobs run, nothing more will be issued
            ranks = ranks_of(p.p.pid) if cmd[0] == "mpirun" else {0: p.p.pid}
            t_sig = time.monotonic()
            os.kill(p.p.pid, sig)
            gone = None
            while p.p.poll() is None and time.monotonic() - t_sig < 60:
                if gone is None and not any(alive(pid) for pid in ranks.values()):
                    gone = time.monotonic() - t_sig
                time.sleep(0.01)
            rc = p.wait(60)
            dt = time.monotonic() - t_sig
            if gone is None:
                gone = dt
            # mpirun itself takes about 2 s more after a rank's status other than 0: it then
            # runs its kill sequence (SIGTERM, odls_base_sigkill_timeout = 1 s, SIGKILL)
            # even when every rank has exited already.
            print(f"     {label}: every rank gone {gone:.2f} s after the signal; the launcher returned after {dt:.2f} s")
            check(rc == 3, f"{label}: exit status 3 (got {rc})", p.stderr()[-800:])
            check(gone < 2.0, f"{label}: every rank ends within 2 s ({gone:.2f} s)",
                  "\n".join(f"{t - t_sig:+.2f} {x}" for t, x in p.lines))
            check(dt < 5.0, f"{label}: the launcher returns within 5 s ({dt:.2f} s)")
            check(no_abort(p.stderr()), f"{label}: no MPI_ABORT", p.stderr()[-800:])
            done, pending = counters(ck)
            check(done == 0 and pending >= 1, f"{label}: the running jobs are pending ({done} done, {pending} pending)")
            if cmd[0] == "mpirun":
                r = run(mpirun(2, "resume", ck, "--quiet", "--force", *sets("domain.synthetic.cost_mean=0.01")))
                check(r.returncode == 0, f"{label}: resume runs them (status {r.returncode})", r.stderr[-600:])
                check(sorted(results_ids(ck)) == [0, 1], f"{label}: jobs 0 and 1 once each ({sorted(results_ids(ck))})")


def case_time_limit():
    for label, cmd in (("1 process", [BANYAN]), ("mpirun -n 2", mpirun(2)[:-1] + [BANYAN])):
        with tempfile.TemporaryDirectory() as tmp:
            ck = os.path.join(tmp, "run.h5")
            t0 = time.monotonic()
            r = run(cmd + ["run", SYNTH, "--quiet"] + sets(
                f"checkpoint.file={ck}", "search.iterations=1000000000", "engine.depth=1048576",
                "search.max_seconds=1", "checkpoint.drain_seconds=1", "domain.synthetic.cost_mean=0.001", *SLEEP),
                timeout=60)
            dt = time.monotonic() - t0
            print(f"     {label}: engine.depth = 1048576, search.max_seconds = 1: ended after {dt:.2f} s")
            check(r.returncode == 0, f"{label}: exit status 0 (got {r.returncode})", r.stderr[-600:])
            check(dt < 5.0, f"{label}: ends within 5 s ({dt:.2f} s)")
            r = run([BANYAN, "inspect", ck, "--verify"])
            check(r.returncode == 0, f"{label}: its checkpoint is complete", r.stderr[-400:])


def case_write_fail():
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "ckpt")
        os.mkdir(d)
        ck = os.path.join(d, "run.h5")
        p = Started(mpirun(3, "run", SYNTH, "--quiet", *sets("search.iterations=100000000", f"checkpoint.file={ck}",
                                                             "domain.synthetic.cost_mean=0.002",
                                                             "checkpoint.every_seconds=0.2", *SLEEP)))
        wait_for_file(ck)
        time.sleep(0.3)
        t_rm = time.monotonic()
        shutil.rmtree(d)
        rc = p.wait(60)
        dt = time.monotonic() - t_rm
        err = p.stderr()
        lines = [x for x in err.splitlines() if x.startswith("banyan")]
        print(f"     checkpoint directory removed: stopped {dt:.2f} s later")
        check(rc == 1, f"exit status 1 (got {rc})", err[-800:])
        check(dt < 10, f"within 10 s ({dt:.1f} s)")
        check(no_abort(err), "no MPI_ABORT: the engines were stopped", err[-800:])
        check(any("No such file or directory" in x and "run.h5" in x for x in lines),
              "one line names the cause and the file", "\n".join(lines))
        trail = [x for x in lines if " at " in x and "(" in x and ".c:" in x]
        check(len(trail) == 1 and "the search failed" in trail[0], "the error trail in one line", "\n".join(lines))
        check(len(lines) <= 3, f"a short report ({len(lines)} lines)", "\n".join(lines))


CASES = {"sigstop": case_sigstop, "sigkill": case_sigkill, "stop_drain": case_stop_drain,
         "time_limit": case_time_limit, "write_fail": case_write_fail}

if __name__ == "__main__":
    t0 = time.monotonic()
    CASES[CASE]()
    print(f"{len(failures)} failure(s) in {time.monotonic() - t0:.1f} s")
    sys.exit(1 if failures else 0)
