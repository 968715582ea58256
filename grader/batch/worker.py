"""The work on one submission of a batch, run in a worker process (the local pool) or a Dask worker.

Importing this module imports the libraries grading needs (NumPy, PyTorch, the checks, the reporters)
and nothing else: the local pool's fork server preloads it before any hidden data exists, so each worker
starts with them imported. Student code still runs in a fresh sandbox child per submission (the engine
starts one with subprocess, which also works inside Dask's daemonic workers); a worker only holds the
references, which it computes in float64 and memoises across the submissions it grades.

`grade_job` takes and returns plain data, so the same function serves both executors: the parent reads
the submission (grader.batch.discover) and writes every output (grader.batch.runner).
"""
from __future__ import annotations

import atexit
import os
import resource
import shutil
import tempfile
import threading
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

import numpy as np  # noqa: F401 - imported once per worker, before any submission
import torch

from .. import __version__, optim
from ..assignment import load_assignment
from ..engine import grade
from ..i18n import _
from ..loader import SubmissionError
from ..report import gradescope, html, markdown, write_reports  # noqa: F401 - preloaded with the rest
from ..results import ExerciseResult, GradeResult
from ..seeds import Seed
from ..spec import unit_checks
from ..timing import torch_threads
from . import similarity
from .discover import PayloadError, materialize
from .late import penalty_points
from ..sandbox import launch
from ..sandbox.limits import BLAS_THREAD_VARIABLES
from ..sandbox.session import child_environment

try:  # the HTML report's heat maps of wrong outputs
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
except ImportError:  # pragma: no cover - the report is written without pictures
    pass

GRADED, ERROR, TIMED_OUT = "graded", "error", "timed out"

_lock = threading.Lock()  # Dask may run several jobs as threads of one process
_assignments: dict[str, object] = {}  # bundle digest -> Assignment (its exercises load once per worker)
_bundle_root: list[Path] = []
_starters: dict[tuple, set[int]] = {}  # (bundle digest, exercises) -> shingles of their starter kit
_warm = False


def init_worker() -> None:
    """Pool initializer: one BLAS/torch thread per worker (workers run side by side), and the lazy
    parts of the libraries loaded once instead of during the first submission."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = "1"
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass
    warm_up()


def warm_up() -> None:
    """Import and run once what the first grade would otherwise pay for: torch.optim's first step,
    the digits data set, the report template, and scipy.optimize (loaded here, a worker's grades run
    L-BFGS-B themselves instead of starting a process for it each time: grader/lbfgs.py). And start
    the zygotes the worker's student processes fork from."""
    global _warm
    if _warm:
        return
    param = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    param.grad = torch.ones(2, dtype=torch.float64)
    optim.SGD([param], lr=0.1).step()
    from ..data import load_dataset
    from ..report.html import environment
    load_dataset("digits")
    environment().get_template("report.html.j2")
    import scipy.optimize  # noqa: F401
    _keep_zygotes()
    _warm = True


def _keep_zygotes() -> None:
    """Student processes fork from these instead of starting Python and NumPy each time (sandbox/launch.py);
    one that died (killed by a student process not running as a uid of its own) is started again."""
    try:
        launch.keep_zygotes(child_environment("", ""))
    except OSError:  # pragma: no cover - each student process then starts a fresh interpreter
        pass


def _assignment(bundle: dict):
    """The Assignment of a bundle (built by runner.assignment_bundle), loaded once per process."""
    with _lock:
        if bundle["digest"] not in _assignments:
            if bundle["builtin"]:
                assignment = load_assignment(None)
            else:
                if not _bundle_root:
                    _bundle_root.append(Path(tempfile.mkdtemp(prefix="grader-assignment-")))
                    atexit.register(shutil.rmtree, _bundle_root[0], True)
                root = _bundle_root[0] / bundle["digest"][:16]
                for rel, text in bundle["files"].items():
                    (root / rel).parent.mkdir(parents=True, exist_ok=True)
                    (root / rel).write_text(text, encoding="utf-8")
                assignment = load_assignment(root / bundle["path"])
            _assignments[bundle["digest"]] = assignment
        return _assignments[bundle["digest"]]


def _starter_shingles(bundle: dict, assignment, exercise_ids) -> set[int]:
    """Shingles of the starter kit of the graded exercises: code every student starts from."""
    from ..starter import starter_source
    key = (bundle["digest"], tuple(exercise_ids or ()))
    with _lock:
        if key not in _starters:
            try:
                _starters[key] = similarity.shingles([starter_source(e, assignment.names)
                                                      for e in assignment.select(exercise_ids)])
            except Exception:  # noqa: BLE001 - the similarity hint is a nicety; grading goes on without it
                _starters[key] = set()
        return _starters[key]


