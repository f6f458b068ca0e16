#!/usr/bin/env python3
"""Hostile checkpoints (issue 13): reading runs nothing, one validation, bounded work.

usage: hostile.py BANYAN CONFIG_DIR CASE [MARKER_PLUGIN]

Cases:
  readers  a checkpoint naming a plug-in whose constructor creates a file, and one naming an
           exec.command that would create a file: `inspect` and `export` leave no such file
           (and say that they load and run nothing); `resume` says what it will load and run,
           refuses a plug-in or command other than the run's in one line before loading
           anything, and goes on with --trust (MARKER_PLUGIN: the N-queens example plus that
           constructor, built by CMake).
  files    self-consistent hostile files, each made from a good checkpoint with h5py (segment
           checksums recomputed, counters kept adding up): a job id twice in /results, a
           pending row twice, a pending row equal to a finished job, NaN and infinite rewards,
           counters near 2^64, a million rows of /stats/engines, a deterministic run with
           cancelled iterations, a flipped pending kind. Each is refused by `inspect` and by
           `resume` (also under mpirun) with status 1 and one line on stderr, quickly, before
           any rank starts work, and the file is not changed.

Files are read and written with Debian's python3-h5py and sealed again after each edit
(common.reseal), so what is refused is refused by the checks behind the seal.
"""
import os
import re
import shutil
import struct
import sys
import tempfile
import time

import h5py
import numpy as np

BANYAN, CONFIG_DIR, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
MARKER_PLUGIN = sys.argv[4] if len(sys.argv) > 4 else None
SYNTH = os.path.join(CONFIG_DIR, "synthetic-bench.ini")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import check, failures, mpirun, reseal, run, sets, sha, xxh3_64  # noqa: E402
common.setup(BANYAN)

# Refusals must come at once; generous against a loaded 2-core machine shared with other
# builds (typical: 0.05 s for inspect, 0.5 s for resume, most of it MPI start-up; a hang or
# quadratic work would take minutes).
QUICK = 5.0


def reseal_segment(path, rows_checksum):
    """Seal a segment again after its rows changed: the rows checksum its seal repeats
    (docs/checkpoint-format.md, "The seal"), then the seal itself."""
    with open(path, "r+b") as f:
        f.seek(72)
        f.write(struct.pack("<Q", rows_checksum))
    reseal(path)


def stderr_lines(r):
    return [x for x in r.stderr.splitlines() if x.strip()]


def timed(cmd, timeout=60):
    t = time.monotonic()
    r = run(cmd, timeout=timeout)
    return r, time.monotonic() - t


# --- a good checkpoint and edits that keep it self-consistent ---------------------------

def make_good(tmp):
    """A deterministic synthetic run stopped by its time limit: rows in /results and 64
    iterations pending (deterministic mode keeps the window selected)."""
    ck = os.path.join(tmp, "good.h5")
    r = run([BANYAN, "run", SYNTH, "--quiet"] + sets(
        "search.iterations=100000", f"checkpoint.file={ck}", "search.deterministic=true",
        "domain.synthetic.cost=sleep", "domain.synthetic.cost_mean=0.001", "search.max_seconds=0.3",
        "search.progress_seconds=0", "checkpoint.every_seconds=60"))
    check(r.returncode == 0, f"a good checkpoint (status {r.returncode})", r.stderr[-500:])
    with h5py.File(ck, "r") as f:
        n_pending, n_rows = len(f["pending/rows"]), len(f["results"])
    check(n_pending > 1 and n_rows > 10, f"it has results ({n_rows}) and pending iterations ({n_pending})")
    return ck


def copy_checkpoint(good, tmp, name):
    ck = os.path.join(tmp, name + ".h5")
    shutil.copy(good, ck)
    shutil.copytree(good + ".d", ck + ".d")
    with h5py.File(ck, "r+") as f:
        f.attrs["segment_dir"] = np.bytes_(os.path.basename(ck) + ".d\0")
    reseal(ck)
    return ck


def set_config(f, old, new):
    text = bytes(f.attrs["config"]).decode().rstrip("\0")
    assert old in text, old
    f.attrs["config"] = np.bytes_((text.replace(old, new, 1) + "\0").encode())


