#!/usr/bin/env python3
"""The files banyan writes and reads, from the command line (issue 13).

usage: integrity.py BANYAN CONFIG_DIR CASE     (CASE: links, full_disk, flipped)

  links      symbolic (and hard) links planted at FILE.lock, FILE.tmp and a segment's
             temporary: their targets are never written; a planted lock is refused in one line
  full_disk  a 2 MB tmpfs (skipped if mount is not permitted): a resume that fills it stops
             with status 1 and one line naming the cause and the file (no HDF5 stack), the
             previous checkpoint is intact, and resumes once there is space again
  flipped    a flipped byte in FILE: refused as damaged before HDF5 reads it, resume falls back
             to FILE.prev; in a segment: refused as damaged naming the segment (in its seal
             block: resume falls back to FILE.prev too)

Prints ok/FAIL lines and exits non-zero on any failure."""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py

BANYAN, CONFIG_DIR, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
SYNTH = os.path.join(CONFIG_DIR, "synthetic-bench.ini")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import check, failures, mpirun, run, sets, sha  # noqa: E402
common.setup(BANYAN)

QUIET = ("search.progress_seconds=0",)


def new_run(ck, iterations=2000, *extra):
    return run([BANYAN, "run", SYNTH, "--quiet"] + sets(f"search.iterations={iterations}", f"checkpoint.file={ck}",
                                                        *QUIET, *extra))


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))


def case_links():
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "target.txt")
        with open(target, "w") as f:
            f.write("precious\n")
        ck = os.path.join(tmp, "run.h5")
        # FILE.tmp: removed and created afresh, never followed
        os.symlink(target, ck + ".tmp")
        r = new_run(ck)
        check(r.returncode == 0, f"a link at FILE.tmp: the run checkpoints (status {r.returncode})", r.stderr[-400:])
        check(open(target).read() == "precious\n", "a link at FILE.tmp: its target is untouched")
        check(not os.path.lexists(ck + ".tmp"), "a link at FILE.tmp: gone after the checkpoint")
        # a segment's temporary
        os.symlink(target, os.path.join(ck + ".d", "results-000000000500.h5.tmp"))
        # FILE.lock: a symbolic link is refused in one line, nothing written through it
        os.unlink(ck + ".lock")
        os.symlink(target, ck + ".lock")
        before = sha(ck)
        r = run([BANYAN, "resume", ck, "--quiet"] + sets("search.iterations=3000"))
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 2 and len(lines) == 1 and "symbolic link" in r.stderr,
              f"a link at FILE.lock: resume refuses in one line (status {r.returncode}): {lines}")
        check(open(target).read() == "precious\n" and sha(ck) == before, "a link at FILE.lock: nothing written")
        os.unlink(ck + ".lock")
        os.link(target, ck + ".lock")
        r = run([BANYAN, "resume", ck, "--quiet"] + sets("search.iterations=3000"))
        check(r.returncode == 2 and "hard links" in r.stderr,
              f"a hard link at FILE.lock: refused (status {r.returncode})", r.stderr[-300:])
        check(open(target).read() == "precious\n", "a hard link at FILE.lock: its target is untouched")
        os.unlink(ck + ".lock")
        r = run(mpirun(2, "resume", ck, "--quiet", *sets("search.iterations=3000")))
        check(r.returncode == 0, f"resume once the lock is a plain file again (status {r.returncode})", r.stderr[-400:])
        check(open(target).read() == "precious\n", "the segment temporary's link target is untouched")
        r = run([BANYAN, "inspect", ck, "--verify"])
        check(r.returncode == 0, "inspect --verify accepts the result", r.stderr[-300:])


