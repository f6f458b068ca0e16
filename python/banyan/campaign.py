"""Campaigns (search.replicates > 1): many searches run together in one banyan run, each an
ordinary complete checkpoint NAME.r000.h5, NAME.r001.h5, ... beside NAME.campaign, the
small text file that lists them (format: README, "Many searches in one run").

    import banyan
    c = banyan.open_campaign("runs/bist.campaign")
    c.replicates, c.seed                 # how many, the campaign's seed (replicate r: seed + r)
    c.summary()                          # one row per replicate: seed, iterations, best, ...
    with c.open(3) as run: run.best      # replicate 3, a banyan.Run like any other

The campaign file is untrusted data, parsed as strictly as banyan itself parses it: the
checksum first, then every line; replicate file names are derived from the campaign
file's own name, never read from it.
"""
import os
import re
import stat

from banyan.reader import CheckpointError
from banyan.reader import open as open_run

MAGIC = b"banyan campaign 1\n"
MAX_REPLICATES = 4096
MAX_BYTES = 4 * 64 + MAX_REPLICATES * 64


def _xxh3(data):
    try:
        import xxhash
    except ImportError:
        raise CheckpointError("checking a campaign file needs python3-xxhash (Debian: apt-get install "
                              "python3-xxhash)") from None
    return xxhash.xxh3_64_intdigest(data)


def is_campaign(path):
    """Whether `path` starts like a campaign file."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def replicate_path(campaign_path, r):
    """NAME.r007.h5 for NAME.campaign."""
    if not campaign_path.endswith(".campaign"):
        raise CheckpointError("%s: a campaign file's name ends in .campaign" % campaign_path)
    return "%s.r%03d.h5" % (campaign_path[:-len(".campaign")], r)


class Campaign:
    """A campaign file, checked: replicates, seed, run_ids, paths."""

    def __init__(self, path):
        self.path = os.fspath(path)
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as e:
            raise CheckpointError("%s: cannot open: %s" % (self.path, e.strerror)) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise CheckpointError("%s: not a regular file" % self.path)
            if st.st_size > MAX_BYTES:
                raise CheckpointError("%s: not a campaign file (%d bytes)" % (self.path, st.st_size))
            data = os.read(fd, st.st_size)
        finally:
            os.close(fd)
        if not data.startswith(MAGIC):
            raise CheckpointError('%s: not a campaign file (it does not start with "banyan campaign 1")' % self.path)
        if b"\0" in data or not data.endswith(b"\n"):
            raise CheckpointError("%s: damaged campaign file (a NUL byte or no final newline)" % self.path)
        lines = data[:-1].split(b"\n")
        body = data[:len(data) - len(lines[-1]) - 1]
        m = re.fullmatch(rb"checksum ([0-9a-f]{1,16})", lines[-1])
        if not m or int(m.group(1), 16) != _xxh3(body):
            raise CheckpointError("%s: damaged campaign file (checksum)" % self.path)
        head = [re.fullmatch(rb"replicates ([0-9]{1,20})", lines[1]) if len(lines) > 1 else None,
                re.fullmatch(rb"seed ([0-9]{1,20})", lines[2]) if len(lines) > 2 else None]
        if not all(head):
            raise CheckpointError("%s: bad campaign header" % self.path)
        self.replicates, self.seed = int(head[0].group(1)), int(head[1].group(1))
        if not 1 <= self.replicates <= MAX_REPLICATES or self.seed > 2**63 - 1 - self.replicates:
            raise CheckpointError("%s: bad campaign header (replicates 1..%d, a seed)" % (self.path, MAX_REPLICATES))
        if len(lines) != 3 + self.replicates + 1:
            raise CheckpointError("%s: %d replicate lines, the header says %d" % (
                self.path, len(lines) - 4, self.replicates))
        self.run_ids = []
        for r in range(self.replicates):
            m = re.fullmatch(rb"replicate %d run_id ([0-9a-f]{1,16})" % r, lines[3 + r])
            if not m:
                raise CheckpointError("%s: bad campaign line for replicate %d" % (self.path, r))
            self.run_ids.append(int(m.group(1), 16))
        self.paths = [replicate_path(self.path, r) for r in range(self.replicates)]

    def seed_of(self, r):
        return self.seed + r

    def open(self, r, **kw):
        """Replicate r's checkpoint as a banyan.Run (checked to belong to this campaign)."""
        if not 0 <= r < self.replicates:
            raise IndexError("replicate %d of %d" % (r, self.replicates))
        run = open_run(self.paths[r], **kw)  # opened again if the running campaign replaced it
        rid, seed = int(run.attrs.get("run_id", -1)), int(run.attrs.get("seed", -1))
        if rid != self.run_ids[r] or seed != self.seed_of(r):
            run.close()
            raise CheckpointError("%s: replicate %d: %s is not this campaign's (run id or seed)" % (
                self.path, r, self.paths[r]))
        return run

    def summary(self):
        """One dict per replicate: replicate, seed, path, iterations, budget, failures,
        finished, best_mean, best (state text), nodes."""
        rows = []
        for r in range(self.replicates):
            with self.open(r) as run:
                best = run.best
                has = len(best) > 0
                rows.append({
                    "replicate": r, "seed": self.seed_of(r), "path": self.paths[r],
                    "iterations": int(run.completed), "budget": int(run.attrs.get("budget", 0)),
                    "failures": int(run.failure_count), "finished": bool(run.finished),
                    "best_mean": float(best["mean"][0]) if has else float("nan"),
                    "best": str(best["text"][0]) if has else "",
                    "nodes": int(run.graph_size[0]),
                })
        return rows

    def __repr__(self):
        return "<banyan.Campaign %s: %d replicates, seed %d>" % (self.path, self.replicates, self.seed)


def open_campaign(path):
    """Read and check a campaign file (NAME.campaign)."""
    return Campaign(path)
