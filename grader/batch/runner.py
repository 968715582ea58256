"""Grade a class: find the submissions, skip those already graded, grade the rest in parallel, and
write every report, the gradebook and the class summary.

Resume: each submission's outputs go to OUT/<submission>/, written atomically, and a record
(batch-record.json) is written last, as the commit marker. The record holds the cache key, a digest of
what decides the verdicts: the submission's bytes, the assignment file (without its [late] table) and
every exercise file, the grader's version, the seed and the exercises selected. A rerun reuses a record
whose key and late-work assessment are unchanged, so a finished batch reruns in seconds and an
interrupted one (Ctrl-C, kill -9) resumes where it stopped; --force regrades everything.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..assignment import DEFAULT_ASSIGNMENT, Assignment, builtin_dir
from ..i18n import _
from ..report import atomic_write_text
from ..seeds import Seed
from . import gradebook, summary
from .discover import MAX_BYTES, MAX_FILES, Entry, PayloadError, discover, payload_digest, read_payload
from .late import assess, late_policy, submission_times
from .progress import Progress, fmt_duration

RECORD = "batch-record.json"
RESULT = "grade-result.json"  # GradeResult.to_dict(): the full verdicts, for tools and re-rendering
REPORTS = ("report.html", "results.json")
GRADEBOOK, CANVAS, SUMMARY, RUN = "gradebook.csv", "canvas.csv", "summary.html", "batch-run.json"
OVERRIDES = "overrides.csv"


@dataclass
class BatchConfig:
    submissions: Path
    out: Path
    assignment: Assignment
    seed: Seed
    exercise_ids: list[str] | None = None
    workers: int | None = None  # default: the CPUs this process may use
    force: bool = False
    scheduler: str | None = None  # a dask.distributed scheduler address
    times: Path | None = None  # CSV of submission times (submission,submitted_at)
    overrides: Path | None = None  # default OUT/overrides.csv
    canvas: bool = False
    max_bytes: int = MAX_BYTES
    max_files: int = MAX_FILES


@dataclass
class BatchRun:
    total: int = 0
    graded: int = 0  # graded in this run
    reused: int = 0  # unchanged since an earlier run
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    grading_seconds: float = 0.0
    first_result_seconds: float = 0.0  # from the executor's start to the first result: start-up, one grade
    workers: int = 0
    executor: str = "local"
    skipped_entries: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def per_minute(self) -> float:
        return 60.0 * self.graded / self.grading_seconds if self.grading_seconds > 0 else 0.0

    @property
    def steady_per_minute(self) -> float:
        """The rate after the first result, i.e. without the workers' one-time start-up."""
        span = self.grading_seconds - self.first_result_seconds
        return 60.0 * (self.graded - 1) / span if self.graded > 1 and span > 0 else 0.0

    def closing_line(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items()))
        line = _("{total} submissions ({counts}): {graded} graded now, {reused} unchanged; {time}").format(
            total=self.total, counts=counts or "0", graded=self.graded, reused=self.reused,
            time=fmt_duration(self.seconds))
        if self.graded:
            line += _(" ({rate:.1f}/min on {workers} {executor} workers)").format(
                rate=self.per_minute, workers=self.workers, executor=self.executor)
        return line + "\n" + _("gradebook: {gradebook}  summary: {summary}  reports: {reports}").format(
            gradebook=self.outputs.get("gradebook"), summary=self.outputs.get("summary"),
            reports=self.outputs.get("reports"))


# ------------------------------------------------------------------------------------ cache keys


def assignment_bundle(assignment: Assignment) -> dict:
    """What a worker needs to load the assignment, and a digest of everything in it that decides verdicts.
    The built-in assignment is loaded from the worker's own install; an instructor's file travels with
    its exercise files (paths kept relative to a common folder, so `file = "..."` entries still resolve)."""
    import tomllib

    path = Path(assignment.path).resolve()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data.pop("late", None)  # the late policy changes penalties, not verdicts
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode())
    builtin = builtin_dir().resolve()
    own = {}
    for exercise_id in assignment.exercise_ids:
        file = Path(assignment.exercise_files[exercise_id]).resolve()
        digest.update(f"\0{exercise_id}\0".encode() + file.read_bytes())
        if file.parent != builtin:
            own[exercise_id] = file
    digest.update(__version__.encode())
    is_builtin = path == builtin / DEFAULT_ASSIGNMENT
    bundle = {"builtin": is_builtin, "digest": digest.hexdigest(), "path": path.name, "files": {}}
    if not is_builtin:
        base = Path(os.path.commonpath([str(path.parent), *(str(f.parent) for f in own.values())]))
        bundle["path"] = path.relative_to(base).as_posix()
        bundle["files"] = {p.relative_to(base).as_posix(): p.read_text(encoding="utf-8")
                           for p in [path, *own.values()]}
    return bundle


