"""The grader's own wheel, built from the running installation.

A Gradescope bundle and a student repository carry this wheel, so what they install is exactly the
grader that wrote them, with no package index that has to know it. Two ways to build it:

- from a source tree (a checkout, an editable install): pip builds the wheel with setuptools, from a
  copy of the tree, so nothing is written into the instructor's folder and no stale build/ leaks in;
- from an installed package (pip install of a wheel): its installed files, as listed in its RECORD,
  are packed back into a wheel by the `wheel` library (what `wheel pack` does, in this process), which
  regenerates the RECORD.

Both run offline (no build isolation, no dependencies resolved) and refuse a wheel whose version is
not the running one. A build from a source tree takes pip a couple of seconds, so its wheel is kept in
the user's cache (XDG_CACHE_HOME, else ~/.cache: nn-autograder/wheels/), under a hash of every file it
is built from: a checkout whose files have not changed since gets the same wheel back at once, and any
change builds anew.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from . import __version__, cache
from .i18n import _

DISTRIBUTION = "nn-autograder"
# Files of an installed distribution that describe this installation, not the package.
_INSTALL_RECORDS = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}
_NOT_SOURCE = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", "*.mo",
                                     "tests", ".pytest_cache", ".hypothesis", "grade-report", "test-artifacts")


class WheelError(Exception):
    """The wheel could not be built; the message says why and what to do instead."""


def wheel_name(version: str = __version__) -> str:
    return f"nn_autograder-{version}-py3-none-any.whl"


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def source_tree() -> Path | None:
    """The source checkout the running grader is imported from, if it is one."""
    root = _package_dir().parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(rf'^name\s*=\s*"{DISTRIBUTION}"', pyproject.read_text(encoding="utf-8"), re.M):
        return root
    return None


def _installed_distribution() -> importlib.metadata.Distribution | None:
    """The installed distribution whose files are the running grader (not a stale one elsewhere on the path)."""
    here = _package_dir() / "__init__.py"
    for dist in importlib.metadata.distributions():
        if (dist.metadata["Name"] or "").lower().replace("_", "-") != DISTRIBUTION:
            continue
        try:
            if Path(dist.locate_file("grader/__init__.py")).resolve() == here:
                return dist
        except OSError:
            continue
    return None


def _cannot_build(what: str, error: str) -> WheelError:
    return WheelError(_("cannot build the grader's wheel ({what}): {error}\nGive --package to install the "
                        "grader from elsewhere (a git URL, an index).").format(what=what, error=error))


def _run(command: list[str], what: str) -> None:
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise _cannot_build(what, (run.stderr or run.stdout).strip()[-2000:])


def _from_source(root: Path, out: Path) -> None:
    copy = out.parent / "source"
    shutil.copytree(root, copy, ignore=_NOT_SOURCE)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "--wheel-dir", str(out), str(copy)], "pip wheel")


def _from_installation(dist: importlib.metadata.Distribution, out: Path) -> None:
    unpacked = out.parent / "unpacked"
    for file in dist.files or []:
        parts = file.parts
        if ".." in parts or "__pycache__" in parts or file.suffix in (".pyc", ".mo") or (
                parts[0].endswith(".dist-info") and file.name in _INSTALL_RECORDS):
            continue  # scripts outside site-packages are regenerated from entry_points.txt at install
        target = unpacked.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dist.locate_file(file), target)
    from wheel.wheelfile import WheelFile  # the library behind `wheel pack`, without its process
    try:
        with WheelFile(out / wheel_name(), "w") as packed:
            packed.write_files(str(unpacked))
    except (OSError, ValueError) as error:
        raise _cannot_build("wheel", str(error)) from None


def source_fingerprint(root: Path) -> str:
    """A hash of every file a build from `root` copies (the names and the bytes), with the version."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(__version__.encode())
    for folder, dirs, files in os.walk(root):
        ignored = _NOT_SOURCE(folder, dirs + files)
        dirs[:] = sorted(d for d in dirs if d not in ignored)
        for name in sorted(f for f in files if f not in ignored):
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def _cached(root: Path, out: Path, folder: Path | None) -> None:
    """The source tree's wheel into `out`: from the cache when one was built from the same files, else
    built by pip and kept there (grader/cache.py)."""
    slot = None if folder is None else folder / source_fingerprint(root) / wheel_name()
    if slot is not None and slot.is_file():
        try:
            with zipfile.ZipFile(slot) as wheel:
                whole = wheel.testzip() is None
        except (OSError, zipfile.BadZipFile):
            whole = False
        if whole:
            shutil.copyfile(slot, out / wheel_name())
            return
    _from_source(root, out)
    built = out / wheel_name()
    if slot is not None and built.is_file():
        cache.write(slot, built.read_bytes())


@functools.cache
def own_wheel(keep_in: Path | None = None) -> tuple[str, bytes]:
    """(file name, contents) of the running grader's wheel; built once per process, and from a source
    tree once per state of its files (kept in `keep_in`, default the user's cache: grader/cache.py)."""
    with tempfile.TemporaryDirectory(prefix="nn-autograder-wheel-") as folder:
        out = Path(folder) / "wheel"
        out.mkdir()
        root, dist = source_tree(), None
        if root is None:
            dist = _installed_distribution()
            if dist is None:
                raise WheelError(_("cannot find how the running grader was installed, so cannot build its "
                                   "wheel. Give --package to install the grader from elsewhere (a git URL, "
                                   "an index)."))
        if root is not None:
            _cached(root, out, keep_in or cache.cache_dir("wheels"))
        else:
            _from_installation(dist, out)
        wheels = list(out.glob("*.whl"))
        if [w.name for w in wheels] != [wheel_name()]:
            raise WheelError(_("built {got} instead of {want}: the grader's source and the running grader "
                               "differ; reinstall the grader.").format(
                got=", ".join(w.name for w in wheels) or _("nothing"), want=wheel_name()))
        return wheels[0].name, wheels[0].read_bytes()
