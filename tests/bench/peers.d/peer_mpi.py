"""mpi4py.futures peer, run as `mpirun -n N+1 python3 -m mpi4py.futures peer_mpi.py ...`:
rank 0 runs this script, the N other ranks are the MPIPoolExecutor's workers. One submit
per job, results collected with as_completed."""
from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor, as_completed

import peer_common as pc
from peer_job import job


def main():
    spec, durs = pc.load_spec()
    workers = MPI.COMM_WORLD.Get_size() - 1
    if workers != spec["workers"]:
        raise SystemExit(f"{workers} workers under mpirun, the spec wants {spec['workers']}")
    with MPIPoolExecutor() as ex:
        ex.bootup(wait=True)

        def submit_and_collect(ds):
            futures = [ex.submit(job, d) for d in ds]
            received, total = 0, 0.0
            for f in as_completed(futures):
                received += 1
                total += f.result()
            return received, total

        pc.warm_up(submit_and_collect, workers)
        pc.measure(spec, durs, submit_and_collect)


if __name__ == "__main__":
    main()