def _max_points(assignment, exercise_ids) -> dict[str, float]:
    """Each selected exercise's points, for the gradebook row of a submission that could not be graded."""
    out = {}
    for exercise in assignment.select(exercise_ids):
        out[exercise.id] = sum(sum(unit_checks(unit, assignment.options).values()) for unit in exercise.units)
    return out


def grade_job(job: dict) -> dict:
    """Grade one submission. Never raises for anything the submission does: every problem becomes a
    record with status error. Returns {"record", "result" (GradeResult.to_dict()), "reports" (file name
    -> text)}."""
    started = time.perf_counter(), _cpu_seconds()
    with ExitStack() as stack:
        stack.enter_context(torch_threads(1))
        try:
            from threadpoolctl import threadpool_limits
            stack.enter_context(threadpool_limits(1))
        except ImportError:  # pragma: no cover
            pass
        if not _warm:
            with _lock:
                warm_up()
        _keep_zygotes()
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="grader-batch-")))
        assignment = _assignment(job["assignment"])
        status, message, shingles = GRADED, "", []
        try:
            path = materialize(job["payload"], tmp / "submission", job["max_bytes"], job["max_files"])
            starter = _starter_shingles(job["assignment"], assignment, job["exercise_ids"])
            shingles = similarity.code_shingles(path, starter)
            result = grade(path, assignment, Seed(job["seed"], job["seed_kind"]), exercise_ids=job["exercise_ids"],
                           hide=job.get("hide", ()))
            if job["payload"].get("links"):
                links = ", ".join(job["payload"]["links"])
                result.notes.append(_("links are not followed: {links}").format(links=links))
            if result.extra.get("timed_out"):
                status = TIMED_OUT
                message = _("stopped by a time limit: {calls}").format(calls=", ".join(result.extra["timed_out"]))
        except (PayloadError, SubmissionError) as error:
            status, message = ERROR, str(error)
            result = _unusable(job, assignment, message)
        except Exception as error:  # noqa: BLE001 - a grader failure on one submission must not stop the batch
            status = ERROR
            message = _("the grader failed on this submission: {error}").format(
                error=f"{type(error).__name__}: {error}")
            result = _unusable(job, assignment, message)
            result.extra["traceback"] = traceback.format_exc()[-4000:]
        return _outcome(job, assignment, result, status, message, shingles, started, tmp)


def unusable_outcome(job: dict, message: str) -> dict:
    """The outcome of a job that failed outside grade_job (its worker died): the same shape, status error."""
    started = time.perf_counter(), _cpu_seconds()
    assignment = _assignment(job["assignment"])
    with tempfile.TemporaryDirectory(prefix="grader-batch-") as tmp:
        return _outcome(job, assignment, _unusable(job, assignment, message), ERROR, message, [], started, Path(tmp))


def _outcome(job, assignment, result, status, message, shingles, started, tmp: Path) -> dict:
    result.submission = job["name"]
    result.penalty = penalty_points(job.get("late"), result.raw_score, result.max_score)
    written = write_reports(result, tmp / "reports")
    reports = {path.name: path.read_text(encoding="utf-8") for path in written.values()}
    maxima = _max_points(assignment, job["exercise_ids"])
    scores = {e.id: e.score for e in result.exercises}
    record = {
        "submission": job["name"], "status": status, "message": message or next(iter(result.errors), ""),
        "raw_score": round(result.raw_score, 6), "penalty": result.penalty,
        "max_score": round(sum(maxima.values()), 6),
        "exercises": {e: round(scores.get(e, 0.0), 6) for e in maxima},
        "checks": [{"exercise": c.exercise, "check": c.name, "kind": c.kind, "status": c.status,
                    "score": c.score, "max_score": c.max_score,
                    "hint": c.hint.code if c.hint else None, "hint_text": c.hint.text if c.hint else None}
                   for c in result.checks()],
        "errors": list(result.errors), "grader_version": __version__,
        "duration_s": round(time.perf_counter() - started[0], 3),
        "cpu_s": round(_cpu_seconds() - started[1], 3),
        "wrong_outputs": similarity.wrong_output_key(result), "shingles": shingles,
    }
    return {"record": record, "result": result.to_dict(), "reports": reports}


def _cpu_seconds() -> float:
    """CPU time of this worker and of the sandbox children it has reaped (the student's code)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _unusable(job: dict, assignment, message: str) -> GradeResult:
    """The result of a submission that could not be graded: the problem, and 0 points everywhere."""
    return GradeResult(submission=job["name"], seed_kind=job["seed_kind"], grader_version=__version__,
                       assignment=assignment.title, errors=[message],
                       exercises=[ExerciseResult(id=e.id, title=_(e.title))
                                  for e in assignment.select(job["exercise_ids"])])
