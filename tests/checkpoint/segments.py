#!/usr/bin/env python3
"""Tests of the streamed results log (format 3): segments that are damaged, missing or from
another run; orphans left by a killed run; readers during a run; kills during compaction;
where the checkpoint writer and the compaction run (threads).

usage: segments.py BANYAN CONFIG_DIR CASE     (CASE: damage, orphans, reader, compaction, threads)

Prints ok/FAIL lines and exits non-zero on any failure. Files are read with h5py."""
import os
import random
import shutil
import signal
import sys
import tempfile
import time

import h5py
import numpy as np

BANYAN, CONFIG_DIR, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
SYNTH = os.path.join(CONFIG_DIR, "synthetic-bench.ini")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import check, failures, mpirun, results_ids, run, sets, sha, start  # noqa: E402
common.setup(BANYAN)

SLOW = ("domain.synthetic.cost=sleep", "domain.synthetic.cost_mean=0.0005", "search.progress_seconds=0")


def segment_files(ck):
    d = ck + ".d"
    return sorted(os.path.join(d, n) for n in os.listdir(d)) if os.path.isdir(d) else []


def snapshot_of_files(ck):
    paths = [ck, ck + ".prev"] + segment_files(ck)
    return {p: sha(p) for p in paths if os.path.exists(p)}


def make_run(tmp, name, iterations=4000, extra=()):
    ck = os.path.join(tmp, name)
    r = run(mpirun(2, "run", SYNTH, "--quiet", *sets(f"search.iterations={iterations}", f"checkpoint.file={ck}",
                                                    "checkpoint.every_seconds=0.05", "checkpoint.max_time_share=0",
                                                    *SLOW, *extra)))
    check(r.returncode == 0, f"a run of {iterations} iterations writing {name} (status {r.returncode})", r.stderr[-500:])
    return ck


def segment_table(ck):
    with h5py.File(ck, "r") as f:
        return f["segments"][...]


def seg_path(ck, seq):
    return os.path.join(ck + ".d", f"results-{int(seq):012d}.h5")


def refused(cmd, what, name_in_message):
    r = run(cmd, timeout=120)
    msg = r.stderr.strip().splitlines()
    check(r.returncode == 1, f"{what}: refused with status 1 (got {r.returncode})", r.stderr[-400:])
    check(bool(msg) and name_in_message in r.stderr and "AddressSanitizer" not in r.stderr,
          f"{what}: the message names {os.path.basename(name_in_message)}: {msg[-1] if msg else ''}")
    return r


