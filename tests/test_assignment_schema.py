"""The assignment file's schema: every key known, every typo an error with the closest valid key, values
type-checked with plain messages, and the reference in docs/instructors.md generated from it."""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from grader.assignment import AssignmentError, builtin_dir, builtin_ids, load_assignment
from grader.assignment_schema import LIMIT_TEXTS, SCIPY_TEXTS, TRAINING_TEXTS, VISIBILITIES, static_schema
from grader.cli import main
from grader.results import VISIBILITIES as RESULT_VISIBILITIES

ROOT = Path(__file__).resolve().parents[1]


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hw.toml").write_text(text)
    return folder / "hw.toml"


def _refused(path: Path) -> str:
    """The error of loading the file and of loading every exercise (as grade list / validate do)."""
    with pytest.raises(AssignmentError) as error:
        load_assignment(path).select(None)
    return str(error.value)


@pytest.mark.parametrize("body, expected", [
    ('[visibility.layers]\ngradcheck = "hiden"',
     '[visibility.layers] gradcheck = "hiden": expected one of "visible", "hidden", "after_due_date", '
     '"after_published"; did you mean "hidden"?'),
    ("[points.layers]\nfoward = 3", "unknown key `foward` in [points.layers]; did you mean `forward`?"),
    ('[names]\nrelu_foward = "relu"', "unknown key `relu_foward` in [names]; did you mean `relu_forward`?"),
    ('practice_seed = "abc"', 'practice_seed = "abc": expected a whole number of at least 0'),
    ('[limits]\ncpu_s_per_call = "ten"', '[limits] cpu_s_per_call = "ten": expected a number above 0 (CPU seconds'),
    ('langauge = "es"', "unknown key `langauge` in the top level; did you mean `language`?"),
    ("[limit]\ncpu_s_per_call = 3", "unknown key `limit` in the top level; did you mean `limits`?"),
    ("[limits]\ncpu_per_call = 3", "unknown key `cpu_per_call` in [limits]; did you mean `cpu_s_per_call`?"),
    ("[points.layer]\nforward = 3", "[points.layer] names no exercise in `exercises`; did you mean `layers`?"),
    ('notebook_mode = "tag"', 'notebook_mode = "tag": expected one of "defs", "tagged", "all"; did you mean "tagged"?'),
    ("[late]\ngrace_minutes = 5", "[late] needs `due`."),
])
def test_every_typo_is_an_error_naming_the_file_the_key_and_the_closest_valid_key(tmp_path, body, expected):
    path = _write(tmp_path, f'exercises = ["layers"]\n{body}\n')
    message = _refused(path)
    assert f"{path}: {expected}" in message


def test_all_problems_are_reported_at_once(tmp_path):
    message = _refused(_write(tmp_path, 'exercises = ["layers"]\npractice_seed = "abc"\n[limits]\n'
                                        'cpu_s_per_call = "ten"\n[visibility.layers]\ngradcheck = "hiden"\n'))
    assert len(message.splitlines()) == 3


def test_an_unknown_exercise_gets_a_suggestion_and_no_internal_path(tmp_path):
    message = _refused(_write(tmp_path, 'exercises = ["activation"]\n'))
    assert "'activation' is not a built-in exercise" in message and "did you mean `activations`?" in message
    assert str(builtin_dir()) not in message and "site-packages" not in message
    message = _refused(_write(tmp_path, 'exercises = ["zzzz"]\n'))
    assert "the built-in exercises are " + ", ".join(builtin_ids()) in message


def test_grade_validate_and_list_fail_on_a_typo(tmp_path):
    path = _write(tmp_path, 'exercises = ["layers"]\n[points.layers]\nfoward = 3\n')
    for command in (["validate", "--assignment", str(path)], ["list", "--assignment", str(path)]):
        run = CliRunner().invoke(main, command)
        assert run.exit_code == 2 and "did you mean `forward`?" in run.output, run.output
        assert "Traceback" not in run.output


