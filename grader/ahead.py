"""Work a check kind does before the references are loaded.

A single grade has two processes on two cores: the grader imports PyTorch (seconds) while the student's
process starts. A check kind whose student side needs no PyTorch (the training check's run of the
student's network) can register an ahead hook here, in a module that imports no torch; the engine runs
the hooks of the selected exercises as soon as the student's process is up, and the kind's `run` picks
up what its hook recorded with `ctx.take_ahead(unit, kind)`. Inputs are still the grader's and every
comparison still happens in `run`: a hook only moves the student's calls earlier.

    @ahead("training", units=(Model,))
    def _(ctx, model): ...          # returns what `run` needs; may raise NotAttempted / Unavailable
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from .spec import RENAMED_CHECKS, unit_checks

Hook = Callable[[Any, Any], Any]
HOOKS: dict[str, list[tuple[tuple[type, ...], Hook]]] = {}
BUILTIN = ("grader.training_run", "grader.lbfgs")  # the modules registering the built-in hooks (no torch in them)


def ahead(kind: str, *, units: tuple[type, ...]) -> Callable[[Hook], Hook]:
    """Register `hook(ctx, unit)` as the ahead work of check kind `kind` on units of these types."""
    def register(hook: Hook) -> Hook:
        HOOKS.setdefault(kind, []).append((tuple(units), hook))
        return hook
    return register


def planned(exercise, options: dict) -> list[tuple[Any, str, Hook]]:
    """(unit, kind, hook) for every check of the exercise that has ahead work."""
    for module in BUILTIN:
        importlib.import_module(module)
    found = []
    for unit in exercise.units:
        for name in unit_checks(unit, options):
            kind = RENAMED_CHECKS.get(name, name)
            hook = next((hook for units, hook in HOOKS.get(kind, []) if isinstance(unit, units)), None)
            if hook is not None:
                found.append((unit, kind, hook))
    return found


def run_ahead(ctx, work: list[tuple[Any, str, Hook]], stage: str = "student") -> None:
    """Run the hooks, keeping in ctx.ahead what each returned or raised (the check raises it again)."""
    for unit, kind, hook in work:
        try:
            ctx.ahead[(id(unit), kind, stage)] = hook(ctx, unit)
        except Exception as error:  # noqa: BLE001 - reported by the check, as if it had raised it
            ctx.ahead[(id(unit), kind, stage)] = error