def cache_key(content: str, bundle: dict, seed: Seed, exercise_ids: list[str] | None) -> str:
    parts = [content, bundle["digest"], __version__, seed.kind, str(seed.value), sorted(exercise_ids or [])]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


# ---------------------------------------------------------------------------------- outputs


def _jsonable(value):
    if hasattr(value, "tolist"):  # NumPy arrays and scalars in a result's extra data
        return value.tolist()
    return str(value)


def load_record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save(folder: Path, outcome: dict, key: str, late: dict | None) -> dict:
    """Write a finished submission: reports, then the full result, then the record (the commit marker).
    Each file is replaced atomically, so a kill at any point leaves either the old or the new file."""
    for stale in folder.glob(".*.tmp"):  # temporary files of a run killed while writing here
        stale.unlink(missing_ok=True)
    for name, text in outcome["reports"].items():
        atomic_write_text(folder / name, text)
    atomic_write_text(folder / RESULT, json.dumps(outcome["result"], default=_jsonable))
    record = {**outcome["record"], "key": key, "late": late}
    atomic_write_text(folder / RECORD, json.dumps(record, default=_jsonable))
    return record


def _reusable(record: dict | None, folder: Path, key: str, late: dict | None) -> bool:
    return bool(record) and record.get("key") == key and record.get("late") == late \
        and not record.get("retry") and all((folder / name).is_file() for name in REPORTS)


# ------------------------------------------------------------------------------------ the run


def _job(entry: Entry, payload: dict, key: str, late: dict | None, bundle: dict, config: BatchConfig) -> dict:
    return {"name": entry.name, "key": key, "payload": payload, "late": late, "assignment": bundle,
            "exercise_ids": config.exercise_ids or None, "seed": config.seed.value, "seed_kind": config.seed.kind,
            "max_bytes": config.max_bytes, "max_files": config.max_files,
            # Out of the student's sight: the other submissions (a copy of a classmate's correct module
            # would otherwise be an import away) and every report written so far.
            "hide": [str(Path(config.submissions).resolve()), str(Path(config.out).resolve())]}


def _executor(config: BatchConfig):
    if config.scheduler:
        from .dask_runner import DaskExecutor
        return DaskExecutor(config.scheduler)
    from .pool import LocalPool, default_workers
    return LocalPool(config.workers or default_workers())


def _failed(job: dict, error: BaseException) -> dict:
    """The outcome of a job whose worker failed: reported as this submission's error, and graded again
    on the next run (the failure was the grader's, not the submission's)."""
    from .worker import unusable_outcome
    outcome = unusable_outcome(job, _("the grader failed on this submission: {error}").format(
        error=f"{type(error).__name__}: {error}"))
    outcome["record"]["retry"] = True
    return outcome


def run_batch(config: BatchConfig, stream=None) -> BatchRun:
    """Grade every submission in config.submissions that is not graded yet; write all outputs."""
    started = time.monotonic()
    out = Path(config.out)
    if not out.exists():  # the class's reports: the grader's user alone reads them (docs/security.md)
        out.mkdir(parents=True, mode=0o700)
    run = BatchRun()
    entries, skipped = discover(config.submissions, exclude=(out,))
    run.total, run.skipped_entries = len(entries), [p.name for p in skipped]
    policy = late_policy(config.assignment.options)
    times = submission_times(config.submissions, config.times) if (policy or config.canvas or config.times) else {}
    records, jobs = _plan(config, out, entries, policy, times, run)
    if jobs:
        _grade(config, out, jobs, records, run, stream if stream is not None else sys.stderr)
    ordered = [records[e.name] for e in entries]
    _class_outputs(config, out, ordered, policy, times, run)
    run.seconds = time.monotonic() - started
    atomic_write_text(out / RUN, json.dumps({
        "total": run.total, "graded": run.graded, "reused": run.reused, "statuses": run.statuses,
        "seconds": round(run.seconds, 3), "grading_seconds": round(run.grading_seconds, 3),
        "first_result_seconds": round(run.first_result_seconds, 3), "per_minute": round(run.per_minute, 2),
        "steady_per_minute": round(run.steady_per_minute, 2), "workers": run.workers, "executor": run.executor,
        "seed_kind": config.seed.kind, "grader_version": __version__}, indent=2) + "\n")
    return run