def case_damage():
    """A missing segment, one from another run, one with a flipped data byte and one with a
    changed header: each gives a clear error naming the file; resume falls back to FILE.prev
    where that one is whole; nothing is modified."""
    with tempfile.TemporaryDirectory() as tmp:
        good = make_run(tmp, "good.h5")
        other = make_run(tmp, "other.h5")
        segs = segment_table(good)
        check(len(segs) >= 2, f"the run left several segments ({len(segs)})")
        last = seg_path(good, segs["seq"][-1])
        first = seg_path(good, segs["seq"][0])
        with h5py.File(good + ".prev", "r") as f:
            prev_seqs = set(int(x) for x in f["segments"]["seq"])

        def variant(name):
            d = os.path.join(tmp, name)
            os.mkdir(d)
            for p in [good, good + ".prev"]:
                shutil.copy(p, d)
            shutil.copytree(good + ".d", os.path.join(d, "good.h5.d"))
            return os.path.join(d, "good.h5")

        def moved(ck, path):
            return os.path.join(os.path.dirname(ck), "good.h5.d", os.path.basename(path))

        # 1. missing: the newest segment (NAME.prev does not need it unless it is shared)
        ck = variant("missing")
        os.unlink(moved(ck, last))
        before = snapshot_of_files(ck)
        r = run([BANYAN, "inspect", ck])
        check(os.path.basename(last) in r.stderr and "No such file" in r.stderr,
              "missing segment: inspect names the missing file", r.stderr[-300:])
        if int(segs["seq"][-1]) not in prev_seqs:
            check(r.returncode == 0 and "using the previous one" in r.stderr,
                  f"missing segment: inspect shows FILE.prev instead (status {r.returncode})")
            r = run(mpirun(2, "resume", ck, "--quiet", *sets("search.iterations=5000")))
            check(r.returncode == 0 and "using the previous one" in r.stderr,
                  f"missing segment: resume falls back to FILE.prev (status {r.returncode})", r.stderr[-400:])
        else:
            check(snapshot_of_files(ck) == before, "missing segment: nothing modified")
        ck = variant("missing-inspect-only")
        os.unlink(moved(ck, last))
        before = snapshot_of_files(ck)
        run([BANYAN, "inspect", ck])
        run([BANYAN, "export", ck, "--csv", os.path.join(tmp, "x.csv")])
        check(snapshot_of_files(ck) == before, "missing segment: inspect and export modify nothing")

        # 2. a segment of another run under the same name. When NAME.prev refers to it too, both
        # files are unusable and everything refuses; when only NAME does (compaction merged it
        # after NAME.prev was written), NAME.prev is used instead, as for a missing segment.
        shared = [int(s) for s in segs["seq"] if int(s) in prev_seqs]
        target = seg_path(good, shared[0]) if shared else first
        ck = variant("foreign")
        oseg = seg_path(other, segment_table(other)["seq"][0])
        shutil.copy(oseg, moved(ck, target))
        before = snapshot_of_files(ck)
        if shared:
            r = refused([BANYAN, "inspect", ck], "segment from another run: inspect", os.path.basename(target))
            check("another run" in r.stderr, "segment from another run: the message says so")
            refused([BANYAN, "resume", ck, "--quiet"], "segment from another run: resume", os.path.basename(target))
        else:
            r = run([BANYAN, "inspect", ck])
            check(r.returncode == 0 and "another run" in r.stderr and "using the previous one" in r.stderr,
                  f"segment from another run (NAME only): inspect names it and shows FILE.prev (status {r.returncode})",
                  r.stderr[-400:])
        check(snapshot_of_files(ck) == before, "segment from another run: nothing modified")

        # 3. a flipped byte in the rows (found by the checksum when rows are read)
        ck = variant("flipped")
        p = moved(ck, first)
        with h5py.File(p, "r") as f:
            offset = f["results"].id.get_offset() if f["results"].chunks is None else \
                f["results"].id.get_chunk_info(0).byte_offset
        with open(p, "r+b") as f:
            f.seek(offset + 17)
            b = f.read(1)
            f.seek(offset + 17)
            f.write(bytes([b[0] ^ 0x40]))
        before = snapshot_of_files(ck)
        r = run([BANYAN, "inspect", ck])
        check(r.returncode == 0 or (r.returncode == 1 and os.path.basename(first) in r.stderr),
              "flipped row byte: plain inspect reads the headers only (status 0), or checks every row as resume "
              "does and names the segment")
        r = refused([BANYAN, "inspect", ck, "--verify"], "flipped row byte: inspect --verify", os.path.basename(first))
        check("damaged" in r.stderr, "flipped row byte: the message calls the segment damaged (checksum or unreadable "
                                     "compressed chunk)")
        refused([BANYAN, "export", ck, "--csv", os.path.join(tmp, "y.csv")], "flipped row byte: export",
                os.path.basename(first))
        check(snapshot_of_files(ck) == before, "flipped row byte: nothing modified")

        # 4. a header that disagrees with the segment table
        ck = variant("header")
        with h5py.File(moved(ck, first), "r+") as f:
            f.attrs.modify("first_row", np.uint64(7))
        before = snapshot_of_files(ck)
        r = refused([BANYAN, "inspect", ck, "--verify"], "segment header changed: inspect --verify",
                    os.path.basename(first))
        check("damaged" in r.stderr, "segment header changed: the seal finds it")
        common.reseal(moved(ck, first))
        r = refused([BANYAN, "inspect", ck, "--verify"], "segment header changed, resealed: inspect --verify",
                    os.path.basename(first))
        check("holds rows 7..+" in r.stderr, "segment header changed, resealed: the header check finds it")
        before = snapshot_of_files(ck)
        run([BANYAN, "inspect", ck])
        check(snapshot_of_files(ck) == before, "segment header changed: nothing modified")

        # 5. /results replaced by a plain dataset (h5py readers would see other rows)
        ck = variant("plain")
        os.unlink(ck + ".prev")
        with h5py.File(ck, "r+") as f:
            rows = f["results"][...]
            del f["results"]
            f.create_dataset("results", data=rows[:-1])
        common.reseal(ck)
        r = run([BANYAN, "inspect", ck])
        check(r.returncode == 1 and "virtual" in r.stderr, "/results not the virtual view: inspect refuses it",
              r.stderr[-300:])

        # 6. a format 2 file: a clear refusal
        ck = variant("v2")
        os.unlink(ck + ".prev")
        with h5py.File(ck, "r+") as f:
            f.attrs.modify("format_version", np.uint32(2))
        common.reseal(ck)
        r = run([BANYAN, "inspect", ck])
        check(r.returncode == 1 and "version 2" in r.stderr, f"format 2: refused, naming the version: "
              f"{r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}")


