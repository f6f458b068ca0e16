"""The systems the peers benchmark compares, each able to run one measurement: N workers,
the durations of job ids 0..n-1 of a cost model, and back (wall seconds, jobs, sum of the
durations).

  banyan        its real search on the synthetic domain: mpirun -n N+1 (rank 0 + N engines);
                wall = the search phase (`wall_seconds` of --summary: from the first
                iteration issued to the last result applied, start-up and shut-down excluded)
  banyan-tcp    the same with --mca pml ob1 --mca btl tcp,self (messages over loopback TCP,
                the path they take between nodes)
  pool          multiprocessing.Pool(N), imap_unordered            (peer_pool.py)
  mpi4py        mpi4py.futures.MPIPoolExecutor under mpirun -n N+1 (peer_mpi.py)
  dask          Dask distributed LocalCluster, N one-thread worker processes (peer_dask.py)
  celery        Celery (prefork pool, --concurrency N) with Redis as broker and result
                backend, CircuiTree's stack (peer_celery.py, celery_app.py)

Peers time from the first submission to the last result, after a warm-up. Every run is
checked: all jobs came back (and, for banyan, no failure and the expected engines).
"""
import json
import os
import sys
import tempfile
import time

import procs

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PYTHON = "/usr/bin/python3"
SYNTHETIC = os.path.join(TOP, "configs", "synthetic-bench.ini")
CIRCUIT = os.path.join(TOP, "configs", "bistability-3node.ini")
TCP_MCA = ["--mca", "pml", "ob1", "--mca", "btl", "tcp,self"]

LABELS = {
    "banyan": "banyan",
    "banyan-tcp": "banyan, MPI over TCP",
    "pool": "multiprocessing.Pool",
    "mpi4py": "mpi4py.futures",
    "dask": "Dask distributed",
    "celery": "Celery + Redis",
}
ALL = list(LABELS)


def environment():
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", PYTHONPATH=HERE,
               PYTHONDONTWRITEBYTECODE="1")
    return env


class MeasurementError(RuntimeError):
    pass


