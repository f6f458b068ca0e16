"""The job every peer runs: sleep the given duration (none for a zero-cost job) and return it.

It lives in its own module so that workers of every system import it by name (pickled by
reference for multiprocessing, mpi4py.futures and Dask; registered as a task for Celery).
"""
import time


def job(duration):
    if duration > 0:
        time.sleep(duration)
    return duration
