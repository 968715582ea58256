"""The `grade` command. `grade PATH` grades a submission; other actions are subcommands."""
from __future__ import annotations

import atexit
import contextlib
import functools
import os
import sys
import textwrap
import threading
from pathlib import Path

import click

from .i18n import LANGUAGES, _, resolve_language, set_language

EXAMPLE = "example"  # `grade --example` grades the bundled model solution


class DefaultGroup(click.Group):
    """A group whose default action is `grade PATH`: an unknown first word is the path. Its help shows
    that action's options, since they are the ones a student uses most."""

    default_command = "submission"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        elif not args:
            args = [self.default_command]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        formatter.write_usage("grade", "[OPTIONS] PATH | COMMAND [ARGS]...")

    def format_options(self, ctx, formatter):
        grading = self.commands[self.default_command]
        records = [p.get_help_record(ctx) for p in grading.get_params(ctx) if p.name != "help"]
        with formatter.section(_("Grading options (grade PATH)")):
            formatter.write_dl([r for r in records if r])
        super().format_options(ctx, formatter)


class GradingContext(click.Context):
    """`grade PATH` runs a hidden subcommand; its messages name `grade`, the command the help shows."""

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else super().command_path


class GradingCommand(click.Command):
    context_class = GradingContext

    def format_usage(self, ctx, formatter):
        formatter.write_usage("grade", "[OPTIONS] PATH")


def usage_error(message: str) -> None:
    click.echo(f"grade: error: {message}", err=True)
    sys.exit(2)


def grading_options(command):
    """The options every grading command shares: which exercises, which assignment, which seed."""
    for option in reversed((
            click.option("-e", "--exercise", "exercises", multiple=True,
                         help="Grade only this exercise id (repeatable)."),
            click.option("--assignment", type=click.Path(path_type=Path),
                         help="Assignment file (TOML). Default: the bundled one."),
            click.option("--seed-file", type=click.Path(path_type=Path),
                         help="File holding the instructor's private seed."))):
        command = option(command)
    return command


@click.group("grade", cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nn-autograder", prog_name="grade")
def main():
    """Grade NumPy neural-network coursework against PyTorch references.

    \b
    grade submission/            grade a folder, a .py file, a notebook or a .zip
    grade --example              grade the bundled example submission
    grade list                   the assignment's exercises and points
    grade starter --out DIR      write the student starter kit
    grade init-ci                write a CI workflow into a student repository
    grade gradescope-bundle      write a Gradescope autograder.zip
    grade batch DIR --out OUT    grade a class in parallel: reports, gradebook, summary
    grade new-exercise NAME      write an exercise file of your own to start from
    grade validate               check an assignment before release (references, mistakes, solution)
    """


def _assignment(path):
    from .assignment import AssignmentError, load_assignment
    try:
        spec = load_assignment(Path(path) if path else None)
    except AssignmentError as error:
        usage_error(str(error))
    for warning in spec.warnings:  # e.g. written for a newer grader
        click.echo(_("grade: warning: {warning}").format(warning=warning), err=True)
    return spec


def _select(spec, exercises=()):
    """The exercises graded, loaded now: an exercise file that fails or a key only exercises know
    ([points.<id>] kinds, [names]) is a usage error here, not midway through grading."""
    from .assignment import AssignmentError
    try:
        return spec.select(list(exercises) or None)
    except AssignmentError as error:
        usage_error(str(error))


@contextlib.contextmanager
def _unpacked(path: Path):
    """A .zip's files in a temporary folder, unpacked as `grade batch` unpacks them (no entry outside
    the folder, no links, size and count capped); any other path as it is."""
    if path.suffix.lower() != ".zip" or not path.is_file():
        yield path
        return
    import tempfile

    from .batch.discover import PayloadError, unpack_zip
    with tempfile.TemporaryDirectory(prefix="grade-zip-") as folder:
        target = Path(folder) / path.stem
        try:
            unpack_zip(path.read_bytes(), target)
        except (PayloadError, OSError) as error:
            usage_error(f"{path}: {error}")
        yield target


def example_path() -> Path:
    from .assignment import builtin_dir
    return builtin_dir() / "solution"


@main.command("submission", cls=GradingCommand, hidden=True)
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("grade-report"), show_default=True,
              help="Folder for report.html, results.json and report.md.")
