"""The checkpoint reader: `banyan.open(FILE)` gives a Run, one consistent view of a run's
last checkpoint (the main file is opened once; /results, a virtual dataset over the run's
segment files, holds the rows up to that checkpoint), also while the run writes the file.

Tables come as pandas DataFrames where pandas is installed, numpy record arrays otherwise.
The results table may hold 10^8 rows: `run.results` reads it whole only up to MAX_ROWS
rows (CheckpointError beyond, naming the alternatives); `run.results_chunks()` streams it
and `run.results_sample(n)` reads a bounded sample.

The file is untrusted data. Before HDF5 parses a byte of a file banyan sealed (an XXH3-64
checksum of the whole file in its first 512 bytes, an HDF5 user block: docs/checkpoint-format.md
"The seal"), the seal is checked: the main file whole, and each segment's block, size and
header against /segments, and its body before /results is read. A file without a seal (an
older banyan, another tool) is read as it is, with `run.sealed` False, unless
`require_seal=True`. This module opens the file read-only without HDF5 file locks, with
HDF5's dynamic filter plug-ins switched off when it is the first to load h5py (a banyan
checkpoint needs only the built-in shuffle and deflate filters), follows only hard links,
accepts /results only as the virtual view over SEGMENT_DIR/results-<12 digits>.h5 files of
/segments, checks every shape, size and index against bounds before reading or using it,
and never evaluates, unpickles, loads or runs anything the file holds or names (a plug-in
in domain.plugin, exec.command: they are text here).
"""
import math
import os
import re
import stat
import struct
import sys
import warnings

import numpy as np


def _prepare_hdf5():
    """Environment HDF5 reads when h5py loads it: no file locking (a reader never blocks the
    writer, docs/checkpoint-format.md) and no dynamic filter plug-ins ("::" switches them
    off), unless h5py was loaded before us."""
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
    if "h5py" not in sys.modules:
        os.environ["HDF5_PLUGIN_PRELOAD"] = "::"


_prepare_hdf5()
import h5py  # noqa: E402  (after the environment above)

try:  # pandas is optional
    import pandas as _pd
except ImportError:  # pragma: no cover - depends on the machine
    _pd = None

MAX_ROWS = 5_000_000          # rows `run.results` reads at once (use results_chunks beyond)
MAX_SMALL_ROWS = 1_000_000    # rows of a statistics table read whole (timeline: decimated beyond)
MAX_STATE_SIZE = 1 << 20      # bytes per state (the C reader's bound)
MAX_TEXT = 64 << 20           # bytes of the config attribute
MAX_ATTR = 1 << 16            # bytes of any other attribute
MAX_GRAPH = 1 << 32           # nodes or edges (ids are 32-bit)
CHUNK_ROWS = 1 << 20          # rows per read when streaming

STOP_REASONS = {0: "running", 1: "iteration budget reached", 2: "time limit reached",
                3: "search space exhausted", 4: "search graph full", 5: "stopped by a signal",
                6: "stopped by an error"}
KINDS = {1: "reward", 2: "simulate"}
NODE_TERMINAL = 1


class CheckpointError(Exception):
    """The file is not a banyan checkpoint this reader accepts (message says why)."""


def _text(value, limit=MAX_ATTR):
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise CheckpointError("a string attribute holds %d values" % value.size)
        value = value.reshape(())[()]
    if isinstance(value, (bytes, np.bytes_)):
        value = bytes(value).split(b"\0", 1)[0][:limit].decode("utf-8", "replace")
    return str(value)[:limit]


def parse_ini(text):
    """The saved configuration's INI text as {'section.key': 'value'} (values as written;
    nothing is interpreted, interpolated or run)."""
    out, section = {}, ""
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in ";#":
            continue
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1].strip()
            continue
        key, sep, value = s.partition("=")
        if sep:
            out[(section + "." if section else "") + key.strip()] = value.strip()
    return out


SEAL_BYTES = 512
SEAL_MAGIC = b"BANYAN-SEAL\0"
SEAL_MAIN, SEAL_SEGMENT = 1, 2
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _xxh3():
    try:
        import xxhash
    except ImportError:
        raise CheckpointError("checking a sealed file needs python3-xxhash (Debian: apt-get install "
                              "python3-xxhash)") from None
    return xxhash