def to_free_mode(f):
    """The same run as if it had been a free-mode one (same rows, same pending jobs)."""
    f.attrs["deterministic"] = np.uint8(0)
    set_config(f, "deterministic = true", "deterministic = false")


def edit_rows(ck, edit):
    """Change rows of the first segment with edit(rows), then recompute its checksum in the
    segment and in the main file's /segments table, as a careful forger would."""
    with h5py.File(ck, "r") as f:
        seg = f["segments"][0]
        seq = int(seg["seq"])
        d = os.path.join(os.path.dirname(ck), bytes(f.attrs["segment_dir"]).decode().rstrip("\0"))
    path = os.path.join(d, f"results-{seq:012d}.h5")
    with h5py.File(path, "r+") as s:
        rows = s["results"][...]
        edit(rows)
        s["results"][...] = rows
        packed = s["results"][...]
        assert packed.dtype.itemsize == sum(packed.dtype.fields[n][0].itemsize for n in packed.dtype.names)
        # the checksum covers each row followed by its failure text (24 + 104 bytes, zero
        # when it succeeded: docs/checkpoint-format.md)
        text = np.zeros((len(packed), 128), dtype=np.uint8)
        for x in s["result_failures"][...]:
            text[int(x["row"]) - int(s.attrs["first_row"]), :24] = np.frombuffer(x["failure_kind"].ljust(24, b"\0"), np.uint8)
            text[int(x["row"]) - int(s.attrs["first_row"]), 24:] = np.frombuffer(x["failure_detail"].ljust(104, b"\0"), np.uint8)
        wire = np.concatenate([np.frombuffer(packed.tobytes(), np.uint8).reshape(len(packed), -1), text], axis=1)
        total = xxh3_64(wire.tobytes())
        s.attrs["checksum"] = np.uint64(total)
    reseal_segment(path, total)
    with h5py.File(ck, "r+") as f:
        t = f["segments"][...]
        t[0]["checksum"] = total
        t[0]["bytes"] = os.path.getsize(path)
        f["segments"][...] = t


def replace_table(f, path, rows, **kw):
    del f[path]
    f.create_dataset(path, data=rows, **kw)