@grading_options
@click.option("--example", is_flag=True, help="Grade the bundled example submission.")
@click.option("--color/--no-color", default=None, help="Colour in the terminal (default: when it is a terminal).")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="Language of the feedback (default: the assignment's `language`, else the locale).")
@click.option("--notebook-mode", type=click.Choice(["defs", "tagged", "all"]), default=None,
              help="Notebooks: grade only definitions (defs, the default), only cells tagged `grade` (tagged), or "
                   "run every cell (all). Overrides the assignment's notebook_mode.")
@click.option("--timing", is_flag=True, default=None,
              help="Also time the training workload: your NumPy code, PyTorch on CPU and on CUDA (if present). "
                   "Information only, no points. Same as `timing = true` in the assignment.")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Local folder holding MNIST (MNIST/raw/) or CIFAR-10 (cifar-10-batches-py/); nothing is "
                   "downloaded. The CIFAR-10 batches are pickles: use a folder you trust.")
@click.option("--dataset", type=click.Choice(["digits", "mnist", "cifar10"]), default=None,
              help="Data set of the training check and the timing (default: the exercise's, scikit-learn's digits).")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write JUnit XML here (one test per check), for CI test reports.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PERCENT",
              help="Exit with status 1 when the score is below PERCENT of the maximum (a CI job then fails).")
def grade_command(path, out_dir, exercises, assignment, seed_file, example, color, notebook_mode, timing, data_dir,
                  dataset, junit_path, fail_under, lang):
    """Grade the submission at PATH: a folder, a .py file, a notebook or a .zip of them."""
    from .assignment import AssignmentError
    from .loader import SubmissionError
    from .seeds import SeedError, resolve_seed

    set_language(resolve_language(lang))  # --lang, else the locale; an assignment's `language` is applied below
    if example:
        path = example_path()
    if path is None:
        usage_error(_("give the path of a submission (a folder, a .py file, a notebook or a .zip), or --example."))
    if not path.exists():
        usage_error(_("{path} does not exist; expected a folder, a .py file, a notebook or a .zip.").format(
            path=path))
    spec = _assignment(assignment)
    if not lang and spec.options.get("language"):
        try:
            set_language(spec.options["language"])
        except ValueError as error:
            usage_error(str(error))
    if notebook_mode:
        spec.options["notebook_mode"] = notebook_mode
    if timing:
        spec.options["timing"] = spec.options.get("timing") or True  # keep a [timing] table's settings
    if data_dir:
        spec.options["data_dir"] = str(data_dir)
    if dataset:
        spec.options["dataset"] = dataset
    try:
        seed = resolve_seed(spec.practice_seed, seed_file)
        spec.select(list(exercises))
    except (SeedError, AssignmentError) as error:
        usage_error(str(error))

    from .engine import grade
    from .report import prepare, write_reports
    from .report.terminal import render_terminal
    reporters = functools.partial(prepare, ("html", "json", "md", *(("junit",) if junit_path else ())))
    with _unpacked(path) as folder:
        try:
            result = grade(folder, spec, seed, exercise_ids=list(exercises) or None, meanwhile=reporters)
        except (SubmissionError, AssignmentError) as error:
            usage_error(str(error).replace(str(folder), str(path)))  # the student's path, not a temporary one
    result.submission = str(path)
    written = write_reports(result, out_dir, junit_path=junit_path)
    click.echo(render_terminal(result, color=color, report_path=str(written.get("html", out_dir))))
    from .ci import publish_github, threshold_failure
    publish_github(result, echo=click.echo)  # only inside GitHub Actions
    failure = threshold_failure(result, fail_under)
    if failure:
        click.echo(f"grade: {failure}", err=True)
        sys.exit(1)


