"""Celery peer (the driver; the workers run celery_app.py): waits until the worker answers
a ping, warms its pool up, then one delay() per job and one get() per result, in
submission order."""
import time

import peer_common as pc


def main():
    spec, durs = pc.load_spec()
    from celery_app import app, job

    deadline = time.monotonic() + spec.get("startup_timeout", 300)
    while not app.control.ping(timeout=1.0):
        if time.monotonic() > deadline:
            raise SystemExit("the Celery worker did not answer a ping")
    timeout = spec.get("job_timeout", 600)

    def submit_and_collect(ds):
        pending = [job.delay(d) for d in ds]
        received, total = 0, 0.0
        for r in pending:
            total += r.get(timeout=timeout)
            received += 1
        return received, total

    pc.warm_up(submit_and_collect, spec["workers"])
    pc.measure(spec, durs, submit_and_collect)


if __name__ == "__main__":
    main()