def hostile_files(good, tmp):
    """(name, path, words expected in the refusal)."""
    out = []

    def variant(name, edit, words, free=False):
        ck = copy_checkpoint(good, tmp, re.sub(r"[^a-z0-9]+", "_", name) + ("_free" if free else ""))
        with h5py.File(ck, "r+") as f:
            if free:
                to_free_mode(f)
        edit(ck)
        reseal(ck)
        out.append((name + (" (free mode)" if free else ""), ck, words))

    def attrs(**values):
        def edit(ck):
            with h5py.File(ck, "r+") as f:
                for k, v in values.items():
                    f.attrs[k] = np.uint64(v)
        return edit

    # A job id twice in /results: row 3 becomes row 2's job.
    def dup_job(rows):
        rows[3]["job_id"] = rows[2]["job_id"]
    for free in (False, True):
        variant("a job id twice in results", lambda ck: edit_rows(ck, dup_job),
                "appears twice" if free else "deterministic mode applies job", free)

    # A pending row listed twice: one more row, one more iteration claimed.
    def dup_pending(ck):
        with h5py.File(ck, "r+") as f:
            for p in ("pending/rows", "pending/paths", "pending/states"):
                a = f[p][...]
                replace_table(f, p, np.concatenate([a, a[:1]]))
            f.attrs["next_iteration"] = np.uint64(f.attrs["next_iteration"] + 1)
    variant("a pending row twice", dup_pending, "listed twice", free=True)

    # A pending job that is also a finished one: a row of /results takes its job id.
    def pending_finished(ck):
        with h5py.File(ck, "r") as f:
            it = int(f["pending/rows"][0]["iteration"])

        def edit(rows):
            rows[1]["job_id"] = it
        edit_rows(ck, edit)
    variant("a pending job equal to a finished one", pending_finished, "both finished", free=True)
    variant("a pending job equal to a finished one", pending_finished, "deterministic mode applies job")

    def reward(value):
        def edit(rows):
            rows[0]["reward"] = value
        return lambda ck: edit_rows(ck, edit)
    variant("a NaN reward", reward(np.nan), "not finite")
    variant("an infinite reward", reward(np.inf), "not finite", free=True)

    # Counters near 2^64 that still add up: the extra iterations are "cancelled".
    def huge_next(ck):
        with h5py.File(ck, "r+") as f:
            nxt = 2**64 - 5
            f.attrs["next_iteration"] = np.uint64(nxt)
            f.attrs["cancelled"] = np.uint64(nxt - int(f.attrs["completed"]) - len(f["pending/rows"]))
    variant("next_iteration near 2^64", huge_next, "2^64", free=True)
    variant("next_iteration near 2^64", huge_next, "2^64")
    variant("next_segment near 2^64", attrs(next_segment=2**64 - 1), "2^64")
    variant("checkpoints near 2^64", attrs(checkpoints=2**64 - 1), "2^64")

    def many_cancelled(ck):
        with h5py.File(ck, "r+") as f:
            f.attrs["cancelled"] = np.uint64(2**40)
            f.attrs["next_iteration"] = np.uint64(f.attrs["next_iteration"] + 2**40)
    variant("2^40 cancelled iterations", many_cancelled, "cancelled", free=True)

    # A million rows of /stats/engines in a small (compressed) file, ranks all distinct.
    def million_engines(ck):
        with h5py.File(ck, "r+") as f:
            dt = f["stats/engines"].dtype
            rows = np.zeros(1000000, dtype=dt)
            rows["rank"] = np.arange(1000000, dtype=np.int32)
            if "pool" in dt.names:
                rows["pool"] = 3
            replace_table(f, "stats/engines", rows, chunks=(65536,), compression="gzip")
    variant("a million rows of /stats/engines", million_engines, "/stats/engines")

    # Engine pools: a pool that is no set of job kinds; a move from a pool to itself.
    def bad_pool(ck):
        with h5py.File(ck, "r+") as f:
            e = f["stats/engines"][...]
            e[0]["pool"] = 9
            f["stats/engines"][...] = e
    variant("an engine in pool 9", bad_pool, "pool 9")

    def self_move(ck):
        with h5py.File(ck, "r+") as f:
            rows = np.zeros(1, dtype=f["stats/pool_moves"].dtype)
            rows[0]["t_unix"], rows[0]["rank"], rows[0]["from_pool"], rows[0]["to_pool"] = 1.7e9, 1, 2, 2
            replace_table(f, "stats/pool_moves", rows)
    variant("an engine moved from a pool to itself", self_move, "/stats/pool_moves row 0")

    # Deterministic mode with an iteration cancelled: the counters still add up.
    def det_cancelled(ck):
        with h5py.File(ck, "r+") as f:
            f.attrs["cancelled"] = np.uint64(1)
            f.attrs["next_iteration"] = np.uint64(f.attrs["next_iteration"] + 1)
    variant("deterministic mode with a cancelled iteration", det_cancelled, "cancelled")

    # The kind of a pending job flipped (with the sample a rollout carries).
    def flip_kind(ck):
        with h5py.File(ck, "r+") as f:
            p = f["pending/rows"][...]
            p[0]["kind"] = 3 - p[0]["kind"]
            if p[0]["kind"] == 2:
                p[0]["sample"] = 2**32 - 1
            f["pending/rows"][...] = p
    variant("a flipped pending kind", flip_kind, "terminal")
    return out


