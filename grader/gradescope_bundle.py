"""`grade gradescope-bundle`: the autograder.zip Gradescope builds its grading image from.

Gradescope's autograder specification: setup.sh and run_autograder at the root of the zip, which is
unpacked into /autograder/source. setup.sh runs once, as root, while the image is built; for every
submission run_autograder runs from /autograder with the student's files in /autograder/submission
and must write /autograder/results/results.json (grader/report/gradescope.py, which carries each
check's visibility, so hidden checks stay hidden).

Beside the scripts the zip holds the grader's own wheel (grader/own_wheel.py: the running grader,
installed by setup.sh without a package index that has to know it; --package installs another
source instead), the assignment (assignment.toml, plus the instructor's own exercise
files it names) and, with --seed-file, the private seed (seed.txt). run_autograder hands the seed to
`grade --seed-file`: the grading process reads it, and student code, which runs in the sandbox child
with an environment built from nothing and no seed argument, is never given it.

Residual risk: run_autograder runs as root and seed.txt is readable by root only (mode 600). Where
the platform allows, the sandbox runs the child as a user of its own with the grader's paths hidden
(results.json's extra_data.protections says whether `unprivileged_user` and `hidden_paths` were in
force); where it cannot, student code runs as root like run_autograder and can simply open
/autograder/source/seed.txt. Making that impossible everywhere is the sandbox's hardening work; until
it is confirmed on Gradescope, use a fresh seed each term and treat private inputs as hard to see,
not as secret. docs/security.md ("Seed files") has the sandbox's side.
"""
from __future__ import annotations

import argparse
import io
import json
import shlex
import zipfile
from pathlib import Path

from . import __version__
from .i18n import _

ASSIGNMENT_FILE = "assignment.toml"
SEED_FILE = "seed.txt"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same inputs build the same zip

README = """\
nn-autograder {version}: Gradescope autograder.

setup.sh        installs Python, CPU-only PyTorch and {package} (once, when Gradescope builds the image)
run_autograder  grades /autograder/submission into /autograder/results (results.json, report.html, report.md)
{files}

{seed}

SECURITY: run_autograder runs as root; seed.txt is readable by root only. The grader never passes
the seed to student code, and runs that code as a user of its own where the platform allows (see
extra_data.protections.unprivileged_user in results.json); where it cannot, student code runs as root
and could read source/seed.txt. Use a fresh seed each term.
"""


class BundleError(Exception):
    pass


def bundle_files(assignment: Path | None = None, seed_file: Path | None = None,
                 package: str | None = None) -> dict[str, tuple[bytes, int]]:
    """The zip's contents: name -> (bytes, Unix mode)."""
    from .assignment import AssignmentError, builtin_dir, load_assignment
    from .init_ci import TORCH_CPU_INDEX, InitCIError, install_commands, render_template
    from .own_wheel import WheelError, own_wheel
    from .seeds import SeedError, resolve_seed

    try:
        spec = load_assignment(assignment)
        spec.select(None)  # every exercise file loads now, not at the first student's submission
        if seed_file is not None:
            resolve_seed(spec.practice_seed, seed_file)  # readable and not empty
        install_commands(package)  # validates the package requirement
    except (AssignmentError, SeedError, InitCIError) as error:
        raise BundleError(str(error)) from None

    files: dict[str, tuple[bytes, int]] = {ASSIGNMENT_FILE: (spec.path.read_bytes(), 0o644)}
    folder, builtin = spec.path.parent.resolve(), builtin_dir().resolve()
    for exercise_id, path in spec.exercise_files.items():
        path = path.resolve()
        if path.is_relative_to(builtin):
            continue  # installed with the grader
        if not path.is_relative_to(folder):
            raise BundleError(_("exercise {id!r}: {path} is outside the assignment's folder; move it beside "
                                "the assignment file.").format(id=exercise_id, path=path))
        files[path.relative_to(folder).as_posix()] = (path.read_bytes(), 0o644)
    if seed_file is not None:
        files[SEED_FILE] = (Path(seed_file).read_bytes(), 0o600)

    if package is None:
        try:
            wheel, data = own_wheel()
        except WheelError as error:
            raise BundleError(str(error)) from None
        files[wheel] = (data, 0o644)
        package, install = wheel, f'"$SOURCE/{wheel}"'  # setup.sh installs the bundled wheel
    else:
        install = shlex.quote(package)
    values = dict(install=install, seed=seed_file is not None, torch_index=TORCH_CPU_INDEX)
    files["setup.sh"] = (render_template("gradescope/setup.sh.j2", **values).encode(), 0o755)
    files["run_autograder"] = (render_template("gradescope/run_autograder.j2", **values).encode(), 0o755)
    described = {ASSIGNMENT_FILE: "the assignment", ".py": "an exercise file", ".whl": "the grader, installed by setup.sh"}
    listing = "\n".join(f"{name:<15} " + (described.get(name) or described[Path(name).suffix])
                         for name in files if name.endswith((".py", ".toml", ".whl")))
    seed = ("seed.txt        the private seed: the grade uses private inputs" if seed_file is not None else
            "No seed.txt: Gradescope grades with the assignment's public practice seed.")
    files["README.txt"] = (README.format(version=__version__, package=package, files=listing, seed=seed).encode(),
                           0o644)
    return files


def write_bundle(out: Path, assignment: Path | None = None, seed_file: Path | None = None,
                 package: str | None = None) -> Path:
    files = bundle_files(assignment, seed_file, package)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, mode) in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = (0o100000 | mode) << 16  # a regular file with its permissions
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    from .report import atomic_write_bytes
    # The file stays the owner's only (0600), fitting a zip that holds the private seed.
    return atomic_write_bytes(out, buffer.getvalue())


def write_fallback_results(results: Path, log: Path) -> Path:
    """results.json for a submission the grader refused (exit status 2): 0 points and its message,
    so the student reads why instead of Gradescope's "the autograder failed"."""
    from .report import atomic_write_text, clip, sanitize
    try:
        text = Path(log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    lines = [line.removeprefix("grade: error: ") for line in sanitize(text).strip().splitlines()]
    message = "\n".join(lines) or _("The grader stopped without saying why.")
    data = {"score": 0.0, "output": _("Your submission could not be graded:") + "\n" + clip(message, 8000),
            "output_format": "text", "tests": []}
    return atomic_write_text(results, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def main(argv=None) -> int:  # run_autograder's helper: python -m grader.gradescope_bundle --fallback ...
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope_bundle")
    parser.add_argument("--fallback", nargs=2, metavar=("RESULTS_JSON", "GRADER_LOG"), required=True)
    args = parser.parse_args(argv)
    write_fallback_results(Path(args.fallback[0]), Path(args.fallback[1]))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
