"""Races on purpose: jobs released at the same moment, each on a thread of its own."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def at_once(jobs: list[Callable[[], T]], *, timeout: float = 60) -> list[T]:
    """Run every job on a thread of its own, all released together; their results in order,
    once all are done. A job's exception is raised here, after every job has finished.

    Each thread has a database connection of its own (Django opens one per thread), as
    concurrent requests do, and closes it when its job ends.
    """
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], T]) -> T:
        try:
            start.wait(timeout=10)
            return job()
        finally:
            connection.close()

    with ThreadPoolExecutor(len(jobs)) as pool:
        running = [pool.submit(run, job) for job in jobs]
        return [job.result(timeout=timeout) for job in running]