def case_files():
    with tempfile.TemporaryDirectory() as tmp:
        good = make_good(tmp)
        r = run([BANYAN, "inspect", good])
        check(r.returncode == 0 and not r.stderr.strip(), f"inspect accepts the good checkpoint: {r.stderr.strip()}")
        # The free-mode twin of the good file is good too (so each variant is refused for its
        # own fault, not for the conversion).
        twin = copy_checkpoint(good, tmp, "twin")
        with h5py.File(twin, "r+") as f:
            to_free_mode(f)
        reseal(twin)
        r = run([BANYAN, "inspect", twin])
        check(r.returncode == 0, f"inspect accepts its free-mode twin: {r.stderr.strip()}")
        # A format-4 file written before engine pools: /stats/engines without its pool
        # field, no /stats/pool_moves. Still read (every engine in the one pool) and resumed.
        old = copy_checkpoint(good, tmp, "before_pools")
        with h5py.File(old, "r+") as f:
            e = f["stats/engines"][...]
            names = [n for n in e.dtype.names if n != "pool"]
            replace_table(f, "stats/engines", np.array([tuple(r[n] for n in names) for r in e],
                                                       dtype=[(n, e.dtype[n]) for n in names]))
            del f["stats/pool_moves"]
        reseal(old)
        r = run([BANYAN, "inspect", old])
        check(r.returncode == 0 and "utilization  pool" not in r.stdout,
              f"inspect reads a file written before pools (status {r.returncode}): {r.stderr.strip()}")
        r = run([BANYAN, "resume", old, "--quiet"] + sets("search.iterations=600"))
        with h5py.File(old, "r") as f:
            pools = sorted(set(int(p) for p in f["stats/engines"]["pool"]))
        check(r.returncode == 0 and pools == [3],
              f"resume continues it and writes the pool field (status {r.returncode}, pools {pools})", r.stderr[-500:])
        files = hostile_files(good, tmp)
        for k, (name, ck, words) in enumerate(files):
            before = sha(ck)
            cmds = [("inspect", [BANYAN, "inspect", ck]), ("resume", [BANYAN, "resume", ck, "--quiet"])]
            if k % 4 == 0:  # export goes through the same validation as inspect
                cmds.append(("export", [BANYAN, "export", ck, "--csv", "-"]))
            for label, cmd in cmds:
                r, secs = timed(cmd)
                lines = stderr_lines(r)
                check(r.returncode == 1 and len(lines) == 1 and words in lines[0] and secs < QUICK,
                      f"{name}: {label} refuses it in one line (status {r.returncode}, {secs:.2f} s): "
                      f"{lines[-1] if lines else ''}", "\n".join(lines[:12]))
            check(sha(ck) == before, f"{name}: file unchanged")
        # Under mpirun: refused by rank 0 before any rank starts work, no MPI_ABORT.
        for name, ck, words in files[-1:]:
            r, secs = timed(mpirun(2, "resume", ck, "--quiet"))
            ours = [x for x in stderr_lines(r) if x.startswith("banyan")]
            check(r.returncode == 1 and len(ours) == 1 and "MPI_ABORT" not in r.stderr and words in ours[0],
                  f"{name}: mpirun -n 2 resume refuses it in one line, no MPI_ABORT (status {r.returncode}, "
                  f"{secs:.2f} s)", r.stderr[-1500:])


# --- reading runs nothing ---------------------------------------------------------------