def read_seal(fd, size, kind, name):
    """The seal block of the file open on fd (size bytes): a dict, or None when the file
    has none (it starts with HDF5's signature). CheckpointError when it is damaged, of
    another kind, or the file's size differs from the one sealed."""
    block = os.pread(fd, SEAL_BYTES, 0) if size >= SEAL_BYTES else b""
    if block[:12] != SEAL_MAGIC:
        head = block[:8] if block else os.pread(fd, 8, 0)
        if head == HDF5_SIGNATURE:
            return None
        raise CheckpointError("%s: not a banyan checkpoint file (no seal, not HDF5)" % name)
    if struct.unpack_from("<Q", block, 504)[0] != _xxh3().xxh3_64_intdigest(block[:504]):
        raise CheckpointError("%s: damaged: its seal (the checksum block at its start) is damaged" % name)
    version, k, bsize, fsize, body = struct.unpack_from("<IIIQQ", block, 12)
    run_id, first_row, rows, state_size, rows_sum = struct.unpack_from("<QQQQQ", block, 40)
    if version != 1 or bsize != SEAL_BYTES:
        raise CheckpointError("%s: seal version %d: this reader reads version 1" % (name, version))
    if fsize != size:
        raise CheckpointError("%s: %s: %d bytes, but %d were written"
                              % (name, "truncated" if size < fsize else "damaged", size, fsize))
    if k != kind:
        raise CheckpointError("%s: %s" % (name, "a results segment, not a checkpoint's main file"
                                          if k == SEAL_SEGMENT else "not a results segment"
                                          if k == SEAL_MAIN else "a sealed file of an unknown kind"))
    return {"file_size": fsize, "body_hash": body, "run_id": run_id, "first_row": first_row, "rows": rows,
            "state_size": state_size, "rows_checksum": rows_sum}


def check_body(fd, seal, name):
    """Hash bytes 512 .. end of the file on fd and compare with its seal."""
    h = _xxh3().xxh3_64()
    pos, end = SEAL_BYTES, seal["file_size"]
    while pos < end:
        chunk = os.pread(fd, min(8 << 20, end - pos), pos)
        if not chunk:
            raise CheckpointError("%s: truncated while it was read" % name)
        h.update(chunk)
        pos += len(chunk)
    if h.intdigest() != seal["body_hash"]:
        raise CheckpointError("%s: damaged: its bytes do not match the checksum in its seal" % name)


def _columns_to_table(cols, order):
    """{name: array or list} -> DataFrame (pandas) or numpy record array."""
    if _pd is not None:
        return _pd.DataFrame({k: cols[k] for k in order}, columns=list(order))
    arrays = []
    for k in order:
        v = cols[k]
        if isinstance(v, list):
            v = np.array(v, dtype=object) if v else np.zeros(0, dtype=object)
        arrays.append(np.asarray(v))
    if not arrays:
        return np.rec.array(np.zeros(0, dtype=[("empty", "u1")]))
    # Fields may be sub-arrays (the state bytes: [rows x state_size]).
    out = np.zeros(len(arrays[0]), dtype=[(k, a.dtype, a.shape[1:]) for k, a in zip(order, arrays)])
    for k, a in zip(order, arrays):
        out[k] = a
    return out.view(np.recarray)


def _decode_column(a):
    if a.dtype.kind == "S":
        return np.char.decode(a, "utf-8", "replace") if a.size else a.astype("U1")
    return a


