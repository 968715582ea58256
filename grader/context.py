"""The context a check runs in, and the outcomes of a student's call that end a check early.

NumPy only (no PyTorch), so that the work a check kind does before the references are loaded
(grader/ahead.py) can use it while the grader is still importing torch. grader.checks.base re-exports
everything here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .i18n import _
from .inputs import rng_for
from .results import Location
from .spec import Exercise


class NotAttempted(Exception):
    """The graded name is missing or raises NotImplementedError: 0 points, no error."""


class Unavailable(Exception):
    """The graded name cannot be run at all (its module failed to import)."""


@dataclass
class CheckContext:
    sandbox: Any  # grader.sandbox.session.Sandbox
    exercise: Exercise
    seed: int
    definitions: dict[str, Any]  # canonical name -> loader Definition (module, location)
    import_errors: dict[str, Any] = field(default_factory=dict)  # module -> ErrorInfo
    names: dict[str, str] = field(default_factory=dict)  # canonical -> the assignment's student-facing name
    options: dict[str, Any] = field(default_factory=dict)  # assignment options (tolerances, layout...)
    output: list[str] = field(default_factory=list)  # student output collected during the current check
    unparsable: list[str] = field(default_factory=list)  # files that do not parse, e.g. "network.py:48: ..."
    # (the student's process, its import errors) for a set of frameworks: () is the NumPy child (a PyTorch
    # check runs the student's NumPy twin there). None outside the engine: only `sandbox`.
    sandbox_for: Callable[[tuple], Any] | None = None
    # (id(unit), kind, stage) -> work done before the exercise was graded: stage "student", the kind's
    # ahead hook while the references loaded (ahead.py); "reference", its prepare hook once they had
    ahead: dict[tuple[int, str, str], Any] = field(default_factory=dict)

    def take_ahead(self, unit, kind: str, stage: str = "student") -> Any:
        """What the hook of `kind` for this stage returned for `unit` (None when it did not run); an
        exception it raised (NotAttempted, Unavailable, a grader error) is raised here, in the check, as
        if the check had raised it."""
        found = self.ahead.pop((id(unit), kind, stage), None)
        if isinstance(found, BaseException):
            raise found
        return found

    def student_name(self, canonical: str) -> str:
        return self.names.get(canonical, canonical)

    def rng(self, *parts: str) -> np.random.Generator:
        return rng_for(self.seed, self.exercise.id, *parts)

    def location(self, canonical: str, method: str | None = None) -> Location | None:
        definition = self.definitions.get(self.student_name(canonical))
        if definition is None:
            return None
        if method and getattr(definition, "methods", None) and method in definition.methods:
            if getattr(definition, "source", None) is not None:  # notebooks: the method's own cell
                return definition.source.location(definition.methods[method])
            loc = definition.location
            return Location(file=loc.file, line=definition.methods[method])
        return definition.location

    def require(self, canonical: str) -> str:
        """The module defining a graded name; raises NotAttempted / Unavailable as appropriate."""
        name = self.student_name(canonical)
        definition = self.definitions.get(name)
        if definition is None and self.unparsable:
            raise Unavailable(_("{name} was not found, and {files} cannot be read until it is fixed.").format(
                name=name, files="; ".join(self.unparsable)))
        if definition is None:
            raise NotAttempted(_("{name} is not defined in your submission.").format(name=name))
        error = self.import_errors.get(definition.module)
        if error is not None:
            raise Unavailable(_("{name} could not be loaded: {file} failed to import: {error}").format(
                name=name, file=definition.file, error=error.message))
        return definition.module

    def call(self, canonical: str, *args, obj=None, keep=False, kwargs=None, return_args=True, adapter=None,
             each=None):
        """Call a student function (or a method on a kept object) and collect what it printed.
        return_args=False: the arguments are not sent back (args_after stays empty; saves time).
        adapter: run the grader's action of that name on the student's function instead (torch_ops.py).
        each=[args, ...]: one call per argument list in one request; the value is the list of results
        (the results before the failing call when one fails: Outcome.at)."""
        extra = {"adapter": adapter} if adapter is not None else {}
        if each is not None:
            extra.update(each=each, collect=True)
        if obj is None:
            module = self.require(canonical)
            outcome = self.sandbox.call(self.student_name(canonical), *args, module=module, keep=keep,
                                        kwargs=kwargs, return_args=return_args, **extra)
        else:
            outcome = self.sandbox.call(canonical, *args, obj=obj, keep=keep, kwargs=kwargs,
                                        return_args=return_args, **extra)
        if outcome.output:
            self.output.append(outcome.output)
        return outcome


def outcome_failure(outcome, what: str) -> str | None:
    """None when the call succeeded; otherwise the message a student reads. NotImplementedError
    means the student has not started this function yet."""
    if outcome.ok:
        return None
    error = outcome.error
    if error.type == "NotImplementedError":
        raise NotAttempted(_("{what} is not implemented yet (it raises NotImplementedError).").format(what=what))
    where = f" ({error.file}:{error.line})" if error.file and error.line else ""
    return f"{error.message}{where}"
