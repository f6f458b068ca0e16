"""multiprocessing.Pool(N) peer: imap_unordered over the durations (chunksize 1, the
default), every result collected as it arrives."""
import multiprocessing

import peer_common as pc
from peer_job import job


def main():
    spec, durs = pc.load_spec()
    with multiprocessing.Pool(spec["workers"]) as pool:

        def submit_and_collect(ds):
            received, total = 0, 0.0
            for r in pool.imap_unordered(job, ds):
                received += 1
                total += r
            return received, total

        pc.warm_up(submit_and_collect, spec["workers"])
        pc.measure(spec, durs, submit_and_collect, {"start_method": multiprocessing.get_start_method()})


if __name__ == "__main__":
    main()