def case_readers():
    with tempfile.TemporaryDirectory() as tmp:
        marker = os.path.join(tmp, "loaded")
        env_marker = dict(common.ENV, BANYAN_TEST_MARKER=marker)
        ini = os.path.join(tmp, "queens.ini")
        plugin = os.path.join(tmp, "lib", "libmarker.so")
        os.makedirs(os.path.dirname(plugin))
        shutil.copy(MARKER_PLUGIN, plugin)
        with open(ini, "w") as f:
            f.write(f"[search]\niterations = 200\ndeterministic = true\nmax_seconds = 0\n[domain]\nplugin = {plugin}\n"
                    "[domain.queens]\nn = 6\n")
        ck = os.path.join(tmp, "queens.h5")

        def go(cmd, env=env_marker):
            import subprocess
            return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)

        r = go([BANYAN, "run", ini, "--quiet", "--set", f"checkpoint.file={ck}", "--set", "search.iterations=150"])
        check(r.returncode == 0 and os.path.exists(marker),
              f"a run with the marker plug-in (status {r.returncode}); its constructor ran", r.stderr[-800:])
        os.remove(marker)

        # Readers: nothing loaded.
        r = go([BANYAN, "inspect", ck])
        check(r.returncode == 0 and not os.path.exists(marker),
              f"inspect of a plug-in checkpoint loads nothing (status {r.returncode})", r.stderr[-800:])
        check(f"plug-in          {plugin} (not loaded" in r.stdout, "inspect says the plug-in was not loaded")
        csv = os.path.join(tmp, "out.csv")
        r = go([BANYAN, "export", ck, "--csv", csv])
        rows = open(csv).read().splitlines() if os.path.exists(csv) else []
        check(r.returncode == 0 and not os.path.exists(marker) and len(rows) == 151,
              f"export of a plug-in checkpoint loads nothing and writes the 150 rows (status {r.returncode}, "
              f"{len(rows)} lines)", r.stderr[-800:])
        check("states in hex" in r.stderr and "not loaded" in r.stderr, "export says states are in hex, plug-in not loaded")

        # Resume: says what it loads; a changed path is refused before anything is loaded,
        # unless --trust (or the same path given again).
        other = os.path.join(tmp, "elsewhere", "libother.so")
        os.makedirs(os.path.dirname(other))
        shutil.copy(plugin, other)
        r = go([BANYAN, "resume", ck, "--quiet", "--set", f"domain.plugin={other}", "--set", "search.iterations=200"])
        lines = stderr_lines(r)
        check(r.returncode == 2 and len(lines) == 1 and "--trust" in lines[0] and other in lines[0]
              and not os.path.exists(marker),
              f"resume refuses another plug-in path in one line, before loading it (status {r.returncode}): "
              f"{lines[-1] if lines else ''}", r.stderr[-800:])
        r = go([BANYAN, "resume", ck, "--quiet", "--trust", "--set", f"domain.plugin={other}",
                "--set", "search.iterations=200"])
        check(r.returncode == 0 and os.path.exists(marker) and f"loading plug-in {other}" in r.stderr,
              f"resume --trust loads the other path and says so (status {r.returncode})", r.stderr[-800:])
        os.remove(marker)
        r = go([BANYAN, "resume", ck, "--quiet", "--set", f"domain.plugin={other}", "--set", "search.iterations=250"])
        check(r.returncode == 0 and f"loading plug-in {other}" in r.stderr,
              f"after that, resume with the same path given again needs no --trust (status {r.returncode})",
              r.stderr[-800:])
        r = go([BANYAN, "resume", ck, "--quiet", "--set", "search.iterations=300"])
        check(r.returncode == 0 and f"loading plug-in {other}" in r.stderr,
              f"resume without --set loads the run's plug-in and says which (status {r.returncode})", r.stderr[-800:])

        # exec.command: a checkpoint naming a program that would leave a file behind.
        prog_marker = os.path.join(tmp, "ran")
        prog = os.path.join(tmp, "score.sh")
        with open(prog, "w") as f:
            f.write(f"#!/bin/sh\ntouch {prog_marker}\necho 0.5\n")
        os.chmod(prog, 0o755)
        ck2 = os.path.join(tmp, "synth.h5")
        r = run([BANYAN, "run", SYNTH, "--quiet"] + sets("search.iterations=300", f"checkpoint.file={ck2}"))
        check(r.returncode == 0, f"a synthetic checkpoint (status {r.returncode})", r.stderr[-500:])
        with h5py.File(ck2, "r+") as f:
            set_config(f, "[exec]\ncommand = \n", f"[exec]\ncommand = {prog}\n")
        reseal(ck2)
        r = run([BANYAN, "inspect", ck2])
        check(r.returncode == 0 and not os.path.exists(prog_marker) and f"exec.command     {prog} (not run)" in r.stdout,
              f"inspect of a checkpoint naming exec.command runs nothing and says so (status {r.returncode})",
              r.stderr[-500:])
        r = run([BANYAN, "export", ck2, "--csv", os.path.join(tmp, "x.csv")])
        check(r.returncode == 0 and not os.path.exists(prog_marker), f"export runs nothing (status {r.returncode})")
        r = run([BANYAN, "resume", ck2, "--quiet", "--set", "exec.command=/bin/echo 0.5", "--set", "search.iterations=400"])
        lines = stderr_lines(r)
        check(r.returncode == 2 and len(lines) == 1 and "exec.command" in lines[0] and "--trust" in lines[0],
              f"resume refuses another exec.command in one line (status {r.returncode}): {lines[-1] if lines else ''}")
        r = run([BANYAN, "resume", ck2, "--quiet", "--set", "search.iterations=400"])
        check(r.returncode == 0 and os.path.exists(prog_marker) and f"evaluations run {prog}" in r.stderr,
              f"resume runs the run's exec.command and says so first (status {r.returncode})", r.stderr[-500:])


if __name__ == "__main__":
    {"files": case_files, "readers": case_readers}[CASE]()
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)
