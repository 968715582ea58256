"""The Dask executor: the same per-submission function (grader.batch.worker.grade_job) on a
dask.distributed cluster, for classes too big for one machine.

Jobs carry the submission's bytes and the assignment's files, and return the reports as text, so the
workers need the grader installed but no shared file system; the client writes every output. Dask
workers are daemonic processes, which cannot have multiprocessing children: the sandbox starts each
student child with subprocess, so grading works there unchanged. Run workers with one thread each
(`dask worker ADDRESS --nworkers N --nthreads 1`): the grading side is Python and holds the GIL.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator


def _grade_job(job: dict) -> dict:
    from .worker import grade_job  # imported on the worker
    return grade_job(job)


class DaskExecutor:
    def __init__(self, address: str):
        from distributed import Client
        self.client = Client(address, set_as_default=False)

    @property
    def workers(self) -> int:
        return sum(w.get("nthreads", 1) for w in self.client.scheduler_info().get("workers", {}).values())

    def run(self, jobs: Iterable[dict]) -> Iterator[tuple[dict, dict | BaseException]]:
        from distributed import as_completed
        futures = {self.client.submit(_grade_job, job, pure=False, key=f"grade-{job['name']}-{job['key'][:12]}"): job
                   for job in jobs}
        for future in as_completed(futures, loop=self.client.loop):  # not the default client's
            job = futures[future]
            try:
                yield job, future.result()
            except Exception as error:  # noqa: BLE001 - reported as this submission's error
                yield job, error
            finally:
                future.release()

    def close(self, cancel: bool = False) -> None:
        self.client.close()
