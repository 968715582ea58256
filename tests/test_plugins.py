"""Check kinds as plugins: one name per kind everywhere, old names accepted with a warning, explicit
case statuses (passed / failed / error) and the scoring rule that a check depending on a failed main
check earns nothing."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from helpers import check, make_submission

from grader.assignment import load_assignment
from grader.checks import REGISTRY, lookup
from grader.i18n import using
from grader.report.junit import render_junit
from grader.results import ERROR, FAILED, PASSED, CaseResult, CheckResult, GradeResult, ExerciseResult, status_of
from grader.spec import RENAMED_CHECKS


def test_every_check_of_the_default_assignment_is_a_registered_kind_of_its_unit(assignment):
    for exercise in assignment.select(None):
        for unit in exercise.units:
            for name in {**unit.checks, **{k: v for o in getattr(unit, "optional_checks", {}).values()
                                            for k, v in o.items()}}:
                kind = lookup(name, unit)
                assert kind is not None, (exercise.id, name)
                assert kind.name == name  # the name the results report and [points]/[visibility] use
    assert not set(RENAMED_CHECKS) & set(REGISTRY)  # an old name is never registered


def test_one_name_per_kind_and_unit_type():
    for name, kinds in REGISTRY.items():
        units = [u for k in kinds for u in k.units]
        assert len(units) == len(set(units)), name


def test_old_kind_names_still_work_with_a_deprecation_warning(tmp_path):
    path = tmp_path / "assignment.toml"
    path.write_text('exercises = ["network"]\n[points.network]\nmodel_forward = 3.0\n'
                    '[visibility.network]\nmodel_backward = "hidden"\n')
    spec = load_assignment(path)
    assert any("'model_forward' is now called 'forward'" in w for w in spec.warnings), spec.warnings
    assert any("'model_backward' is now called 'backward'" in w for w in spec.warnings), spec.warnings
    model = spec.exercise("network").units[0]
    assert model.checks["forward"] == 3.0 and "model_forward" not in model.checks
    assert spec.exercise("network").visibility["backward"] == "hidden"


def test_case_status_follows_passed_unless_stated_and_the_check_follows_its_cases():
    assert CaseResult("a", True).status == PASSED
    assert CaseResult("a", False).status == FAILED
    error = CaseResult("a", False, status=ERROR)
    assert error.status == ERROR and not error.passed
    assert status_of([CaseResult("a", True), CaseResult("b", False)]) == FAILED
    assert status_of([CaseResult("a", False), error]) == ERROR  # the code raised somewhere
    assert status_of([CaseResult("a", True)]) == PASSED
    # An old results.json without statuses reads back with them.
    result = GradeResult(submission="s", exercises=[ExerciseResult("e", "E", [CheckResult(
        "e", "f", "forward", 1.0, cases=[error, CaseResult("b", False)])])])
    data = result.to_dict()
    for case in data["exercises"][0]["checks"][0]["cases"]:
        del case["status"]
    assert [c.status for c in GradeResult.from_dict(data).exercises[0].checks[0].cases] == [FAILED, FAILED]
    assert [c.status for c in GradeResult.from_dict(result.to_dict()).exercises[0].checks[0].cases] == [ERROR,
                                                                                                       FAILED]


def _junit_elements(result) -> dict[str, str]:
    """testcase name -> its child element (failure, error, skipped) or 'ok'."""
    out = {}
    for case in ET.fromstring(render_junit(result)).iter("testcase"):
        children = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        out[case.get("name")] = children[0] if children else "ok"
    return out


@pytest.mark.slow
def test_a_wrong_gradient_is_a_failure_and_a_raise_is_an_error(grade_it, tmp_path):
    edits = {"layers.py": [("return dout @ W.T, x.T @ dout, dout.sum(axis=0)",
                            "return dout @ W.T, dout.T @ x, dout.sum(axis=0)"),
                           ("    s = sigmoid_forward(x)\n    return dout * s * (1 - s)",
                            "    raise ValueError('not yet')")]}
    result = grade_it(make_submission(tmp_path, edits), exercises=["layers"])
    wrong = check(result, "layers", "linear_backward.backward")
    assert wrong.status == FAILED and {c.status for c in wrong.failed_cases()} == {FAILED}
    raised = check(result, "layers", "sigmoid_backward.backward")
    assert raised.status == ERROR and {c.status for c in raised.failed_cases()} == {ERROR}
    elements = _junit_elements(result)
    assert elements["linear_backward.backward"] == "failure"
    assert elements["sigmoid_backward.backward"] == "error"
    suite = next(ET.fromstring(render_junit(result)).iter("testsuite"))
    assert int(suite.get("errors")) == sum(c.status == ERROR for c in result.checks())

CONSTANT = {"layers.py": [("def relu_forward(x):\n    return np.maximum(0, x)",
                           "def relu_forward(x):\n    return np.full(np.shape(x), 0.25)"),
                          ("def relu_backward(dout, x):\n    return dout * (x > 0)",
                           "def relu_backward(dout, x):\n    return np.zeros_like(x)")]}


@pytest.mark.slow
def test_a_constant_forward_with_a_zero_backward_earns_only_the_interface(grade_it, tmp_path):
    result = grade_it(make_submission(tmp_path, CONSTANT), exercises=["layers"])
    relu = [c for c in result.checks() if c.function in ("relu_forward", "relu_backward")]
    assert check(result, "layers", "relu_forward.forward").status == FAILED
    gradcheck = check(result, "layers", "relu_backward.gradcheck")
    # The pair is self-consistent, so gradcheck's own cases pass; it still earns nothing, and says why.
    assert gradcheck.cases and all(c.passed for c in gradcheck.cases)
    assert gradcheck.score == 0 and gradcheck.status == FAILED
    assert "forward is wrong" in gradcheck.message and "relu_forward.forward" in gradcheck.message
    for name in ("relu_backward.gradcheck", "relu_backward.kink", "relu_forward.inputs"):
        lost = check(result, "layers", name)
        assert lost.score == 0 and lost.extra["depends_on"] == "relu_forward.forward", name
    earned = sum(c.score for c in relu)
    interface = check(result, "layers", "relu_forward.interface")
    assert earned == interface.score == interface.max_score  # was about a third of the unit's points
    # Other functions of the exercise are untouched.
    assert check(result, "layers", "sigmoid_backward.gradcheck").score == check(
        result, "layers", "sigmoid_backward.gradcheck").max_score


@pytest.mark.slow
def test_the_dependency_note_is_translated(grade_it, tmp_path):
    with using("es"):
        result = grade_it(make_submission(tmp_path, CONSTANT), exercises=["layers"])
    message = check(result, "layers", "relu_backward.gradcheck").message
    assert "pero el forward está mal" in message, message


def test_grade_validate_can_replay_every_kind_of_the_default_assignment(assignment):
    """Every kind the default assignment grades has a replay hook (grade validate says "not replayed"
    otherwise); the whole report is checked by test_validate_finds_no_defect_in_the_built_in_catalogues."""
    for exercise in assignment.select(None):
        for unit in exercise.units:
            names = {**unit.checks, **{k: v for o in getattr(unit, "optional_checks", {}).values() for k, v in o.items()}}
            for name in names:
                assert lookup(name, unit).replay is not None, (exercise.id, name)


@pytest.mark.slow
def test_a_mistake_found_only_by_its_facts_is_replayed(assignment):
    """Fact kinds (utilities) replay their catalogue too: each mistake from one wrong fact, caught and named."""
    from grader.checks.base import CheckContext
    from grader.validate import OK, unit_findings
    exercise = assignment.exercise("utils")
    ctx = CheckContext(sandbox=None, exercise=exercise, seed=assignment.practice_seed, definitions={},
                       options=assignment.options)
    save = next(u for u in exercise.units if u.name == "save_model")
    findings = [f for f in unit_findings(ctx, save) if f.stage == "mistakes"]
    assert {f.status for f in findings} == {OK} and len(findings) == len(save.mistakes)
    assert all("caught and named (save_load)" in f.message for f in findings)