def case_full_disk():
    with tempfile.TemporaryDirectory() as tmp:
        mnt = os.path.join(tmp, "full")
        os.mkdir(mnt)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], capture_output=True, text=True)
        if m.returncode != 0:
            print(f"ok full_disk skipped: cannot mount a tmpfs here ({m.stderr.strip()})")
            return
        try:
            ck = os.path.join(mnt, "run.h5")
            r = new_run(ck, 1000)
            check(r.returncode == 0, f"a first checkpoint on the 2 MB file system (status {r.returncode})",
                  r.stderr[-400:])
            before = sha(ck)
            for free_kb in (40, 700):  # no room for the next segment; then none for the main file
                shutil.rmtree(os.path.join(mnt, "fill"), ignore_errors=True)
                st = os.statvfs(mnt)
                avail = st.f_bavail * st.f_frsize
                with open(os.path.join(mnt, "fill"), "wb") as f:
                    f.write(b"\0" * max(0, avail - free_kb * 1024))
                r = run(mpirun(2, "resume", ck, "--quiet", *sets("search.iterations=200000")))
                cause = [x for x in r.stderr.splitlines() if "no space left on device" in x]
                what = f"full disk, {free_kb} KiB free"
                check(r.returncode == 1, f"{what}: status 1 (got {r.returncode})")
                check(len(cause) == 1 and ".tmp" in cause[0],
                      f"{what}: one line names the cause and the file: {cause}", r.stderr[-600:])
                check("HDF5" not in r.stderr and "#0" not in r.stderr, f"{what}: no HDF5 error stack")
                check(sha(ck) == before, f"{what}: the previous checkpoint is unchanged")
                check(not os.path.exists(ck + ".tmp"), f"{what}: no FILE.tmp left")
                os.unlink(os.path.join(mnt, "fill"))
                r = run([BANYAN, "inspect", ck, "--verify"])
                check(r.returncode == 0, f"{what}: inspect --verify accepts the previous checkpoint", r.stderr[-300:])
            r = run(mpirun(2, "resume", ck, "--quiet", *sets("search.iterations=1500")))
            check(r.returncode == 0, f"with space again, resume completes (status {r.returncode})", r.stderr[:400])
            with h5py.File(ck, "r") as f:
                check(int(f.attrs["completed"]) == 1500, f"1500 results after resuming ({int(f.attrs['completed'])})")
        finally:
            subprocess.run(["umount", mnt])


def case_flipped():
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "run.h5")
        r = new_run(ck, 2000)
        check(r.returncode == 0, f"first session (status {r.returncode})", r.stderr[-300:])
        r = run([BANYAN, "resume", ck, "--quiet"] + sets("search.iterations=4000"))
        check(r.returncode == 0 and os.path.exists(ck + ".prev"), f"second session, FILE.prev kept (status {r.returncode})")
        good = os.path.join(tmp, "good")
        os.mkdir(good)
        for p in (ck, ck + ".prev"):
            shutil.copy(p, good)
        shutil.copytree(ck + ".d", os.path.join(good, "run.h5.d"))

        def restore():
            for p in (ck, ck + ".prev"):
                shutil.copy(os.path.join(good, os.path.basename(p)), p)
            shutil.rmtree(ck + ".d")
            shutil.copytree(os.path.join(good, "run.h5.d"), ck + ".d")

        size = os.path.getsize(ck)
        for where in (600, size // 2, size - 10):
            restore()
            flip(ck, where)
            r = run([BANYAN, "inspect", ck])
            check(r.returncode == 0 and "damaged" in r.stderr and "using the previous one" in r.stderr,
                  f"byte {where} of FILE flipped: inspect says damaged and shows FILE.prev (status {r.returncode})",
                  r.stderr[-300:])
            check("HDF5" not in r.stderr, f"byte {where} of FILE flipped: found before HDF5 read it")
            r = run(mpirun(2, "resume", ck, "--quiet", *sets("search.iterations=5000")))
            check(r.returncode == 0 and "using the previous one" in r.stderr,
                  f"byte {where} of FILE flipped: resume falls back to FILE.prev (status {r.returncode})",
                  r.stderr[-400:])
        # a segment: the newest one (FILE.prev does not name it)
        restore()
        with h5py.File(ck, "r") as f:
            newest = int(f["segments"]["seq"][-1])
        with h5py.File(ck + ".prev", "r") as f:
            in_prev = newest in set(int(x) for x in f["segments"]["seq"])
        seg = os.path.join(ck + ".d", f"results-{newest:012d}.h5")
        flip(seg, os.path.getsize(seg) // 2)
        r = run([BANYAN, "inspect", ck, "--verify"])
        check(r.returncode in (0, 1) and os.path.basename(seg) in r.stderr and "damaged" in r.stderr,
              f"a byte of a segment flipped: named as damaged (status {r.returncode})", r.stderr[-300:])
        check("HDF5" not in r.stderr, "a byte of a segment flipped: found before HDF5 read it")
        restore()
        flip(seg, 40)  # in its seal block: the copy of its header
        r = run(mpirun(2, "resume", ck, "--quiet", *sets("search.iterations=5000")))
        if not in_prev:
            check(r.returncode == 0 and "using the previous one" in r.stderr,
                  f"the seal of the newest segment damaged: resume falls back to FILE.prev (status {r.returncode})",
                  r.stderr[-400:])
        else:
            check(r.returncode == 1 and os.path.basename(seg) in r.stderr,
                  f"the seal of a segment FILE.prev names too: refused naming it (status {r.returncode})")


{"links": case_links, "full_disk": case_full_disk, "flipped": case_flipped}[CASE]()
if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("all ok")
