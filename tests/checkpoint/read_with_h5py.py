#!/usr/bin/env python3
"""Read a banyan checkpoint with h5py, independently of banyan's own reader, and check that
the file is what docs/checkpoint-format.md promises.

usage: read_with_h5py.py CHECKPOINT EXPECTED_RESULTS EXPECTED_BEST_TEXT

Checks: `h5dump -H` accepts the file; the root attributes exist with their types and
format_version == 5; completed == len(/results) == EXPECTED_RESULTS, evaluations + failures
== completed; /results is a virtual dataset over the segment files listed in /segments
(SEGMENT_DIR/results-<seq, 12 digits>.h5 beside the file), which tile rows 0 .. completed - 1
in order, each carrying the run's run_id, its first_row and rows, numbered below
next_segment, and /results read through h5py equals the segments' rows read directly;
/stats/failures counts the failures; /stats/top_states has a row per
/stats/top_evaluations row; /best[0]['text'] == EXPECTED_BEST_TEXT; every /tree/nodes array
has the length of /tree/states, every /tree/edges array the same length; /tree/states is
[nodes x state_size]; the /results state field is uint8[state_size]; /pending/paths is
[pending x path_cap]. Exits 0 when all hold, 1 on the first mismatch (printed), 77 (CTest
SKIP_RETURN_CODE) when h5py is not installed for any Python found.
"""
import os
import shutil
import subprocess
import sys


def reexec_with_h5py():
    """h5py may live in the system Python only (e.g. Debian's python3-h5py under pyenv)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate) and os.path.realpath(candidate) != os.path.realpath(sys.executable):
            probe = subprocess.run([candidate, "-c", "import h5py, numpy"], capture_output=True)
            if probe.returncode == 0:
                os.execv(candidate, [candidate] + sys.argv)
    print("h5py is not installed: skipped", file=sys.stderr)
    sys.exit(77)


try:
    import h5py
    import numpy as np
except ImportError:
    reexec_with_h5py()


class Mismatch(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Mismatch(what)


def text(value):
    """A fixed-length string attribute or field (bytes) or a variable-length one (str)."""
    if isinstance(value, np.ndarray):
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).split(b"\0", 1)[0].decode("utf-8")
    return str(value)


ROOT_ATTRS = {
    "format_version": "u4", "banyan_version": "S", "domain": "S", "created": "f8", "updated": "f8",
    "config": "S", "seed": "u8", "state_size": "u8", "path_cap": "u4", "budget": "u8",
    "next_iteration": "u8", "completed": "u8", "evaluations": "u8", "failures": "u8",
    "cancelled": "u8", "applied_upto": "u8", "deterministic": "u1", "finished": "u1",
    "stop_reason": "u4", "elapsed_seconds": "f8", "checkpoints": "u8", "run_id": "u8",
    "segment_dir": "S", "next_segment": "u8",
}
SEGMENT_ATTRS = ("run_id", "first_row", "rows", "state_size", "checksum")
NODE_ARRAYS = {"visits": "u8", "reward_sum": "f8", "first_edge": "u4", "n_edges": "u4", "depth": "u2",
               "flags": "u1", "samples": "u4"}
EDGE_ARRAYS = {"parent": "u4", "child": "u4", "action": "i4", "n_actions": "u4", "visits": "u8",
               "reward_sum": "f8", "reward_sq": "f8"}


def check_h5dump(path):
    h5dump = shutil.which("h5dump")
    if not h5dump:
        print("h5dump not found (hdf5-tools): header check skipped", file=sys.stderr)
        return
    run = subprocess.run([h5dump, "-H", path], capture_output=True, text=True)
    expect(run.returncode == 0, "h5dump -H failed: " + run.stderr.strip()[:500])
    for name in ("/tree", "/results", "/segments", "/pending", "/stats", "/best", "format_version", "run_id"):
        expect(name.strip("/") in run.stdout, "h5dump -H does not show " + name)


def check_segments(path, f, results):
    """/segments tiles the rows; each file is a segment of this run; /results (virtual) reads as
    the segments' own rows, in order."""
    a = f.attrs
    completed, run_id, next_segment = int(a["completed"]), int(a["run_id"]), int(a["next_segment"])
    segment_dir = text(a["segment_dir"])
    expect(segment_dir and "/" not in segment_dir, "segment_dir %r is not a plain name" % segment_dir)
    table = f["segments"][...]
    for field in ("seq", "first_row", "rows", "checksum", "bytes"):
        expect(field in table.dtype.names, "/segments has no field " + field)
    expect(len(np.unique(table["seq"])) == len(table), "/segments lists a segment twice")
    if len(table):
        expect(results.is_virtual, "/results is not a virtual dataset")
        expect(len(results.virtual_sources()) == len(table), "/results maps %d sources, /segments lists %d"
               % (len(results.virtual_sources()), len(table)))
    row = 0
    base = os.path.join(os.path.dirname(os.path.abspath(path)), segment_dir)
    for g in table:
        seq, first, rows = int(g["seq"]), int(g["first_row"]), int(g["rows"])
        expect(first == row and rows > 0, "segment %d holds rows %d..+%d, the log is at row %d" % (seq, first, rows, row))
        expect(seq < next_segment, "segment %d not below next_segment %d" % (seq, next_segment))
        name = os.path.join(base, "results-%012d.h5" % seq)
        expect(os.path.getsize(name) == int(g["bytes"]), "%s: size differs from /segments" % name)
        with h5py.File(name, "r") as s:
            for attr in SEGMENT_ATTRS:
                expect(attr in s.attrs, "%s: attribute %s is missing" % (name, attr))
            expect(int(s.attrs["run_id"]) == run_id, "%s belongs to another run" % name)
            expect(int(s.attrs["first_row"]) == first and int(s.attrs["rows"]) == rows,
                   "%s: its header disagrees with /segments" % name)
            expect(int(s.attrs["checksum"]) == int(g["checksum"]), "%s: checksum differs from /segments" % name)
            own = s["results"][...]
            expect(own.shape == (rows,), "%s: /results has shape %s" % (name, own.shape))
            expect(own.tobytes() == results[first:first + rows].tobytes(),
                   "/results rows %d..+%d differ from %s" % (first, rows, name))
        row += rows
    expect(row == completed, "the segments hold %d rows but completed = %d" % (row, completed))


