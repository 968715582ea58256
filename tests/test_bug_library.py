"""Every single mistake of the bug library (tests/bugs/library.py) loses points in its own function, and
at least 90% get a hint that names the mistake. Bugs whose functions do not touch each other are graded
together in one submission, so the whole library takes a few grades."""
from __future__ import annotations

import ast
from collections import defaultdict

import pytest
from bugs.library import BUGS
from helpers import SOLUTION, make_submission

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

NAMED_RATE = 0.9


def _affected() -> dict[str, set[str]]:
    """bug -> the graded names it can change: the function (or class) its edit is in, and every function of
    the same file that calls it, directly or not."""
    out = {}
    for bug, (file, edits, _exercise, _codes) in BUGS.items():
        text = (SOLUTION / file).read_text()
        tree = ast.parse(text)
        spans = {node.name: (node.lineno, node.end_lineno, {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                             | {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)})
                 for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        touched = set()
        for old, _new in edits:
            line = text[:text.index(old)].count("\n") + 1
            touched |= {name for name, (start, end, _uses) in spans.items() if start <= line <= end}
        grew = True
        while grew:
            callers = {name for name, (_s, _e, uses) in spans.items() if uses & touched} - touched
            touched |= callers
            grew = bool(callers)
        if "load_model" in touched:  # load_model is graded by save_model's round trip
            touched.add("save_model")
        out[bug] = {name for name in touched if not name.startswith("_")}
    return out


def _rounds() -> list[list[str]]:
    """Bugs packed greedily into submissions: within one, no two bugs change the same graded name."""
    affected = _affected()
    rounds: list[tuple[list[str], set[str], set[str]]] = []
    for bug in BUGS:
        file = BUGS[bug][0]
        key = {f"{file}:{name}" for name in affected[bug]}
        for bugs, keys, files in rounds:
            # a class is one unit; network.py bugs each need a submission of their own
            if not keys & key and not (file == "network.py" and file in files):
                bugs.append(bug), keys.update(key), files.add(file)
                break
        else:
            rounds.append(([bug], set(key), {file}))
    return [bugs for bugs, _k, _f in rounds]


def _lost_checks(result, exercise: str, names: set[str]):
    return [c for c in result.checks() if c.exercise == exercise and c.score < c.max_score
            and c.function.split(".")[0] in names]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_bug_library_loses_points_where_the_bug_is_and_names_most(grade_it, tmp_path, capsys):
    affected = _affected()
    named, missing = [], []
    for i, bugs in enumerate(_rounds()):
        edits = defaultdict(list)
        for bug in bugs:
            edits[BUGS[bug][0]].extend(BUGS[bug][1])
        exercises = sorted({BUGS[bug][2] for bug in bugs})
        result = grade_it(make_submission(tmp_path / str(i), edits), exercises=exercises)
        for bug in bugs:
            _file, _edits, exercise, codes = BUGS[bug]
            lost = _lost_checks(result, exercise, affected[bug])
            assert lost, f"{bug}: no check of {sorted(affected[bug])} in {exercise} lost points"
            hints = {h.code for c in lost for h in [c.hint, *(k.hint for k in c.cases)] if h is not None}
            (named if hints & codes else missing).append((bug, sorted(hints)))
    rate = len(named) / len(BUGS)
    with capsys.disabled():
        print(f"\nbug library: {len(named)} of {len(BUGS)} mistakes named ({rate:.0%}); not named: {missing}")
    assert rate >= NAMED_RATE, missing


def test_bug_library_edits_apply_once_and_cover_every_family(assignment):
    for bug, (file, edits, _exercise, _codes) in BUGS.items():
        text = (SOLUTION / file).read_text()
        assert all(text.count(old) == 1 for old, _new in edits), bug
    assert {exercise for _f, _e, exercise, _c in BUGS.values()} == {e.id for e in assignment.select(None)}
    assert len(BUGS) >= 35
    assert sum(len(r) for r in _rounds()) == len(BUGS)
