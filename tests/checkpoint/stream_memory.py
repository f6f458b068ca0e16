#!/usr/bin/env python3
"""Rank 0's memory does not grow with the results: a zero-cost synthetic search of 22 M
results in one process, checkpointing every 2 s, whose resident memory (VmRSS) is
sampled when 2 M and 20 M results have been applied. Asserts the growth between the two is
under 50 MB and that every row is in /results, once each.

usage: stream_memory.py BANYAN CONFIG_DIR [RESULTS]"""
import os
import re
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

BANYAN, CONFIG_DIR = sys.argv[1], sys.argv[2]
TOTAL = int(sys.argv[3]) if len(sys.argv) > 3 else 22_000_000
LATE = TOTAL * 10 // 11  # 20 M of the default 22 M
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import check, failures, sets  # noqa: E402
common.setup(BANYAN)

PROGRESS = re.compile(r"iter (\d+)/")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


with tempfile.TemporaryDirectory() as tmp:
    ck = os.path.join(tmp, "long.h5")
    cmd = [BANYAN, "run", os.path.join(CONFIG_DIR, "synthetic-bench.ini"),
           *sets(f"search.iterations={TOTAL}", f"checkpoint.file={ck}", "checkpoint.every_seconds=2",
                 "search.progress_seconds=0.2")]
    t0 = time.time()
    p = subprocess.Popen(cmd, env=common.ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    samples = {}
    peak = 0
    buf = ""
    while True:
        chunk = p.stdout.read(256)
        if not chunk:
            break
        buf = (buf + chunk)[-4096:]
        m = PROGRESS.findall(buf)
        if not m:
            continue
        done = int(m[-1])
        try:
            kb = rss_kb(p.pid)
        except OSError:
            break
        peak = max(peak, kb)
        for mark in (2_000_000, LATE):
            if done >= mark and mark not in samples:
                samples[mark] = (done, kb)
    p.wait()
    secs = time.time() - t0
    check(p.returncode == 0, f"{TOTAL} zero-cost results in {secs:.0f} s (status {p.returncode})", buf[-500:])
    check(len(samples) == 2, f"RSS sampled at 2 M and 20 M results: {samples}")
    if len(samples) == 2:
        (d1, a), (d2, b) = samples[2_000_000], samples[LATE]
        check(b - a < 50 * 1024, f"rank-0 RSS {a / 1024:.0f} MB at {d1} results, {b / 1024:.0f} MB at {d2}: "
                                 f"growth {(b - a) / 1024:.1f} MB < 50 MB (peak {peak / 1024:.0f} MB)")
    with h5py.File(ck, "r") as f:
        completed = int(f.attrs["completed"])
        ids = f["results"]["job_id"]
    check(completed == TOTAL and len(ids) == TOTAL, f"/results has all {TOTAL} rows (got {len(ids)})")
    ids.sort()
    check(bool(np.all(ids == np.arange(TOTAL, dtype=ids.dtype))), "every job id 0 .. N-1 exactly once")
sys.exit(1 if failures else 0)