def case_orphans():
    """Segment files that no checkpoint names (left by a killed run) are removed by resume,
    which then succeeds; the segments the checkpoint names are kept."""
    with tempfile.TemporaryDirectory() as tmp:
        ck = make_run(tmp, "run.h5", iterations=3000)
        with h5py.File(ck, "r") as f:
            nxt = int(f.attrs["next_segment"])
        d = ck + ".d"
        # Far past what the resumed run numbers its own segments (it starts at next_segment).
        orphan = os.path.join(d, f"results-{nxt + 100000:012d}.h5")
        shutil.copy(segment_files(ck)[0], orphan)
        tmpfile = os.path.join(d, f"results-{nxt:012d}.h5.tmp")
        open(tmpfile, "wb").write(b"half a segment")
        r = run(mpirun(2, "resume", ck, "--quiet", *sets("search.iterations=4000")))
        check(r.returncode == 0, f"resume with orphans beside the segments (status {r.returncode})", r.stderr[-400:])
        check(not os.path.exists(orphan) and not os.path.exists(tmpfile), "the orphan segment and temporary are removed")
        ids = results_ids(ck)
        check(len(ids) == 4000 and len(set(ids)) == 4000, f"4000 distinct results after resume (got {len(ids)})")
        r = run([BANYAN, "inspect", ck, "--verify"])
        check(r.returncode == 0, "inspect --verify accepts the resumed checkpoint", r.stderr[-300:])
        with h5py.File(ck, "r") as f:
            named = set(int(x) for x in f["segments"]["seq"])
        with h5py.File(ck + ".prev", "r") as f:
            named |= set(int(x) for x in f["segments"]["seq"])
        on_disk = set(int(os.path.basename(p)[8:20]) for p in segment_files(ck))
        check(named <= on_disk, "every segment NAME and NAME.prev name is on disk")
        check(not (on_disk - named), f"no unnamed segment is left at the end ({sorted(on_disk - named)})")


def case_reader():
    """h5py reads /results over and over while a run writes checkpoints every 0.05 s (with
    compaction): every read is whole and consistent (row count never shrinks, ids distinct,
    rows as the checkpoint's counter says), and the run is not disturbed."""
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "live.h5")
        budget = 40000
        p = start(mpirun(2, "run", SYNTH, "--quiet", *sets(f"search.iterations={budget}", f"checkpoint.file={ck}",
                                                          "checkpoint.every_seconds=0.05",
                                                          "checkpoint.max_time_share=0", *SLOW)))
        reads, last, bad = 0, 0, []
        inspects = 0
        while p.poll() is None:
            if not os.path.exists(ck):
                time.sleep(0.02)
                continue
            try:
                with h5py.File(ck, "r") as f:
                    completed = int(f.attrs["completed"])
                    ids = f["results"]["job_id"]
            except OSError as e:  # the file is replaced by rename: a reader never sees half of it
                bad.append(f"open: {e}")
                continue
            reads += 1
            if len(ids) != completed or len(ids) < last or len(set(ids.tolist())) != len(ids):
                bad.append(f"read {reads}: {len(ids)} rows, completed {completed}, previous {last}, "
                           f"{len(set(ids.tolist()))} distinct")
            last = len(ids)
            if reads % 10 == 0:
                r = run([BANYAN, "inspect", ck])
                inspects += 1
                if r.returncode != 0:
                    bad.append("inspect: " + r.stderr.strip()[-200:])
        out, err = p.communicate()
        check(p.returncode == 0, f"the run finished undisturbed (status {p.returncode})", err[-400:])
        check(reads >= 20, f"{reads} reads and {inspects} inspects during the run")
        check(not bad, f"every read consistent ({len(bad)} bad)", "; ".join(bad[:5]))
        ids = results_ids(ck)
        check(len(ids) == budget and len(set(ids)) == budget, f"{budget} distinct results at the end")