class Run:
    """One consistent view of a checkpoint (see the module's description). Use as a context
    manager or call close(). Attributes: path, attrs (root attributes), format_version,
    domain, config (dict), config_text; tables: results, timeline, engines, best, failures,
    checkpoints, segments, top_evaluations; terminals(); results_chunks(); results_sample()."""

    def __init__(self, path, max_rows=MAX_ROWS, require_seal=False):
        self.path = os.fspath(path)
        self.max_rows = int(max_rows)
        self._f = None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as e:
            raise CheckpointError("%s: %s" % (self.path, e.strerror or e)) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise CheckpointError("%s: not a regular file" % self.path)
            seal = read_seal(fd, st.st_size, SEAL_MAIN, self.path)
            if seal is None and require_seal:
                raise CheckpointError("%s: an HDF5 file without banyan's seal: refused" % self.path)
            if seal is not None:
                check_body(fd, seal, self.path)
            self.sealed = seal is not None
            try:
                try:
                    self._f = h5py.File(self.path, "r", locking=False)
                except (TypeError, ValueError):  # h5py/HDF5 without the locking switch
                    self._f = h5py.File(self.path, "r")
            except OSError as e:
                raise CheckpointError("%s: not a readable HDF5 file (%s)" % (self.path, e)) from None
            # HDF5 must have opened the file just checked (not one renamed over it since).
            try:
                opened = os.fstat(self._f.id.get_vfd_handle())
                same = (opened.st_dev, opened.st_ino) == (st.st_dev, st.st_ino)
            except (AttributeError, TypeError, ValueError, OSError):
                same = True
            if not same:
                raise _Replaced("%s: replaced while it was opened; open it again" % self.path)
        except BaseException:
            self.close()
            raise
        finally:
            os.close(fd)
        self._cache = {}
        try:
            self._read_root()
        except BaseException:
            self.close()
            raise

    # --- lifecycle -----------------------------------------------------------------------
    def close(self):
        f, self._f = getattr(self, "_f", None), None
        if f is not None:
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<banyan.Run %s: %s, %d results>" % (self.path, self.domain, self.completed)

    # --- root attributes -----------------------------------------------------------------
    def _attr(self, name, required=True):
        attrs = self._f.attrs
        if name not in attrs:
            if required:
                raise CheckpointError("%s: root attribute %s is missing" % (self.path, name))
            return None
        aid = attrs.get_id(name)
        limit = MAX_TEXT if name == "config" else MAX_ATTR
        if aid.get_storage_size() > limit:
            raise CheckpointError("%s: attribute %s is larger than %d bytes" % (self.path, name, limit))
        if aid.shape not in ((), (1,)):
            raise CheckpointError("%s: attribute %s is not one value" % (self.path, name))
        value = attrs[name]
        if aid.dtype.kind in "SOU":
            return _text(value, limit)
        value = np.asarray(value).reshape(())[()]
        if aid.dtype.kind not in "uif":
            raise CheckpointError("%s: attribute %s is not a number" % (self.path, name))
        return value.item()

    def _read_root(self):
        v = self._attr("format_version")
        if not isinstance(v, int) or v not in (3, 4, 5):
            raise CheckpointError("%s: checkpoint format version %r: this reader reads versions 3 to 5"
                                  % (self.path, v))
        a = {"format_version": v}
        for name in ("banyan_version", "domain", "config", "segment_dir"):
            a[name] = self._attr(name)
        for name in ("state_size", "completed", "evaluations", "failures", "finished", "stop_reason",
                     "created", "updated", "elapsed_seconds", "budget", "checkpoints"):
            a[name] = self._attr(name)
        for name in ("seed", "next_iteration", "cancelled", "deterministic", "run_id", "next_segment",
                     "path_cap", "applied_upto"):
            value = self._attr(name, required=False)
            if value is not None:
                a[name] = value
        for name in ("state_size", "completed", "evaluations", "failures", "budget", "checkpoints"):
            if not isinstance(a[name], int) or a[name] < 0:
                raise CheckpointError("%s: attribute %s is not a count" % (self.path, name))
        if not 1 <= a["state_size"] <= MAX_STATE_SIZE:
            raise CheckpointError("%s: state_size %d out of bounds" % (self.path, a["state_size"]))
        if a["evaluations"] + a["failures"] != a["completed"]:
            raise CheckpointError("%s: evaluations + failures != completed" % self.path)
        seg = a["segment_dir"]
        if not seg or "/" in seg or seg in (".", "..") or "\0" in seg:
            raise CheckpointError("%s: segment_dir %r is not a plain name" % (self.path, seg))
        self.attrs = a
        self.format_version = v
        self.domain = a["domain"]
        self.config_text = a["config"]
        self.config = parse_ini(self.config_text)
        self.state_size = a["state_size"]
        self.completed = a["completed"]
        self.evaluations = a["evaluations"]
        self.failure_count = a["failures"]
        self.finished = bool(a["finished"])
        self.stop_reason = STOP_REASONS.get(a["stop_reason"], "stop reason %d" % a["stop_reason"])
        comps = self.config.get("domain.circuit.root", "").lstrip("*").split("::", 1)[0]
        self.circuit_components = (comps if self.domain == "circuit" and comps.isalpha() and comps.isupper()
                                   and len(set(comps)) == len(comps) and 1 + len(comps) ** 2 == self.state_size
                                   else None)

    @property
    def status(self):
        """'finished: REASON', 'stopped: REASON' or 'running' (no final checkpoint yet: still
        running, or killed)."""
        if self.finished:
            return "finished: " + self.stop_reason
        if self.attrs["stop_reason"]:
            return "stopped: " + self.stop_reason
        return "running"

    @property
    def code_named(self):
        """{'domain.plugin': ..., 'exec.command': ...} the file names (never loaded or run)."""
        return {k: self.config[k] for k in ("domain.plugin", "exec.command") if self.config.get(k)}

    # --- datasets --------------------------------------------------------------------------
    def _dataset(self, path, required=True):
        """The dataset at path, reached through hard links only."""
        node = self._f
        parts = [p for p in path.strip("/").split("/") if p]
        for i, part in enumerate(parts):
            link = node.get(part, getlink=True)
            if link is None:
                if required:
                    raise CheckpointError("%s: /%s is missing" % (self.path, "/".join(parts[:i + 1])))
                return None
            if not isinstance(link, h5py.HardLink):
                raise CheckpointError("%s: /%s is a %s, not a hard link" % (self.path, "/".join(parts[:i + 1]),
                                                                            type(link).__name__))
            node = node[part]
            want_group = i < len(parts) - 1
            if want_group != isinstance(node, h5py.Group) or (not want_group and not isinstance(node, h5py.Dataset)):
                raise CheckpointError("%s: /%s is not a %s" % (self.path, "/".join(parts[:i + 1]),
                                                               "group" if want_group else "dataset"))
        return node

    def _table_ds(self, path, fields, required=True):
        ds = self._dataset(path, required)
        if ds is None:
            return None
        names = ds.dtype.names or ()
        if ds.ndim != 1:
            raise CheckpointError("%s: %s is not a table" % (self.path, path))
        for f in fields:
            if f not in names:
                raise CheckpointError("%s: %s has no field %s" % (self.path, path, f))
        for f in names:
            sub = ds.dtype.fields[f][0]
            if sub.itemsize > max(MAX_STATE_SIZE, 4096):
                raise CheckpointError("%s: %s field %s is too large" % (self.path, path, f))
        return ds

    def _array_ds(self, path, length=None, kinds="uif"):
        ds = self._dataset(path)
        if ds.ndim != 1 or ds.dtype.kind not in kinds or ds.dtype.names:
            raise CheckpointError("%s: %s is not a one-dimensional numeric array" % (self.path, path))
        if length is not None and ds.shape[0] != length:
            raise CheckpointError("%s: %s has %d entries, expected %d" % (self.path, path, ds.shape[0], length))
        if ds.shape[0] >= MAX_GRAPH:
            raise CheckpointError("%s: %s has too many entries" % (self.path, path))
        return ds

    def _small(self, path, fields, required=True, limit=MAX_SMALL_ROWS):
        ds = self._table_ds(path, fields, required)
        if ds is None:
            return None
        n = ds.shape[0]
        if n > limit:
            step = -(-n // limit)
            warnings.warn("%s has %d rows: reading every %dth" % (path, n, step), RuntimeWarning, stacklevel=3)
            return ds[::step]
        return ds[...] if n else np.zeros(0, dtype=ds.dtype)

    def _cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # --- results ---------------------------------------------------------------------------
    def _results_ds(self):
        def check():
            ds = self._table_ds("/results", ("job_id", "kind", "status", "engine", "reward", "t_started",
                                             "t_finished", "state"))
            sub = ds.dtype.fields["state"][0]
            if sub.shape != (self.state_size,):
                raise CheckpointError("%s: /results state field is %s, expected uint8[%d]"
                                      % (self.path, sub.shape, self.state_size))
            if ds.shape[0] != self.completed:
                raise CheckpointError("%s: /results has %d rows, the file says %d completed"
                                      % (self.path, ds.shape[0], self.completed))
            if not ds.is_virtual:
                raise CheckpointError("%s: /results is not the virtual view over the run's segments" % self.path)
            segs = self.segments
            names = {"%s/results-%012d.h5" % (self.attrs["segment_dir"], int(s)) for s in np.asarray(segs["seq"])}
            for src in ds.virtual_sources():
                if src.file_name not in names or src.dset_name != "/results":
                    raise CheckpointError("%s: /results maps %r:%s, not a segment the file lists"
                                          % (self.path, src.file_name[:200], src.dset_name[:50]))
            self.check_segments()
            return ds
        return self._cached("results_ds", check)

    def check_segments(self, bodies=True):
        """Check the seal of every segment /segments lists before HDF5 reads it: its block,
        its size, its header against /segments (run, first row, rows, state size, checksum
        of the rows) and, with bodies, its bytes. A sealed main file needs sealed segments."""
        segs = self.segments
        cols = [np.asarray(segs[c]) for c in ("seq", "first_row", "rows", "checksum")]
        for seq, first, rows, checksum in zip(*cols):
            name = os.path.join(os.path.dirname(os.path.abspath(self.path)), self.attrs["segment_dir"],
                                "results-%012d.h5" % int(seq))
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError as e:
                raise CheckpointError("%s: segment %s: %s" % (self.path, name, e.strerror or e)) from None
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise CheckpointError("%s: segment %s is not a regular file" % (self.path, name))
                seal = read_seal(fd, st.st_size, SEAL_SEGMENT, name)
                if seal is None:
                    if self.sealed:
                        raise CheckpointError("%s: an HDF5 file without banyan's seal: refused" % name)
                    continue
                want = (self.attrs.get("run_id", seal["run_id"]), int(first), int(rows), self.state_size,
                        int(checksum))
                got = (seal["run_id"], seal["first_row"], seal["rows"], seal["state_size"], seal["rows_checksum"])
                if want != got:
                    raise CheckpointError("%s: segment %s does not belong here (its seal says run %x, rows %d+%d)"
                                          % (self.path, name, seal["run_id"], seal["first_row"], seal["rows"]))
                if bodies:
                    check_body(fd, seal, name)
            finally:
                os.close(fd)

    def segment_files(self):
        """Paths of the segment files this view reads, and whether each is there."""
        base = os.path.dirname(os.path.abspath(self.path))
        segs = self.segments
        return [(p, os.path.exists(p)) for p in
                (os.path.join(base, self.attrs["segment_dir"], "results-%012d.h5" % int(s))
                 for s in np.asarray(segs["seq"]))]

    def _rows(self, ds, start, stop, columns):
        arr = ds[start:stop] if columns is None else ds.fields(list(columns))[start:stop]
        status = arr["status"] if (columns is None or "status" in columns) else ds.fields("status")[start:stop]
        if status.size and (status == 0).any():
            raise CheckpointError("%s: rows %d..%d of /results are missing: a segment file was removed since "
                                  "this view was opened (the run merged it); open the file again"
                                  % (self.path, start, stop - 1))
        return arr

    def _results_table(self, arr):
        cols, order = {}, []
        for name in arr.dtype.names:
            a = arr[name]
            if name == "state":
                order.append(name)
                cols[name] = [r.tobytes() for r in a] if _pd is not None else a
                if self.circuit_components:
                    order.append("text")
                    cols["text"] = self.describe_many(a)
                continue
            cols[name] = _decode_column(a)
            order.append(name)
        return _columns_to_table(cols, order)

    def describe(self, state):
        """The readable form of a state (bytes): circuit text for the circuit domain, hex
        otherwise."""
        from banyan.circuit import describe_state
        b = bytes(state)
        if self.circuit_components:
            t = describe_state(b, self.circuit_components)
            if t is not None:
                return t
        return b.hex()

    def describe_many(self, states):
        """describe() for an [n x state_size] uint8 array (each distinct state once)."""
        states = np.asarray(states, dtype=np.uint8)
        if len(states) == 0:
            return np.zeros(0, dtype=object)
        uniq, inverse = np.unique(states, axis=0, return_inverse=True)
        texts = np.array([self.describe(u.tobytes()) for u in uniq], dtype=object)
        return texts[inverse.reshape(-1)]

    @property
    def results(self):
        """Every row of /results (refused beyond max_rows: use results_chunks or
        results_sample). For the circuit domain a `text` column holds each state's text."""
        ds = self._results_ds()
        n = ds.shape[0]
        if n > self.max_rows:
            raise CheckpointError("%s: /results has %d rows, more than %d: read it with run.results_chunks() "
                                  "or run.results_sample(n), or open with max_rows=" % (self.path, n, self.max_rows))
        return self._results_table(self._rows(ds, 0, n, None) if n else np.zeros(0, dtype=ds.dtype))

    def results_chunks(self, rows=CHUNK_ROWS, columns=None, start=0, stop=None):
        """Yield /results in tables of at most `rows` rows (bounded memory), optionally only
        some columns (status is read too, to detect missing segments)."""
        ds = self._results_ds()
        n = ds.shape[0] if stop is None else min(int(stop), ds.shape[0])
        rows = max(1, int(rows))
        for a in range(max(0, int(start)), n, rows):
            yield self._results_table(self._rows(ds, a, min(n, a + rows), columns))

    def results_sample(self, n=200_000, columns=None, seed=0, blocks=64):
        """About n rows of /results: all of them when there are no more, otherwise `blocks`
        contiguous runs at random places (reading scattered rows one by one from a virtual
        dataset is slow). Returns (table, rows in the file)."""
        ds = self._results_ds()
        total = ds.shape[0]
        if total <= n:
            arr = self._rows(ds, 0, total, columns) if total else np.zeros(0, dtype=ds.dtype)
            return self._results_table(arr), total
        blocks = max(1, min(int(blocks), int(n)))
        size = max(1, int(n) // blocks)
        slots = total // size
        rng = np.random.default_rng(seed)
        picks = np.sort(rng.choice(slots, size=min(blocks, slots), replace=False))
        parts = [self._rows(ds, int(p) * size, int(p) * size + size, columns) for p in picks]
        return self._results_table(np.concatenate(parts)), total

    # --- statistics tables ------------------------------------------------------------------
    def _simple_table(self, key, path, fields, required=True):
        def make():
            arr = self._small(path, fields, required)
            if arr is None:
                return None
            cols = {name: _decode_column(arr[name]) for name in arr.dtype.names}
            return _columns_to_table(cols, arr.dtype.names)
        return self._cached(key, make)

    @property
    def timeline(self):
        """/stats/timeline: t (s since the run started), iterations, evaluations, failures,
        in_flight, best_reward, utilization, and in files that have them
        reward_pool_utilization and simulate_pool_utilization (NaN without engine pools)
        (every n-th row when it is very long)."""
        return self._simple_table("timeline", "/stats/timeline",
                                  ("t", "iterations", "evaluations", "failures", "in_flight", "best_reward",
                                   "utilization"))

    def timeline_points(self, max_points=5000, tail=None):
        """At most max_points rows of the timeline as a numpy structured array, evenly
        spread, the last row always included; or only the last `tail` rows."""
        ds = self._table_ds("/stats/timeline", ("t", "iterations", "evaluations", "failures", "in_flight",
                                                "best_reward", "utilization"))
        n = ds.shape[0]
        if n == 0:
            return np.zeros(0, dtype=ds.dtype)
        if tail is not None:
            return ds[max(0, n - int(tail)):n]
        if n <= max_points:
            return ds[...]
        step = -(-n // max_points)
        arr = ds[::step]
        return arr if (n - 1) % step == 0 else np.concatenate([arr, ds[n - 1:n]])

    @property
    def engines(self):
        """/stats/engines: rank, jobs, failures, busy_seconds, idle_seconds, pool (the job
        kinds of its engine pool as a bit set: 1 reward, 2 simulate, 3 every kind; 3 in
        files written before engine.pools)."""
        def make():
            arr = self._small("/stats/engines", ("rank", "jobs", "failures", "busy_seconds", "idle_seconds"))
            cols = {name: _decode_column(arr[name]) for name in arr.dtype.names}
            if "pool" not in cols:
                cols["pool"] = np.full(len(arr), 3, dtype=np.uint8)
            return _columns_to_table(cols, [n for n in arr.dtype.names if n != "pool"] + ["pool"])
        return self._cached("engines", make)

    @property
    def pool_moves(self):
        """/stats/pool_moves: t_unix, rank, from_pool, to_pool (engine.pool_rebalance); empty
        for files written before engine pools."""
        fields = ("t_unix", "rank", "from_pool", "to_pool")

        def make():
            arr = self._small("/stats/pool_moves", fields, required=False)
            if arr is None:
                arr = np.zeros(0, dtype=[("t_unix", "<f8"), ("rank", "<i4"), ("from_pool", "u1"), ("to_pool", "u1")])
            return _columns_to_table({n: arr[n] for n in fields}, fields)
        return self._cached("pool_moves", make)

    @property
    def checkpoints(self):
        """/stats/checkpoints: one row per checkpoint written, this one last."""
        return self._simple_table("checkpoints", "/stats/checkpoints", ("t_unix", "iterations"))

    @property
    def segments(self):
        """/segments: seq, first_row, rows, checksum, bytes."""
        return self._simple_table("segments", "/segments", ("seq", "first_row", "rows", "checksum"))

    @property
    def failures(self):
        """/stats/failures as kind, detail, count (a version 3 file's reason is the kind)."""
        def make():
            ds = self._table_ds("/stats/failures", ("count",))
            arr = self._small("/stats/failures", ("count",))
            names = arr.dtype.names
            if "kind" in names:
                kind = _decode_column(arr["kind"])
                detail = _decode_column(arr["detail"]) if "detail" in names else np.full(len(arr), "", dtype="U1")
            elif "text" in names:
                kind, detail = _decode_column(arr["text"]), np.full(len(arr), "", dtype="U1")
            else:
                raise CheckpointError("%s: /stats/failures has neither kind nor text" % self.path)
            del ds
            return _columns_to_table({"kind": kind, "detail": detail, "count": arr["count"]},
                                     ("kind", "detail", "count"))
        return self._cached("failures", make)

    @property
    def top_evaluations(self):
        """/stats/top_evaluations (job_id, reward) with each row's state (and text)."""
        def make():
            arr = self._small("/stats/top_evaluations", ("job_id", "reward"))
            cols = {"job_id": arr["job_id"], "reward": arr["reward"]}
            order = ["job_id", "reward"]
            st = self._dataset("/stats/top_states", required=False)
            if st is not None and st.ndim == 2 and st.shape == (len(arr), self.state_size) and st.dtype == np.uint8:
                states = st[...] if len(arr) else np.zeros((0, self.state_size), np.uint8)
                cols["text"] = [self.describe(s.tobytes()) for s in states]
                order.append("text")
            return _columns_to_table(cols, order)
        return self._cached("top", make)

    @property
    def best(self):
        """/best with a 95% confidence interval of each mean: node, mean, visits, text,
        ci_low, ci_high, ci_method ('wilson' when the rewards are 0/1, else 't')."""
        return self._cached("best", self._best)

    def _best(self):
        from banyan.stats import mean_interval
        arr = self._small("/best", ("node", "mean", "visits", "text"), limit=100_000)
        nodes = np.asarray(arr["node"], dtype=np.int64)
        sums, sqs, visits = self._incoming_sums(nodes)
        binary = self.config.get("domain.circuit.reward") == "oscillation" and self.domain == "circuit"
        if not binary and len(nodes) and (visits > 0).all():
            binary = bool(np.all(np.abs(sqs - sums) <= 1e-9 * np.maximum(1.0, np.abs(sums)))
                          and np.all(np.abs(sums - np.round(sums)) <= 1e-6))
        lo, hi, method = [], [], []
        for k in range(len(nodes)):
            n = int(visits[k]) if visits[k] > 0 else int(arr["visits"][k])
            s = float(sums[k]) if visits[k] > 0 else float(arr["mean"][k]) * n
            q = float(sqs[k]) if visits[k] > 0 else math.nan
            a, b, m = mean_interval(n, s, q, binary)
            lo.append(a)
            hi.append(b)
            method.append(m)
        cols = {"node": arr["node"], "mean": arr["mean"], "visits": arr["visits"],
                "text": _decode_column(arr["text"]), "ci_low": np.array(lo, dtype=float),
                "ci_high": np.array(hi, dtype=float), "ci_method": np.array(method, dtype="U6")}
        return _columns_to_table(cols, ("node", "mean", "visits", "text", "ci_low", "ci_high", "ci_method"))

    def _graph_sizes(self):
        def make():
            states = self._dataset("/tree/states")
            if states.ndim != 2 or states.shape[1] != self.state_size or states.shape[0] >= MAX_GRAPH:
                raise CheckpointError("%s: /tree/states is not [nodes x state_size]" % self.path)
            n_nodes = states.shape[0]
            n_edges = self._array_ds("/tree/edges/child").shape[0]
            return n_nodes, n_edges
        return self._cached("graph_sizes", make)

    def _incoming_sums(self, nodes):
        """Sum over each node's incoming edges of reward, squared reward and visits (the
        edges are scanned in bounded chunks)."""
        k = len(nodes)
        sums, sqs, visits = np.zeros(k), np.zeros(k), np.zeros(k, dtype=np.int64)
        if k == 0:
            return sums, sqs, visits
        n_nodes, n_edges = self._graph_sizes()
        if (nodes < 0).any() or (nodes >= n_nodes).any():
            raise CheckpointError("%s: /best names a node that is not in the graph" % self.path)
        child = self._array_ds("/tree/edges/child", n_edges)
        rsum = self._array_ds("/tree/edges/reward_sum", n_edges)
        rsq = self._array_ds("/tree/edges/reward_sq", n_edges)
        vis = self._array_ds("/tree/edges/visits", n_edges)
        order = np.argsort(nodes)
        sorted_nodes = nodes[order]
        for a in range(0, n_edges, 4 * CHUNK_ROWS):
            b = min(n_edges, a + 4 * CHUNK_ROWS)
            c = child[a:b].astype(np.int64)
            hit = np.isin(c, sorted_nodes)
            if not hit.any():
                continue
            idx = np.nonzero(hit)[0]
            where = order[np.searchsorted(sorted_nodes, c[idx])]
            np.add.at(sums, where, rsum[a:b][idx])
            np.add.at(sqs, where, rsq[a:b][idx])
            np.add.at(visits, where, vis[a:b][idx].astype(np.int64))
        return sums, sqs, visits

    def terminals(self, max_nodes=10_000_000, seed=0):
        """Terminal nodes with at least one visit: node, visits, mean, depth. The node
        arrays are read in chunks; beyond max_nodes nodes, evenly spread chunks of them."""
        n_nodes, _ = self._graph_sizes()
        flags = self._array_ds("/tree/nodes/flags", n_nodes)
        visits = self._array_ds("/tree/nodes/visits", n_nodes)
        rsum = self._array_ds("/tree/nodes/reward_sum", n_nodes)
        depth = self._array_ds("/tree/nodes/depth", n_nodes)
        chunk = CHUNK_ROWS
        starts = list(range(0, n_nodes, chunk))
        if n_nodes > max_nodes:
            keep = max(1, max_nodes // chunk)
            starts = [starts[int(i)] for i in np.linspace(0, len(starts) - 1, keep)]
        parts = []
        for a in starts:
            b = min(n_nodes, a + chunk)
            f, v = flags[a:b], visits[a:b]
            idx = np.nonzero(((f & NODE_TERMINAL) != 0) & (v > 0))[0]
            if idx.size:
                vv = v[idx].astype(np.float64)
                parts.append((idx + a, v[idx], rsum[a:b][idx] / vv, depth[a:b][idx]))
        if parts:
            cols = {"node": np.concatenate([p[0] for p in parts]).astype(np.uint32),
                    "visits": np.concatenate([p[1] for p in parts]),
                    "mean": np.concatenate([p[2] for p in parts]),
                    "depth": np.concatenate([p[3] for p in parts])}
        else:
            cols = {"node": np.zeros(0, np.uint32), "visits": np.zeros(0, np.uint64), "mean": np.zeros(0),
                    "depth": np.zeros(0, np.uint16)}
        return _columns_to_table(cols, ("node", "visits", "mean", "depth"))

    @property
    def graph_size(self):
        """(nodes, edges) of the search graph."""
        return self._graph_sizes()


class _Replaced(CheckpointError):
    """The running search replaced the checkpoint between its check and HDF5's open."""


def open(path, max_rows=MAX_ROWS, require_seal=False):  # noqa: A001  (banyan.open, like h5py.File)
    """Open a checkpoint: a Run, one consistent view of the run's last checkpoint. A file
    replaced by the running search while it was being opened is opened again (the new one
    is complete: it was renamed into place whole)."""
    for attempt in range(8):
        try:
            return Run(path, max_rows=max_rows, require_seal=require_seal)
        except _Replaced:
            if attempt == 7:
                raise