class Runner:
    """Runs measurements; owns the Redis server of the Celery peer while it is needed."""

    def __init__(self, banyan, logdir, timeout):
        self.banyan = banyan
        self.logdir = logdir
        self.timeout = timeout
        self.env = environment()
        self.redis = None
        self.redis_url = None
        self.count = 0

    # ---- helpers -------------------------------------------------------------------------
    def _log(self, tag):
        self.count += 1
        return open(os.path.join(self.logdir, f"{self.count:03d}-{tag}.log"), "w")

    def run_logged(self, cmd, tag, env=None, timeout=None):
        with self._log(tag) as log:
            log.write("$ " + " ".join(cmd) + "\n")
            log.flush()
            try:
                rc, usage = procs.run(cmd, timeout or self.timeout, env=env or self.env, cwd=HERE, stdout=log,
                                      stderr=log)
            except procs.Timeout:
                raise MeasurementError(f"{tag}: did not finish in {timeout or self.timeout:.0f} s (log: {log.name})")
        if rc != 0:
            raise MeasurementError(f"{tag}: exit status {rc} (log: {log.name})")
        return usage

    # ---- banyan --------------------------------------------------------------------------
    def banyan_run(self, ranks, config, sets, tag, mca=(), timeout=None):
        """One `mpirun -n ranks banyan run config` with checkpoints off: its summary dict."""
        with tempfile.TemporaryDirectory() as tmp:
            summary = os.path.join(tmp, "summary.json")
            cmd = (["mpirun", "-n", str(ranks), "--oversubscribe"] + list(mca) +
                   [self.banyan, "run", config, "--quiet", "--summary", summary, "--set", "checkpoint.enabled=false"])
            for s in sets:
                cmd += ["--set", s]
            self.run_logged(cmd, tag, timeout=timeout)
            with open(summary) as f:
                return json.load(f)

    def banyan_measure(self, workers, n, model, seed, repeats, tcp=False):
        best = None
        for _ in range(repeats):
            s = self.banyan_run(workers + 1, SYNTHETIC,
                                [f"search.iterations={n}", f"search.seed={seed}"] + model.banyan_sets(),
                                f"banyan{'-tcp' if tcp else ''}-{workers}w", mca=TCP_MCA if tcp else ())
            if s["iterations"] != n or s["failures"] != 0 or s["engines"] != workers:
                raise MeasurementError(f"banyan: {s['iterations']} iterations, {s['failures']} failures, "
                                       f"{s['engines']} engines; expected {n}, 0, {workers}")
            if best is None or s["wall_seconds"] < best["wall_seconds"]:
                best = s
        return {"wall_seconds": best["wall_seconds"], "jobs": n, "extra": {
            "mean_batch": best["mean_batch"], "engine_utilization": best["engine_utilization"],
            "nodes": best["nodes"]}}

    # ---- peers ---------------------------------------------------------------------------
    def _start_redis(self):
        if self.redis is not None:
            return
        port = procs.free_port()
        self.redis_dir = tempfile.mkdtemp(prefix="peers-redis-")
        log = self._log("redis-server")
        self.redis = procs.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", self.redis_dir, "--protected-mode", "yes"],
                                 stdout=log, stderr=log)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        import redis  # python3-redis, installed with Celery's Redis support

        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.ping():
                    break
            except redis.exceptions.ConnectionError:
                pass
            if self.redis.poll() is not None or time.monotonic() > deadline:
                raise MeasurementError(f"redis-server did not start (log: {log.name})")
            time.sleep(0.1)
        self.redis_client = client

    def stop(self):
        """Stop what this runner started (the Redis server)."""
        if self.redis is not None:
            procs.stop(self.redis)
            self.redis = None
            import shutil

            shutil.rmtree(self.redis_dir, ignore_errors=True)

    def peer_measure(self, system, workers, n, model, seed, repeats):
        spec = {"system": system, "workers": workers, "n": n, "seed": seed, "model": model.as_dict(),
                "repeats": repeats, "startup_timeout": self.timeout / 2, "job_timeout": self.timeout / 2}
        with tempfile.TemporaryDirectory() as tmp:
            spec_path, out_path = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out.json")
            with open(spec_path, "w") as f:
                json.dump(spec, f)
            tag = f"{system}-{workers}w"
            if system == "pool":
                self.run_logged([PYTHON, os.path.join(HERE, "peer_pool.py"), spec_path, out_path], tag)
            elif system == "mpi4py":
                self.run_logged(["mpirun", "-n", str(workers + 1), "--oversubscribe", PYTHON, "-m",
                                 "mpi4py.futures", os.path.join(HERE, "peer_mpi.py"), spec_path, out_path], tag)
            elif system == "dask":
                self.run_logged([PYTHON, os.path.join(HERE, "peer_dask.py"), spec_path, out_path], tag)
            elif system == "celery":
                self._celery(workers, spec_path, out_path, tag)
            else:
                raise ValueError(system)
            with open(out_path) as f:
                r = json.load(f)
        if r["received"] != n or abs(r["returned_sum"] - r["sum_durations"]) > 1e-6 * max(1.0, r["sum_durations"]):
            raise MeasurementError(f"{system}: {r['received']} of {n} results came back")
        return {"wall_seconds": r["wall_seconds"], "jobs": n, "extra": {"walls": r.get("walls")}}

    def _celery(self, workers, spec_path, out_path, tag):
        self._start_redis()
        self.redis_client.flushall()
        env = dict(self.env, PEERS_REDIS_URL=self.redis_url)
        log = self._log(tag + "-worker")
        worker = procs.start([PYTHON, "-m", "celery", "-A", "celery_app", "worker", "--pool", "prefork",
                              "--concurrency", str(workers), "--loglevel", "WARNING", "--without-gossip",
                              "--without-mingle", "--without-heartbeat", "--hostname", f"peers{workers}@%h"],
                             env=env, cwd=HERE, stdout=log, stderr=log)
        try:
            self.run_logged([PYTHON, os.path.join(HERE, "peer_celery.py"), spec_path, out_path], tag, env=env)
        finally:
            procs.stop(worker, grace=20)
            log.close()


def log_progress(msg):
    print(msg, file=sys.stderr, flush=True)
