"""The local executor: worker processes forked from a fork server that preloaded the libraries.

The fork server is started with one BLAS thread in its environment and imports grader.batch.worker
(NumPy, PyTorch, the checks, the reporters) before any hidden data exists; every worker is a fork of
it, so the libraries are imported once, not once per worker or per submission. Each worker grades one
submission at a time; the student's code runs in a fresh sandbox child per submission.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from ..i18n import _
from ..sandbox.limits import BLAS_THREAD_VARIABLES

PRELOAD = ["grader.batch.lifeline", "grader.batch.worker"]  # lifeline first: the server dies with the batch
ATTEMPTS = 2  # a job running when a worker process died is tried once more in a fresh pool


def default_workers() -> int:
    """The CPUs this process may run on (its affinity), not all the machine's CPUs."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


@contextmanager
def _one_blas_thread():
    """The environment the fork server (hence every worker) starts with: one BLAS thread, so N workers
    use N cores; OpenBLAS reads this when NumPy is imported, before anything could change it."""
    from .lifeline import PARENT_ENV
    names = (*BLAS_THREAD_VARIABLES, PARENT_ENV)
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({n: "1" for n in BLAS_THREAD_VARIABLES}, **{PARENT_ENV: str(os.getpid())})
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


class LocalPool:
    def __init__(self, workers: int):
        self.workers = workers
        self.forkserver = "forkserver" in multiprocessing.get_all_start_methods()  # not on Windows
        self.context = multiprocessing.get_context("forkserver" if self.forkserver else "spawn")
        if self.forkserver:
            self.context.set_forkserver_preload(PRELOAD)
        self.executor: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        if self.forkserver:
            with _one_blas_thread():
                from multiprocessing import forkserver
                forkserver.ensure_running()  # started now, inside this environment
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self.context, initializer=_init_worker)

    def run(self, jobs: Iterable[dict]) -> Iterator[tuple[dict, dict | BaseException]]:
        """(job, outcome) pairs as jobs finish; the outcome is an exception when the job itself failed."""
        pending, tries = list(jobs), {}
        while pending:
            self.executor = self._start()
            futures = {self.executor.submit(_grade_job, job): job for job in pending}
            pending = []
            for future in as_completed(futures):
                job = futures[future]
                try:
                    yield job, future.result()
                except BrokenProcessPool as error:
                    tries[job["name"]] = tries.get(job["name"], 0) + 1
                    if tries[job["name"]] < ATTEMPTS:
                        pending.append(job)
                    else:
                        yield job, RuntimeError(_("the grading worker process died ({error}).").format(error=error))
                except Exception as error:  # noqa: BLE001 - reported as this submission's error
                    yield job, error
            self.close()

    def close(self, cancel: bool = False) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=not cancel, cancel_futures=cancel)
            self.executor = None


# Trampolines: the parent pickles these by name without importing the worker module (and PyTorch) itself;
# in a worker the fork server has already imported it.
def _init_worker() -> None:
    from . import lifeline
    if lifeline.SERVER_PID is not None:  # forked by the fork server: die with it
        lifeline.die_with_parent(lifeline.SERVER_PID)
    from .worker import init_worker
    init_worker()


def _grade_job(job: dict) -> dict:
    from .worker import grade_job
    return grade_job(job)
