"""pytest plugin: `pytest --grade-submission PATH` grades once and reports one test per check, and
collects nothing else (the folder's own tests are not run).

It is registered under the pytest11 entry point, so it loads in every pytest run of every project
that installs the grader. Without --grade-submission it adds its options and nothing else: the grading
modules (NumPy, PyTorch) are imported only inside the hook, once the option is given.
"""
from __future__ import annotations

import pytest

_RESULT = pytest.StashKey[object]()


def pytest_addoption(parser):
    group = parser.getgroup("nn-autograder", "grade a NumPy neural-network submission")
    group.addoption("--grade-submission", metavar="PATH", default=None,
                    help="Grade this submission (a folder, a .py file or a notebook): one test per check.")
    group.addoption("--grade-exercise", metavar="ID", action="append", default=[],
                    help="Grade only this exercise (repeatable).")
    group.addoption("--grade-assignment", metavar="FILE", default=None,
                    help="Assignment file (TOML). Default: the bundled one.")


def pytest_ignore_collect(collection_path, config):
    """A grading run collects the checks and nothing else: run from the grader's own checkout or from a
    student repository with tests of its own, it reports the grade only."""
    if config.getoption("grade_submission", None):
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect, so they apply to checks too
def pytest_collection_modifyitems(session, config, items):
    path = config.getoption("grade_submission")
    if path:
        run = GradingRun.from_parent(session, name="grade", nodeid="grade")  # not "::grade"
        items.extend(run.collect())


def _grade(config):
    """Grade with the practice seed (or the private one from GRADER_PRIVATE_SEED / GRADER_SEED_FILE)."""
    from pathlib import Path

    from .assignment import AssignmentError, load_assignment
    from .engine import grade
    from .i18n import _, resolve_language, set_language
    from .loader import SubmissionError
    from .seeds import SeedError, resolve_seed

    path = Path(config.getoption("grade_submission"))
    if not path.exists():
        raise pytest.UsageError("--grade-submission: " + _("{path} does not exist; expected a folder, a .py file or "
                                                         "a notebook.").format(path=path))
    exercises = config.getoption("grade_exercise") or None
    assignment = config.getoption("grade_assignment")
    try:
        spec = load_assignment(Path(assignment) if assignment else None)
        set_language(resolve_language(None, spec.options.get("language")))  # as `grade` does
        spec.select(exercises)
        seed = resolve_seed(spec.practice_seed)
    except (AssignmentError, SeedError, ValueError) as error:
        raise pytest.UsageError(str(error)) from None
    try:
        return grade(path, spec, seed, exercise_ids=exercises), None
    except SubmissionError as error:  # the submission's problem: one failing test that says why
        return None, str(error)


class GradingRun(pytest.Collector):
    """The graded submission: one child per exercise."""

    def collect(self):
        result, problem = _grade(self.config)
        if problem is not None:
            yield SubmissionProblem.from_parent(self, name="submission", message=problem)
            return
        self.config.stash[_RESULT] = result
        for exercise in result.exercises:
            yield from ExerciseNode.from_parent(self, name=exercise.id, exercise=exercise).collect()


class ExerciseNode(pytest.Collector):
    def __init__(self, *, exercise, **kwargs):
        super().__init__(**kwargs)
        self.exercise = exercise

    def collect(self):
        seen: dict[str, int] = {}
        for check in self.exercise.checks:
            seen[check.name] = seen.get(check.name, 0) + 1
            name = check.name if seen[check.name] == 1 else f"{check.name} ({seen[check.name]})"
            yield CheckItem.from_parent(self, name=name, check=check)


class CheckFailed(Exception):
    pass


class CheckItem(pytest.Item):
    """One check. Its verdict was reached while collecting; running it reports that verdict."""

    def __init__(self, *, check, **kwargs):
        super().__init__(**kwargs)
        self.check = check
        self.user_properties += [("score", check.score), ("max_score", check.max_score)]  # pytest's JUnit XML

    def runtest(self):
        from .report import summary_line
        from .results import PASSED, SKIPPED
        if self.check.status == SKIPPED:
            pytest.skip(summary_line(self.check))
        if self.check.status != PASSED:
            raise CheckFailed()

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailed):
            from .report import check_text, fmt_points
            from .i18n import _
            points = _("{score} of {max} points").format(score=fmt_points(self.check.score),
                                                          max=fmt_points(self.check.max_score))
            return f"{check_text(self.check)}\n({points})"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.check.exercise}: {self.name}"


class SubmissionProblem(pytest.Item):
    def __init__(self, *, message, **kwargs):
        super().__init__(**kwargs)
        self.message = message

    def runtest(self):
        raise CheckFailed()

    def repr_failure(self, excinfo, style=None):
        return self.message if isinstance(excinfo.value, CheckFailed) else super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, self.name


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    result = config.stash.get(_RESULT, None)
    if result is not None:
        from .i18n import _
        from .report import fmt_points, seed_note
        terminalreporter.write_sep("=", _("Score: {score} / {max}").format(
            score=fmt_points(result.score), max=fmt_points(result.max_score)), bold=True)
        terminalreporter.write_line(seed_note(result.seed_kind))
