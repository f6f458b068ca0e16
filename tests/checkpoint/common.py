"""Helpers shared by the checkpoint test scripts (faults.py, segments.py, stream_memory.py):
running banyan, reading checkpoints with h5py, and ok/FAIL reporting."""
import hashlib
import os
import subprocess

import h5py

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
failures = []
BANYAN = None


def setup(banyan):
    global BANYAN
    BANYAN = banyan


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else "\n     " + detail), flush=True)
    if not cond:
        failures.append(what)
    return cond


def sets(*kv):
    return sum([["--set", x] for x in kv], [])


def mpirun(n, *args):
    return ["mpirun", "-n", str(n), "--oversubscribe", BANYAN] + list(args)


def results_ids(path):
    with h5py.File(path, "r") as f:
        return [int(x) for x in f["results"]["job_id"]]


def tree_and_results(path):
    """Every /tree dataset (by name), and /results' job ids and rewards."""
    import numpy as np
    with h5py.File(path, "r") as f:
        tree = {}
        f["tree"].visititems(lambda k, v: tree.__setitem__(k, v[...].copy()) if isinstance(v, h5py.Dataset) else None)
        res = f["results"]
        return tree, np.array(res["job_id"]), np.array(res["reward"])


def same_tree(a, b):
    import numpy as np
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(cmd, timeout=300):
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)


def start(cmd, **kw):
    return subprocess.Popen(cmd, env=ENV, stdout=kw.get("stdout", subprocess.PIPE), stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def xxh3_64(data):
    """XXH3-64 of bytes, from libxxhash (what banyan links)."""
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
    lib.XXH3_64bits.restype = ctypes.c_uint64
    lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return lib.XXH3_64bits(data, len(data))


def reseal(path):
    """Make the seal of a file banyan wrote (the XXH3-64 of the whole file in its 512-byte
    HDF5 user block, docs/checkpoint-format.md "The seal") match its bytes again after an
    edit with h5py: the file is then hostile but sealed, so what a test sees is the reader's
    own checks behind the seal."""
    import struct
    with open(path, "r+b") as f:
        data = f.read()
        block = bytearray(data[:512])
        assert block[:12] == b"BANYAN-SEAL\0", f"{path} has no seal"
        struct.pack_into("<QQ", block, 24, len(data), xxh3_64(data[512:]))
        struct.pack_into("<Q", block, 504, xxh3_64(bytes(block[:504])))
        f.seek(0)
        f.write(block)


def ranks_of(mpirun_pid):
    """{rank: pid} of the MPI processes mpirun started (its children)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != mpirun_pid:
                continue
            with open(f"/proc/{name}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            if b"OMPI_COMM_WORLD_RANK" in env:
                out[int(env[b"OMPI_COMM_WORLD_RANK"])] = int(name)
        except (OSError, ValueError, IndexError):
            pass
    return out