def check(path, n_results, best_text):
    check_h5dump(path)
    with h5py.File(path, "r") as f:
        for name, kind in ROOT_ATTRS.items():
            expect(name in f.attrs, "root attribute %s is missing" % name)
            dt = f.attrs.get_id(name).dtype
            if kind == "S":
                expect(dt.kind in ("S", "O"), "root attribute %s is not a string (%s)" % (name, dt))
            else:
                expect(dt == np.dtype("<" + kind) or dt == np.dtype(kind),
                       "root attribute %s is %s, expected %s" % (name, dt, kind))
        a = f.attrs
        expect(int(a["format_version"]) == 5, "format_version is %s" % a["format_version"])
        ss, cap = int(a["state_size"]), int(a["path_cap"])
        expect(int(a["completed"]) == n_results, "completed = %s, expected %d" % (a["completed"], n_results))
        expect(int(a["evaluations"]) + int(a["failures"]) == int(a["completed"]),
               "evaluations + failures != completed")
        text(a["domain"]), text(a["config"]), text(a["banyan_version"])

        results = f["results"]
        expect(results.shape == (n_results,), "/results has shape %s, expected (%d,)" % (results.shape, n_results))
        expect(results.dtype["state"].shape == (ss,), "/results state field is %s, expected (%d,)"
               % (results.dtype["state"].shape, ss))
        for field in ("job_id", "seed", "kind", "status", "attempts", "sample", "engine", "reward", "t_created",
                      "t_sent", "t_started", "t_finished", "t_received"):
            expect(field in results.dtype.names, "/results has no field " + field)
        texts = f["result_failures"]
        for field in ("row", "failure_kind", "failure_detail"):
            expect(field in texts.dtype.names, "/result_failures has no field " + field)
        expect(texts.shape == (int(a["failures"]),), "/result_failures has shape %s, expected (%d,)"
               % (texts.shape, int(a["failures"])))
        check_segments(path, f, results)
        if n_results:
            rows = results[...]
            expect(int((rows["status"] == 2).sum()) == int(a["failures"]), "failed rows != failures")
            expect(np.array_equal(texts["row"][...], np.nonzero(rows["status"] == 2)[0]),
                   "/result_failures rows are not the failed rows of /results")
            expect(all(len(k) > 0 for k in texts["failure_kind"][...]), "a failed row without a failure kind")
            ids = rows["job_id"]
            expect(len(np.unique(ids)) == n_results, "/results job ids are not unique")
            expect(int(ids.max()) < int(a["next_iteration"]), "a /results job id is not below next_iteration")

        failures = f["stats/failures"]
        counted = int(failures["count"].sum()) if failures.shape[0] else 0
        expect(counted == int(a["failures"]), "/stats/failures counts %d, failures = %s" % (counted, a["failures"]))
        n_top = f["stats/top_evaluations"].shape[0]
        expect(f["stats/top_states"].shape == (n_top, ss), "/stats/top_states has shape %s, expected (%d, %d)"
               % (f["stats/top_states"].shape, n_top, ss))

        best = f["best"]
        expect(best.shape[0] >= 1, "/best is empty")
        got = text(best[0]["text"])
        expect(got == best_text, "/best[0] text is %r, expected %r" % (got, best_text))

        states = f["tree/states"]
        expect(states.ndim == 2 and states.shape[1] == ss, "/tree/states has shape %s" % (states.shape,))
        n_nodes = states.shape[0]
        for name, kind in NODE_ARRAYS.items():
            d = f["tree/nodes/" + name]
            expect(d.shape == (n_nodes,), "/tree/nodes/%s has shape %s, expected (%d,)" % (name, d.shape, n_nodes))
            expect(d.dtype == np.dtype("<" + kind) or d.dtype == np.dtype(kind), "/tree/nodes/%s is %s" % (name, d.dtype))
        n_edges = f["tree/edges/parent"].shape[0]
        for name, kind in EDGE_ARRAYS.items():
            d = f["tree/edges/" + name]
            expect(d.shape == (n_edges,), "/tree/edges/%s has shape %s, expected (%d,)" % (name, d.shape, n_edges))
            expect(d.dtype == np.dtype("<" + kind) or d.dtype == np.dtype(kind), "/tree/edges/%s is %s" % (name, d.dtype))
        expect(n_edges == 0 or int(f["tree/edges/n_actions"][...].min()) >= 1, "/tree/edges/n_actions holds a 0")
        expect(int(f["tree"].attrs["backprops"]) <= int(a["completed"]), "/tree backprops > completed")

        pending = f["pending/rows"]
        n_pending = pending.shape[0]
        expect(f["pending/paths"].shape == (n_pending, cap), "/pending/paths has shape %s" % (f["pending/paths"].shape,))
        expect(f["pending/states"].shape == (n_pending, ss), "/pending/states has shape %s" % (f["pending/states"].shape,))
        for name in ("timeline", "engines", "checkpoints", "failures", "top_evaluations"):
            expect(f["stats/" + name].ndim == 1, "/stats/%s is not a table" % name)
    return n_nodes, n_edges


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    path, n_results, best_text = argv[1], int(argv[2]), argv[3]
    try:
        n_nodes, n_edges = check(path, n_results, best_text)
    except (Mismatch, KeyError, OSError) as e:
        print("%s: %s" % (path, e), file=sys.stderr)
        return 1
    print("%s: ok (%d nodes, %d edges, %d results)" % (path, n_nodes, n_edges, n_results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
