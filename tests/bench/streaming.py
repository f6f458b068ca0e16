#!/usr/bin/env python3
"""Benchmark of the streamed results log (issue 10). Not part of the test suite: it prints
figures, each as a ratio against a baseline measured in the same invocation.

usage: tests/bench/streaming.py [--banyan build/banyan] [--quick] [--csv out.csv] [--pairs N]
                               [--only run|segment|throughput]

  ckpt cost    one zero-cost synthetic run (1 process) of 100 M results (--quick: 10 M)
               checkpointing every 2 s: the write time of the checkpoints around 50 M
               results against those around 1 M (median of 5 each; baseline: 1 M): all a
               checkpoint wrote since the one before (the segments written early when the
               buffer was half full, its own segment, the main file), the write that ends
               it (its own segment and the main file), the main-file part alone, and the
               cost per row written
  rss          rank 0's resident memory at 100 M results against 10 M (the same run)
  disk         bytes per result row on disk in the same run: new (uncompressed) segments
               (baseline), merged ones (shuffle + deflate level 1, the default
               checkpoint.compression) and all; and the cost of writing a segment per row
               both ways (build/tests/bench_checkpoint_io)
  throughput   2 ranks, zero-cost jobs: evaluations/s with a checkpoint every second
               against none (baseline), alternating, median of --pairs (7) each; the range
               of the ratio within a pair is in the label
Nothing is set in the environment but what mpirun needs to run as root here."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from ratio_table import RatioTable  # noqa: E402

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
SYNTH = os.path.join(TOP, "configs", "synthetic-bench.ini")
PROGRESS = re.compile(r"iter (\d+)/")


def sets(*kv):
    return sum([["--set", x] for x in kv], [])


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def long_run(banyan, total, tmp):
    """One process, zero-cost jobs, a checkpoint every 2 s: RSS at 10% and 100% of the run,
    and the checkpoint history."""
    ck = os.path.join(tmp, "long.h5")
    cmd = [banyan, "run", SYNTH, *sets(f"search.iterations={total}", f"checkpoint.file={ck}",
                                       "checkpoint.every_seconds=2", "search.progress_seconds=0.5")]
    p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    marks, buf, last = {}, "", (0, 0)
    while True:
        chunk = p.stdout.read(256)
        if not chunk:
            break
        buf = (buf + chunk)[-4096:]
        m = PROGRESS.findall(buf)
        if m:
            try:
                last = (int(m[-1]), rss_kb(p.pid))
            except (OSError, StopIteration):
                break
            if last[0] >= total // 10 and "early" not in marks:
                marks["early"] = last
    p.wait()
    marks["late"] = last
    with h5py.File(ck, "r") as f:
        hist = f["stats/checkpoints"][...]
        seg_bytes = int(f["segments"]["bytes"].sum())
    return marks, hist, seg_bytes, disk_split(ck)


def cost_near(hist, rows):
    """Medians over the 5 checkpoints nearest `rows` results (their figures are recorded by
    the next checkpoint, so the last one is left out): the whole write, its main-file part
    (graph, stats and the view of every segment: what could grow with the run) and its
    segment part per row (how many rows a checkpoint's own segment holds depends on when
    the buffer last flushed early, not on the run's length)."""
    h = hist[:-1]
    idx = sorted(range(len(h)), key=lambda i: abs(int(h[i]["iterations"]) - rows))[:5]
    med = lambda f: statistics.median(f(h[i]) for i in idx)  # noqa: E731
    return {"at": int(h[idx[0]]["iterations"]),
            "whole": med(lambda r: float(r["write_seconds"])),
            "interval": med(lambda r: float(r["write_seconds"]) + float(r["flush_seconds"])),
            "main": med(lambda r: float(r["write_seconds"]) - float(r["segment_seconds"])),
            "per_row": med(lambda r: (float(r["segment_seconds"]) + float(r["flush_seconds"]))
                           / max(int(r["segment_rows"]) + int(r["flushed_rows"]), 1) * 1e6)}


def disk_split(ck):
    """Bytes per row of the uncompressed and of the merged (compressed) segments of ck."""
    sums = {False: [0, 0], True: [0, 0]}
    with h5py.File(ck, "r") as f:
        for seg in f["segments"][...]:
            path = os.path.join(ck + ".d", f"results-{int(seg['seq']):012d}.h5")
            with h5py.File(path, "r") as g:
                packed = g["results"].compression is not None
            sums[packed][0] += int(seg["bytes"])
            sums[packed][1] += int(seg["rows"])
    return [b / r if r else float("nan") for b, r in (sums[False], sums[True])]


def segment_cost(banyan):
    """µs per row of writing a segment, uncompressed and shuffle + deflate 1."""
    tool = os.path.join(os.path.dirname(banyan), "tests", "bench_checkpoint_io")
    out = subprocess.run([tool, "--nodes", "1000000", "--repeat", "3"], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"segment, per row\s+([\d.]+) us uncompressed .*?, ([\d.]+) us shuffle", out)
    return float(m.group(1)), float(m.group(2))


def throughput(banyan, ckpt, n, tmp):
    summary = os.path.join(tmp, "s.json")
    extra = ("checkpoint.every_seconds=1", f"checkpoint.file={os.path.join(tmp, 't.h5')}") if ckpt else \
        ("checkpoint.enabled=false",)
    for p in ("t.h5", "t.h5.prev"):
        if os.path.exists(os.path.join(tmp, p)):
            os.unlink(os.path.join(tmp, p))
    shutil.rmtree(os.path.join(tmp, "t.h5.d"), ignore_errors=True)
    subprocess.run(["mpirun", "-n", "2", "--oversubscribe", banyan, "run", SYNTH, "--quiet", "--summary", summary,
                    *sets(f"search.iterations={n}", *extra)], env=ENV, check=True, stdout=subprocess.DEVNULL, cwd=tmp)
    return json.load(open(summary))["evaluations_per_second"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--banyan", default=os.path.join(TOP, "build", "banyan"))
    ap.add_argument("--quick", action="store_true", help="10 M results instead of 100 M")
    ap.add_argument("--csv", help="also write the rows as CSV")
    ap.add_argument("--pairs", type=int, default=7,
                    help="throughput: runs of each kind, alternating (default 7; this VM's noise is about 10%%)")
    ap.add_argument("--only", choices=("run", "segment", "throughput"),
                    help="one part: the long run (ckpt cost, rss, disk), segment write cost, or throughput")
    a = ap.parse_args()
    want = lambda part: a.only in (None, part)  # noqa: E731
    table = RatioTable(11, 52, lambda v: f"{v:14,.4f}")
    row = table.row
    total = 10_000_000 if a.quick else 100_000_000
    with tempfile.TemporaryDirectory() as tmp:
        if want("run"):
            long_part(a, row, total, tmp)
    if want("segment"):
        w0, w1 = segment_cost(a.banyan)
        row("disk", "writing a segment, uncompressed, per row (baseline)", w0, "us", w0)
        row("disk", "writing a segment, shuffle + deflate 1, per row", w1, "us", w0)
    if want("throughput"):
        throughput_part(a, row)
    if a.csv:
        table.write_csv(a.csv)


def long_part(a, row, total, tmp):
    marks, hist, seg_bytes, (b0, b1) = long_run(a.banyan, total, tmp)
    c1, c50 = cost_near(hist, 1_000_000), cost_near(hist, total // 2)
    for key, what, unit in (("interval", "checkpoint cost: all it wrote since the one before", "s"),
                            ("whole", "checkpoint write: its own segment and main file", "s"),
                            ("main", "checkpoint write, main file part", "s"),
                            ("per_row", "checkpoint cost per row written", "us")):
        row("ckpt cost", f"{what}, at {c1['at']:,} results (baseline)", c1[key], unit, c1[key])
        row("ckpt cost", f"{what}, at {c50['at']:,} results", c50[key], unit, c1[key])
    (d0, r0), (d1, r1) = marks["early"], marks["late"]
    row("rss", f"rank 0 at {d0:,} results (baseline)", r0 / 1024, "MB", r0 / 1024)
    row("rss", f"rank 0 at {d1:,} results ({(r1 - r0) / 1024:+.1f} MB)", r1 / 1024, "MB", r0 / 1024)
    row("disk", "new segments, uncompressed, bytes per row (baseline)", b0, "B/row", b0)
    row("disk", "merged segments, shuffle + deflate 1, bytes per row", b1, "B/row", b0)
    row("disk", f"all segments of the {total // 10**6} M-result run, bytes per row", seg_bytes / max(d1, 1),
        "B/row", b0)


def throughput_part(a, row):
    with tempfile.TemporaryDirectory() as tmp:
        n = 1_000_000 if a.quick else 5_000_000
        none, every = [], []
        for _ in range(a.pairs):
            none.append(throughput(a.banyan, False, n, tmp))
            every.append(throughput(a.banyan, True, n, tmp))
        base = statistics.median(none)
        pair = sorted(e / b for e, b in zip(every, none))
        row("throughput", "2 ranks, zero-cost, no checkpoints (baseline)", base, "eval/s", base)
        row("throughput", f"2 ranks, zero-cost, a checkpoint every second (pairs {pair[0]:.2f}-{pair[-1]:.2f})",
            statistics.median(every), "eval/s", base)


if __name__ == "__main__":
    main()