def case_compaction():
    """Many small segments get merged while the run goes on; the run killed with SIGKILL at
    12 instants (some while a segment is being merged) always resumes, loses nothing and
    has no id twice; inspect --verify accepts every checkpoint."""
    rng = random.Random(20261203)
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "run.h5")
        budget = 40000
        common_sets = ("checkpoint.every_seconds=0.02", "checkpoint.max_time_share=0", *SLOW)
        cmd = mpirun(2, "run", SYNTH, "--quiet", *sets(f"search.iterations={budget}", f"checkpoint.file={ck}",
                                                      *common_sets))
        seen, kills, merged_seen, in_write = set(), 0, 0, 0
        while kills < 12:
            p = start(cmd)
            time.sleep(rng.uniform(0.4, 1.2))
            if p.poll() is not None:
                break
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            kills += 1
            if os.path.isdir(ck + ".d") and any(n.endswith(".tmp") for n in os.listdir(ck + ".d")):
                in_write += 1
            if not os.path.exists(ck):
                continue
            r = run([BANYAN, "inspect", ck, "--verify"])
            if not check(r.returncode == 0, f"kill {kills}: inspect --verify accepts the checkpoint", r.stderr[-300:]):
                break
            with h5py.File(ck, "r") as f:
                ids = [int(x) for x in f["results"]["job_id"]]
                # a merged segment is numbered after the segments that follow it in row order
                merged_seen += int(np.count_nonzero(np.diff(f["segments"]["seq"].astype(np.int64)) < 0) > 0)
            if not check(len(ids) == len(set(ids)) and seen <= set(ids), f"kill {kills}: no id twice, none lost"):
                break
            seen |= set(ids)
            cmd = mpirun(2, "resume", ck, "--quiet", *sets(*common_sets))
        check(kills >= 8, f"{kills} kills ({in_write} while a segment was being written or merged)")
        r = run(mpirun(2, "resume", ck, "--quiet"))
        check(r.returncode == 0, f"final resume (status {r.returncode})", r.stderr[-300:])
        ids = results_ids(ck)
        check(len(ids) == budget and len(set(ids)) == budget and seen <= set(ids),
              f"{budget} distinct results at the end, every one ever checkpointed among them")
        with h5py.File(ck, "r") as f:
            n_seg, n_ckpt = len(f["segments"]), len(f["stats/checkpoints"])
        check(merged_seen > 0 or n_seg * 4 < n_ckpt,
              f"compaction merged segments: {n_seg} segments left after {n_ckpt} checkpoints "
              f"({merged_seen} of the killed sessions' checkpoints showed a merged segment)")


def thread_facts(pid):
    """{name: (cpus, policy, nice)} of the threads of process pid (from /proc); the first
    thread is "main"."""
    facts = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        base = f"/proc/{pid}/task/{tid}"
        try:
            name = open(base + "/comm").read().strip()
            stat = open(base + "/stat").read()
            status = open(base + "/status").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # from field 3 (state) on
        cpus = next(line.split(":")[1].strip() for line in status.splitlines() if line.startswith("Cpus_allowed_list"))
        key = "main" if tid == str(pid) else name if name not in facts else f"{name}/{tid}"
        facts[key] = (cpus, int(fields[38]), int(fields[16]))  # policy: field 41, nice: field 19
    return facts


def cpu_set(text):
    """'0-2,5' -> {0, 1, 2, 5}"""
    out = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out |= set(range(int(lo), int(hi or lo) + 1))
    return out