def _plan(config: BatchConfig, out: Path, entries: list[Entry], policy, times, run: BatchRun):
    """Records to reuse (unchanged since an earlier run) and jobs for everything else."""
    bundle = assignment_bundle(config.assignment)
    records: dict[str, dict] = {}
    jobs = []
    for entry in entries:
        try:
            payload = read_payload(entry, config.max_bytes, config.max_files)
        except PayloadError as error:
            payload = {"kind": "error", "filename": entry.path.name, "message": str(error)}
        content = payload_digest(payload) if payload["kind"] != "error" else \
            hashlib.sha256(payload["message"].encode()).hexdigest()
        key = cache_key(content, bundle, config.seed, config.exercise_ids)
        late = assess(policy, entry.name, times.get(entry.name))
        folder = out / entry.name
        record = load_record(folder)
        if not config.force and _reusable(record, folder, key, late):
            records[entry.name] = record
            run.reused += 1
        else:
            jobs.append(_job(entry, payload, key, late, bundle, config))
    return records, jobs


def _grade(config: BatchConfig, out: Path, jobs: list[dict], records: dict, run: BatchRun, stream) -> None:
    """Run the jobs; save each submission as soon as it is done (an interrupt keeps what is saved)."""
    executor = _executor(config)
    run.executor = "dask" if config.scheduler else "local"
    run.workers = executor.workers
    progress = Progress(len(jobs), stream)
    started = time.monotonic()
    try:
        for job, outcome in executor.run(jobs):
            if isinstance(outcome, BaseException):
                outcome = _failed(job, outcome)
            elif outcome["record"].get("grader_version") != __version__:
                mismatch = _("the worker runs grader {theirs}, this machine {ours}").format(
                    theirs=outcome["record"].get("grader_version"), ours=__version__)
                outcome = _failed(job, RuntimeError(mismatch))
            records[job["name"]] = save(out / job["name"], outcome, job["key"], job["late"])
            run.graded += 1
            if run.graded == 1:
                run.first_result_seconds = time.monotonic() - started
            progress.step(job["name"], records[job["name"]]["status"])
    except BaseException:
        executor.close(cancel=True)
        progress.finish()
        raise
    executor.close()
    progress.finish()
    run.grading_seconds = time.monotonic() - started


def _class_outputs(config: BatchConfig, out: Path, ordered: list[dict], policy, times, run: BatchRun) -> None:
    """gradebook.csv (with the overrides), canvas.csv on request, summary.html."""
    ids = config.exercise_ids or config.assignment.exercise_ids
    overrides_path = config.overrides or out / OVERRIDES
    if config.overrides is None:
        gradebook.ensure_overrides_file(overrides_path)
    overrides = gradebook.read_overrides(overrides_path)
    unknown = sorted(set(overrides) - {r["submission"] for r in ordered})
    if unknown:
        run.warnings.append(_("{path} names submissions that are not in this batch: {names}").format(
            path=overrides_path, names=", ".join(unknown)))
    if policy is not None:
        untimed = [r["submission"] for r in ordered if not r.get("late")]
        if untimed:
            run.warnings.append(_("no submission time for {n} submission(s), so no late penalty: {names}").format(
                n=len(untimed), names=", ".join(untimed[:10]) + (" ..." if len(untimed) > 10 else "")))
    table = gradebook.rows(ordered, ids, overrides, late=policy is not None)
    run.outputs["gradebook"] = str(atomic_write_text(
        out / GRADEBOOK, gradebook.to_csv(table, gradebook.columns(ids, late=policy is not None))))
    if config.canvas:
        students = {name: s.students for name, s in times.items()}
        max_score = max((r["max_score"] for r in ordered), default=0.0)
        run.outputs["canvas"] = str(atomic_write_text(
            out / CANVAS, gradebook.canvas_csv(table, students, config.assignment.title, max_score)))
    run.outputs["summary"] = str(summary.write(out / SUMMARY, summary.build(ordered, table, config.assignment.title)))
    run.outputs["reports"] = str(out / "<submission>")
    for record in ordered:
        run.statuses[record["status"]] = run.statuses.get(record["status"], 0) + 1
