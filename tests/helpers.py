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


def failed_on_their_own(result):
    """failed(result) without the checks that earn nothing only because they wait for a failed main check
    (gradcheck, kink or inputs of a function whose forward is wrong: checks/base.py apply_dependencies).
    Each of those must wait for a check that did fail."""
    waiting = {c.name: c.extra["depends_on"] for c in result.checks() if c.extra.get("depends_on")}
    lost = failed(result)
    assert set(waiting.values()) <= set(lost), waiting
    return [name for name in lost if name not in waiting]


def small_assignment(folder: Path, exercises: dict[str, tuple[str, ...]]):
    """An assignment of a few built-in layer functions, for tests that need real results quickly:
    {exercise id: names of exercises/layers.py units (relu, sigmoid, tanh, softmax, linear,
    cross_entropy, sgd)}. Each exercise keeps the title "Functional layers" (translated)."""
    from grader.assignment import load_assignment

    folder.mkdir(parents=True, exist_ok=True)
    for exercise_id, units in exercises.items():
        (folder / f"{exercise_id}.py").write_text(
            "from grader.exercises import layers\nfrom grader.spec import Exercise\n"
            f"EXERCISE = Exercise(id={exercise_id!r}, title=layers.EXERCISE.title, "
            f"units=({', '.join(f'layers.{u}' for u in units)},))\n")
    (folder / "assignment.toml").write_text(
        f"exercises = {list(exercises)!r}\npractice_seed = 20240901\n"
        + "".join(f'[exercise.{i}]\nfile = "{i}.py"\n' for i in exercises))
    return load_assignment(folder / "assignment.toml")
