"""Shared helpers: submissions are made from the bundled model solution with small edits, so each
buggy submission differs from a correct one by exactly the bug it tests."""
from __future__ import annotations

from pathlib import Path

from grader.assignment import builtin_dir

SOLUTION = builtin_dir() / "solution"
FAST_LIMITS = dict(cpu_s_per_call=2.0, wall_s_per_call=6.0, import_cpu_s=3.0, total_cpu_s=30.0)


def make_submission(root: Path, edits: dict[str, list[tuple[str, str]]] | None = None,
                    extra: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """Copy the model solution into `root`, apply (old, new) text edits per file, add extra files."""
    root.mkdir(parents=True, exist_ok=True)
    for source in SOLUTION.glob("*.py"):
        if source.name in drop:
            continue
        text = source.read_text()
        for old, new in (edits or {}).get(source.name, []):
            assert old in text, f"edit target not found in {source.name}: {old!r}"
            text = text.replace(old, new)
        (root / source.name).write_text(text)
    for name, text in (extra or {}).items():
        (root / name).write_text(text)
    return root


def check(result, exercise: str, name: str):
    """The check `function.kind` of an exercise, e.g. check(r, "layers", "softmax.forward")."""
    for exercise_result in result.exercises:
        if exercise_result.id == exercise:
            for c in exercise_result.checks:
                if c.name == name:
                    return c
    raise AssertionError(f"no check {name} in {exercise}: " + ", ".join(
        c.name for e in result.exercises for c in e.checks))


def failed(result):
    """Names of the checks that lost points."""
    return sorted(c.name for c in result.checks() if c.score < c.max_score)