@main.command("list")
@click.option("--assignment", type=click.Path(path_type=Path), help="Assignment file (TOML).")
def list_command(assignment):
    """Print the assignment's exercises with their checks and points."""
    spec = _assignment(assignment)
    for exercise in _select(spec):
        total = sum(sum(u.checks.values()) for u in exercise.units)
        click.echo(f"{exercise.id:<16} {total:6.1f}  {exercise.title}")
        for unit in exercise.units:
            checks = ", ".join(f"{k} {v:g}" for k, v in unit.checks.items())
            click.echo(f"    {' / '.join(unit.graded_names()):<40} {checks}")
    from .assignment import builtin_exercises
    others = {i: text for i, text in builtin_exercises().items() if i not in spec.exercise_ids}
    if others:
        click.echo("\n" + _("Other built-in exercises (add their ids to `exercises` in an assignment file):"))
        for exercise_id, text in others.items():
            click.echo(f"  {exercise_id:<16} {textwrap.shorten(text, 62, placeholder='...')}")


@main.command("starter")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Folder to write the kit into.")
@click.option("--assignment", type=click.Path(path_type=Path), help="Assignment file (TOML).")
def starter_command(out_dir, assignment):
    """Write the student starter kit: stubs with docstrings that raise NotImplementedError."""
    from .starter import write_starter
    spec = _assignment(assignment)
    _select(spec)
    for path in write_starter(spec, out_dir):
        click.echo(str(path))


@main.command("init-ci")
@click.option("--provider", type=click.Choice(["github", "gitlab"]), default="github", show_default=True)
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."), show_default=True,
              help="The student repository to write the workflow into.")
@click.option("--submission", default=".", show_default=True, help="The submission's path inside the repository.")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=100.0, show_default=True, metavar="PERCENT",
              help="The job fails when the score is below PERCENT of the maximum.")
@click.option("--assignment", help="The course's assignment file, as a path inside the repository.")
@click.option("--package", help="pip requirement that installs the grader. Default: this exact version.")
@click.option("--force", is_flag=True, help="Replace an existing workflow file.")
def init_ci_command(provider, repo, submission, fail_under, assignment, package, force):
    """Write a CI workflow that grades every push with the practice seed."""
    from .init_ci import InitCIError, write_workflow
    try:
        path = write_workflow(repo, provider, force=force, submission=submission, fail_under=fail_under,
                              assignment=assignment, package=package)
    except InitCIError as error:
        usage_error(str(error))
    click.echo(str(path))


@main.command("gradescope-bundle")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=Path("autograder.zip"),
              show_default=True)
@click.option("--assignment", type=click.Path(path_type=Path), help="Assignment file (TOML). Default: the bundled one.")
@click.option("--seed-file", type=click.Path(path_type=Path),
              help="The private seed, stored in the bundle. Without it Gradescope grades with the practice seed.")
@click.option("--package", help="pip requirement that installs the grader. Default: this exact version.")
def gradescope_bundle_command(out, assignment, seed_file, package):
    """Write a Gradescope autograder zip (setup.sh, run_autograder, the assignment)."""
    from .gradescope_bundle import BundleError, write_bundle
    try:
        path = write_bundle(out, assignment, seed_file, package)
    except BundleError as error:
        usage_error(str(error))
    if seed_file is None:
        click.echo(_("warning: no --seed-file; Gradescope will grade with the public practice seed."), err=True)
    click.echo(str(path))