def cpu_list(cpus):
    return ",".join(str(c) for c in sorted(cpus))


def watch_threads(p, ranks, settled):
    """Poll the banyan processes of p's session until there are `ranks` of them, one has the
    background threads and settled(facts by pid) holds (or 60 s pass): their thread facts."""
    deadline, seen = time.time() + 60, {}
    while p.poll() is None and time.time() < deadline:
        seen = {}
        for pid in (int(d) for d in os.listdir("/proc") if d.isdigit()):
            try:
                if os.getsid(pid) == p.pid and open(f"/proc/{pid}/comm").read().strip() == "banyan":
                    seen[pid] = thread_facts(pid)
            except OSError:
                continue
        if len(seen) == ranks and any("banyan-writer" in f and "banyan-compact" in f for f in seen.values()) \
                and settled(seen):
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    return seen, err


def case_threads():
    """Where rank 0's background threads run. With mpirun binding each rank to a core, the
    checkpoint writer (named, nice 10) and the compaction (SCHED_IDLE) run on the cores of
    the other ranks on the node, and the search stays on its own. A single process bound with
    taskset keeps them on its CPU: they never go to a CPU the launcher gave nobody."""
    with tempfile.TemporaryDirectory() as tmp:
        def run_args(ck):
            return ["run", SYNTH, "--quiet", *sets("search.iterations=100000000", f"checkpoint.file={ck}",
                                                   "checkpoint.every_seconds=0.2")]

        ck = os.path.join(tmp, "bound.h5")

        def expected(facts):
            rank0 = next(f for f in facts.values() if "banyan-writer" in f)
            own = cpu_set(rank0["main"][0])
            union = set().union(*(cpu_set(f["main"][0]) for f in facts.values()))
            return own, (union - own) or own

        def settled(facts):
            rank0 = next(f for f in facts.values() if "banyan-writer" in f)
            _, want = expected(facts)
            return all(cpu_set(rank0[t][0]) == want for t in ("banyan-writer", "banyan-compact"))

        p = start(["mpirun", "-n", "2", "--bind-to", "core", "--oversubscribe", BANYAN, *run_args(ck)])
        facts, err = watch_threads(p, 2, settled)
        if not check(len(facts) == 2, f"two ranks seen ({len(facts)})", err[-300:]):
            return
        rank0 = next((f for f in facts.values() if "banyan-writer" in f), None)
        if not check(rank0 is not None, "rank 0 has a thread named banyan-writer", str(facts)):
            return
        own, want = expected(facts)
        writer, compact = rank0["banyan-writer"], rank0.get("banyan-compact")
        check(cpu_set(rank0["main"][0]) == own, f"mpirun: the search thread stays on CPUs {cpu_list(own)}")
        check(cpu_set(writer[0]) == want and writer[1] == 0 and writer[2] == 10,
              f"mpirun: the checkpoint writer runs on the other rank's CPUs {cpu_list(want)} at nice 10: {writer}",
              str(facts))
        check(compact is not None and cpu_set(compact[0]) == want and (compact[1] == 5 or compact[2] == 19),
              f"mpirun: the compaction runs on CPUs {cpu_list(want)} on idle cycles only (SCHED_IDLE): {compact}",
              str(facts))
        stopped = os.path.exists(ck) and len(results_ids(ck)) > 0
        check(stopped, "mpirun: SIGTERM stops the run with a checkpoint to resume from", err[-300:])

        home = sorted(os.sched_getaffinity(0))[0]
        ck1 = os.path.join(tmp, "one.h5")
        p = start(["taskset", "-c", str(home), BANYAN, *run_args(ck1)])
        facts, err = watch_threads(p, 1, lambda f: True)
        one = next(iter(facts.values()), {})
        check(all(one.get(t, ("?",))[0] == str(home) for t in ("main", "banyan-writer", "banyan-compact")),
              f"one process bound to CPU {home}: the search, the writer and the compaction all stay there",
              str(facts))
        check(p.returncode == 3, f"one process: SIGTERM stops it (status {p.returncode})", err[-300:])


globals()["case_" + CASE]()
sys.exit(1 if failures else 0)
