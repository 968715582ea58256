"""`grade init-ci`: write a CI workflow into a student repository.

The workflow installs CPU-only PyTorch (the default wheel pulls gigabytes of CUDA libraries a CI runner
cannot use) and this exact grader, from its wheel written into the repository's .grader/ folder (so the
checks a student sees in CI are the ones the course runs, and no package index has to know the
grader), or what --package names (a git URL, an index's requirement) when the instructor prefers; grades with the public practice seed, keeps the report as an artifact and fails the job when
the score is under a threshold. The commands are built here once; the README shows the same ones.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from . import __version__
from .i18n import _

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CPU = f"pip install torch --index-url {TORCH_CPU_INDEX}"
REPORT_DIR = "grade-report"
WHEEL_DIR = ".grader"  # in the student repository: the grader's wheel the workflow installs
DEFAULT_FAIL_UNDER = 100.0

# provider -> (template under templates/ci/, where the workflow goes in the repository)
PROVIDERS = {
    "github": ("github.yml.j2", ".github/workflows/grade.yml"),
    "gitlab": ("gitlab-ci.yml.j2", ".gitlab-ci.yml"),
}


class InitCIError(Exception):
    pass


def _plain(value: str, what: str) -> str:
    # Values land in YAML and shell lines; a line break or control character would split either.
    if not value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InitCIError(_("{what} must be one line of printable text: {value!r}").format(what=what, value=value))
    return value


def install_commands(package: str | None = None) -> list[str]:
    """CPU-only torch, then the grader: --package when given, else this grader's wheel in WHEEL_DIR."""
    from .own_wheel import wheel_name
    return [TORCH_CPU, shlex.join(["pip", "install", _plain(package, "--package") if package is not None
                                   else f"{WHEEL_DIR}/{wheel_name()}"])]


def grade_command(submission: str = ".", fail_under: float = DEFAULT_FAIL_UNDER, assignment: str | None = None) -> str:
    """The grading command of a CI job: practice seed (no seed option), reports in REPORT_DIR."""
    parts = ["grade", _plain(submission, "--submission"), "--out", REPORT_DIR,
             "--junit", f"{REPORT_DIR}/junit.xml", "--fail-under", f"{fail_under:g}"]
    if assignment:
        parts += ["--assignment", _plain(assignment, "--assignment")]
    return shlex.join(parts)


def render_template(name: str, **values) -> str:
    """Render a text template from the package's templates/ (YAML, shell: no HTML escaping)."""
    import jinja2
    env = jinja2.Environment(loader=jinja2.PackageLoader("grader.templates", ""), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["yaml"] = json.dumps  # a JSON string is a valid double-quoted YAML scalar
    env.filters["shell"] = shlex.quote
    return env.get_template(name).render(version=__version__, **values)


def render_workflow(provider: str = "github", submission: str = ".", fail_under: float = DEFAULT_FAIL_UNDER,
                    assignment: str | None = None, package: str | None = None) -> str:
    if provider not in PROVIDERS:
        raise InitCIError(_("unknown CI provider {provider!r}; known: {known}").format(
            provider=provider, known=", ".join(PROVIDERS)))
    return render_template(f"ci/{PROVIDERS[provider][0]}", install=install_commands(package),
                           grade=grade_command(submission, fail_under, assignment), report_dir=REPORT_DIR)


def write_workflow(repo: Path, provider: str = "github", *, force: bool = False, **options) -> Path:
    """Write the provider's workflow file into the repository at `repo`, and the grader's wheel into its
    WHEEL_DIR unless --package names another source; refuse to overwrite a workflow."""
    text = render_workflow(provider, **options)
    target = Path(repo) / PROVIDERS[provider][1]
    if target.exists() and not force:
        raise InitCIError(_("{path} already exists; merge the grading job into it by hand, or pass --force "
                            "to replace it.").format(path=target))
    if options.get("package") is None:
        write_wheel(Path(repo) / WHEEL_DIR)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def write_wheel(folder: Path) -> Path:
    """The running grader's wheel into `folder`, replacing the wheels of other grader versions there."""
    from .own_wheel import WheelError, own_wheel
    try:
        name, data = own_wheel()
    except WheelError as error:
        raise InitCIError(str(error)) from None
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("nn_autograder-*.whl"):
        if old.name != name:
            old.unlink()
    (folder / name).write_bytes(data)
    return folder / name