def test_check_kinds_names_and_options_come_from_the_exercise_files(tmp_path):
    """A kind, a function name or an option an exercise declares is valid without an edit to the schema."""
    layers = load_assignment(_write(tmp_path / "a", 'exercises = ["layers"]\n')).exercise("layers")
    kinds = {k for unit in layers.units for k in unit.checks}
    points = "".join(f"{k} = 1\n" for k in sorted(kinds))
    names = "".join(f'{n} = "x_{n}"\n' for n in layers.required_names())
    spec = load_assignment(_write(tmp_path / "b", f'exercises = ["layers"]\n[points.layers]\n{points}[names]\n{names}'))
    assert spec.select(None)
    custom = tmp_path / "c"
    custom.mkdir()
    (custom / "mine.py").write_text(
        "from dataclasses import replace\nfrom grader.exercises import layers\nfrom grader.spec import Exercise\n"
        "EXERCISE = Exercise(id='mine', title='t', units=(replace(layers.relu, checks={'forward': 1, 'kink': 2}),))\n")
    ok = _write(custom, 'exercises = ["mine"]\n[exercise.mine]\nfile = "mine.py"\n[points.mine]\nkink = 3\n')
    assert load_assignment(ok).select(None)
    bad = _write(custom, 'exercises = ["mine"]\n[exercise.mine]\nfile = "mine.py"\n[points.mine]\nbackward = 3\n')
    assert "unknown key `backward` in [points.mine]; known keys: forward, kink." in _refused(bad)
    option = _write(tmp_path / "d", 'exercises = ["optimizers"]\nmomentum_convention = "cs231"\n')
    assert 'did you mean "cs231n"?' in _refused(option)
    unknown = _write(tmp_path / "e", 'exercises = ["layers"]\nsomething_else = 1\n')
    load_assignment(unknown)  # may be an option an exercise declares: known once they load
    assert "unknown key `something_else` in the top level" in _refused(unknown)


def test_visibility_values_are_gradescopes_four():
    assert VISIBILITIES == RESULT_VISIBILITIES == ("visible", "hidden", "after_due_date", "after_published")


def test_the_schema_is_valid_json_schema_and_covers_what_the_grader_reads():
    schema = static_schema()
    jsonschema.Draft7Validator.check_schema({k: v for k, v in schema.items()})
    from grader.sandbox.session import Limits
    assert {f.name for f in dataclasses.fields(Limits)} <= set(LIMIT_TEXTS)
    assert {f.name for f in dataclasses.fields(Limits)} | {"memory_mb", "disk_mb"} == \
        set(schema["properties"]["limits"]["properties"])
    from grader.checks import scipy_train, training
    assert set(training.DEFAULTS) <= set(TRAINING_TEXTS)
    assert set(scipy_train.DEFAULTS) == set(SCIPY_TEXTS)


def test_every_shipped_assignment_file_is_valid():
    files = [builtin_dir() / "default.toml", *ROOT.glob("docs/examples/*/assignment.toml")]
    for path in files:
        load_assignment(path).select(None)


def test_the_instructor_guide_reference_is_generated_from_the_schema():
    spec = importlib.util.spec_from_file_location("assignment_reference", ROOT / "scripts/assignment_reference.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = (ROOT / "docs/instructors.md").read_text(encoding="utf-8")
    assert script.current(text) == text, "run python scripts/assignment_reference.py"
    for key in static_schema()["properties"]["limits"]["properties"]:
        assert f"`[limits] {key}`" in text


def test_compiled_validators_are_kept_in_the_users_cache_and_a_damaged_one_is_made_again(tmp_path, monkeypatch):
    from grader import assignment_schema
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    schema = static_schema()
    good = {"title": "HW", "exercises": ["layers"]}
    bad = {**good, "points": {"layers": "many"}}

    def fresh_problems(data):
        assignment_schema._compiled.cache_clear()  # as a new process would
        return assignment_schema.problems(data, schema)
    assert fresh_problems(good) == [] and fresh_problems(bad)
    [kept] = (tmp_path / "nn-autograder" / "schemas").glob("*.marshal")
    kept.write_bytes(b"\x00not marshal data")
    assert fresh_problems(good) == [] and fresh_problems(bad) == assignment_schema.problems(bad, schema)
    assert kept.read_bytes()[:1] != b"\x00"  # made again and kept