@main.command("batch")
@click.argument("submissions", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder for the reports (OUT/<submission>/), gradebook.csv and summary.html.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Submissions graded at once. Default: the CPUs this process may use.")
@grading_options
@click.option("--practice", is_flag=True, help="Grade with the public practice seed instead of the private one.")
@click.option("--force", is_flag=True, help="Regrade every submission, even those unchanged since the last run.")
@click.option("--times", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CSV of submission times (submission,submitted_at) when there is no Gradescope metadata.")
@click.option("--overrides", type=click.Path(path_type=Path, dir_okay=False),
              help="CSV of manual adjustments (submission,points,comment). Default: OUT/overrides.csv.")
@click.option("--canvas", is_flag=True, help="Also write OUT/canvas.csv for Canvas's gradebook import.")
@click.option("--scheduler", metavar="ADDRESS", help="Grade on a Dask cluster (e.g. tcp://host:8786).")
def batch_command(submissions, out_dir, jobs, exercises, assignment, seed_file, practice, force, times, overrides,
                  canvas, scheduler):
    """Grade every submission in SUBMISSIONS (folders, .py files, notebooks, .zip files)."""
    from .batch import BatchConfig, run_batch
    from .batch.gradebook import OverrideError
    from .batch.late import LateError
    from .seeds import Seed, SeedError, resolve_seed

    spec = _assignment(assignment)
    _select(spec, exercises)
    try:
        seed = Seed(spec.practice_seed, "practice") if practice else resolve_seed(spec.practice_seed, seed_file)
    except SeedError as error:
        usage_error(str(error))
    if seed.kind != "private" and not practice:
        usage_error(_("batch grading uses the instructor's private seed: set GRADER_PRIVATE_SEED or GRADER_SEED_FILE, "
                      "or give --seed-file (or --practice to grade with the public practice seed)."))
    config = BatchConfig(submissions=submissions, out=out_dir, assignment=spec, seed=seed,
                         exercise_ids=list(exercises) or None, workers=jobs, force=force, scheduler=scheduler,
                         times=times, overrides=overrides, canvas=canvas)
    try:
        run = run_batch(config)
    except (LateError, OverrideError) as error:
        usage_error(str(error))
    except KeyboardInterrupt:
        click.echo(_("interrupted: the submissions graded so far are kept; run the same command again to "
                     "resume."), err=True)
        sys.exit(130)
    for warning in run.warnings:
        click.echo(_("warning: {warning}").format(warning=warning), err=True)
    click.echo(run.closing_line())


@main.command("new-exercise")
@click.argument("name")
@click.option("--dir", "folder", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="Folder to write NAME.py into (beside the assignment file).")
@click.option("--force", is_flag=True, help="Replace an existing NAME.py.")
def new_exercise_command(name, folder, force):
    """Write NAME.py: a working exercise (a layer normalization) whose comments teach the format."""
    from .scaffold import ScaffoldError, toml_snippet, write_exercise
    try:
        path = write_exercise(name, folder, force=force)
    except ScaffoldError as error:
        usage_error(str(error))
    click.echo(f"wrote {path}\n\nReference it from the assignment file in the same folder:\n\n"
               f"{toml_snippet(name, path)}\nthen check it with: grade validate --assignment ASSIGNMENT "
               f"--solution SOLUTION_DIR")


@main.command("validate")
@click.option("--assignment", type=click.Path(path_type=Path), help="Assignment file (TOML). Default: the bundled one.")
@click.option("--solution", type=click.Path(path_type=Path, exists=True),
              help="The model solution. Default: solution/ beside the assignment file.")
@click.option("-e", "--exercise", "exercises", multiple=True, help="Validate only this exercise id (repeatable).")
def validate_command(assignment, solution, exercises):
    """Check an assignment before release; exit 1 when it has defects.

    References are deterministic, finite, and their autograd gradients match finite differences; a zero
    or constant output fails every case; every catalogued mistake is caught and named; the model
    solution gets full marks; the starter kit gets 0.
    """
    from .assignment import AssignmentError
    from .validate import validate
    spec = _assignment(assignment)
    try:
        spec.select(list(exercises))
        report = validate(spec, solution=solution, exercise_ids=list(exercises) or None,
                          progress=lambda line: click.echo(f"grade validate: {line}", err=True))
    except AssignmentError as error:
        usage_error(str(error))
    click.echo(report.render())
    sys.exit(1 if report.defects else 0)


def run() -> None:
    """The `grade` program: main(), then, when PyTorch was loaded, an exit that skips the interpreter's
    teardown. Unloading torch takes about a second, more than grading an exercise, and there is nothing
    left to tear down: every sandbox, temporary folder and report is closed by the `with` blocks that
    opened it. Threads still running are joined and the atexit handlers run, as at a normal exit."""
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code
    if "torch" not in sys.modules or not hasattr(atexit, "_run_exitfuncs"):
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach the reader anyway
            pass
    os._exit(code & 0xFF)


if __name__ == "__main__":  # pragma: no cover
    run()
