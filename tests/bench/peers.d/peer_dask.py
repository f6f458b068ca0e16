"""Dask distributed peer: a LocalCluster of N worker processes with one thread each (each
with its nanny, the default), one client.submit per job (pure=False: every job runs),
results collected with as_completed."""
import logging

import peer_common as pc
from peer_job import job


def main():
    from dask.distributed import Client, LocalCluster, as_completed

    spec, durs = pc.load_spec()
    n = spec["workers"]
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.wait_for_workers(n, timeout=spec.get("startup_timeout", 300))

        def submit_and_collect(ds):
            futures = [client.submit(job, d, pure=False) for d in ds]
            received, total = 0, 0.0
            for f in as_completed(futures):
                received += 1
                total += f.result()
            return received, total

        pc.warm_up(submit_and_collect, n)
        pc.measure(spec, durs, submit_and_collect)


if __name__ == "__main__":
    main()
