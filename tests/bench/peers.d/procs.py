"""Every process the peers benchmark starts, and stopping them all.

Each child runs in its own session (its own process group), so that stopping it stops
whatever it started too (mpirun's ranks, Celery's pool, Dask's nannies and workers). The
group ids are appended to a file (PEERS_PIDFILE, set by tests/bench/peers) before the
child does anything, so the shell script's trap can still kill them if this Python process
itself dies. Every wait has a timeout.
"""
import os
import signal
import socket
import subprocess
import time

PIDFILE = os.environ.get("PEERS_PIDFILE")
_groups = []


class Timeout(RuntimeError):
    pass


def _record(pgid):
    _groups.append(pgid)
    if PIDFILE:
        with open(PIDFILE, "a") as f:
            f.write(f"{pgid}\n")


def start(cmd, env=None, cwd=None, stdout=None, stderr=None):
    """Popen in a new session; the group is recorded for stop()."""
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    _record(p.pid)
    return p


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _kill_group(pgid, grace, pause):
    """SIGTERM the group, SIGKILL what is left after `grace` seconds (then 5 s more);
    pause() runs between looks at whether the group is still there."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not _group_alive(pgid):
            break
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(pgid):
            pause()


def stop(p, grace=10.0):
    """SIGTERM the child's group, SIGKILL what is left after `grace` seconds; reap the child."""
    if p is None:
        return

    def reap_a_while():  # the unreaped child would keep its group alive
        try:
            p.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            pass

    _kill_group(p.pid, grace, reap_a_while)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    if p.pid in _groups:
        _groups.remove(p.pid)


def stop_all():
    """Kill every recorded group that is still there (the last line of defence)."""
    for pgid in list(_groups):
        _kill_group(pgid, 5.0, lambda: time.sleep(0.05))
        _groups.remove(pgid)


def _run_watched(cmd, timeout, watch, interval, env, cwd, stdout, stderr):
    """Start cmd in its own group and poll it every `interval` s until it exits, calling
    watch(pid) before each poll; on timeout kill the group and raise Timeout.
    Returns (exit status, resource usage of the child from wait4)."""
    p = start(cmd, env=env, cwd=cwd, stdout=stdout, stderr=stderr)
    deadline = time.monotonic() + timeout
    try:
        while True:
            watch(p.pid)
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                return p.returncode, usage
            if time.monotonic() > deadline:
                raise Timeout(f"{' '.join(map(str, cmd[:6]))} ... did not finish in {timeout:.0f} s")
            time.sleep(interval)
    finally:
        stop(p, grace=3)


def run(cmd, timeout, env=None, cwd=None, stdout=None, stderr=None):
    """Run to completion in its own group; on timeout kill the group and raise Timeout.
    Returns (exit status, resource usage of the child from wait4)."""
    return _run_watched(cmd, timeout, lambda pid: None, 0.02, env, cwd, stdout, stderr)


def run_peak_rss(cmd, timeout, env=None, cwd=None, stdout=None, stderr=None):
    """Run to completion like run(); also return the peak resident bytes of the program
    itself: VmHWM of /proc/PID/status, polled every 10 ms until it exits (the last value
    read). Not ru_maxrss, which also counts the forked Python image from before exec."""
    peak = 0

    def read_peak(pid):
        nonlocal peak
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
        except (OSError, ValueError):
            pass

    rc, _ = _run_watched(cmd, timeout, read_peak, 0.01, env, cwd, stdout, stderr)
    return rc, peak


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
