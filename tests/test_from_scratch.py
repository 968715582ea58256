"""The from_scratch exercise: the course's function list for an L-layer network.

The model solution gets full marks, and so does correct code in another style (recursion, float32, (n,)
biases, dict caches, log(AL + 1e-8), in-place updates, CS231n momentum, pyplot's state machine), under
the practice seed and private ones. Every catalogued mistake, made in a copy of the model solution,
loses points at its check with the hint that names it. Mistakes of different functions share a
submission where the checks cannot see each other's (optimize and backward_propagation run the
student's own forward, so their mistakes are graded beside a correct one).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import FAST_LIMITS, check, failed

from grader.assignment import load_assignment
from grader.engine import grade
from grader.sandbox.session import Limits
from grader.seeds import Seed

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
FOLDER = HERE.parent / "docs" / "examples" / "from_scratch"  # the example course: assignment and model solution
SOLUTION = FOLDER / "solution"
STYLES = HERE / "fixtures" / "from_scratch"
LIMITS = Limits(**{**FAST_LIMITS, "total_cpu_s": 60.0})


@pytest.fixture(scope="module")
def scratch():
    return load_assignment(FOLDER / "assignment.toml")


def grade_scratch(assignment, path: Path, seed: Seed | None = None):
    return grade(path, assignment, seed or Seed(assignment.practice_seed, "practice"), limits=LIMITS)


def submission(root: Path, edits: list[tuple[str, str]]) -> Path:
    """The model solution with (old, new) text edits."""
    root.mkdir(parents=True, exist_ok=True)
    text = (SOLUTION / "from_scratch.py").read_text()
    for old, new in edits:
        assert old in text, f"edit target not found: {old!r}"
        text = text.replace(old, new)
    (root / "from_scratch.py").write_text(text)
    return root


def test_model_solution_gets_full_marks(scratch):
    result = grade_scratch(scratch, SOLUTION)
    assert failed(result) == [] and result.errors == []
    assert result.score == result.max_score > 20
    kinds = {c.kind for c in result.checks()}
    assert {"layer_init", "params_forward", "backprop", "steps", "state_init", "training_run", "plot_line"} <= kinds


@pytest.mark.parametrize("seed", [Seed(7, "private"), Seed(123456789, "private")], ids=["seed7", "seed123456789"])
def test_correct_styles_get_full_marks_under_private_seeds(scratch, seed, tmp_path):
    for path in (SOLUTION, STYLES):
        result = grade_scratch(scratch, path, seed)
        assert failed(result) == [], path


def test_other_correct_style_gets_full_marks(scratch):
    result = grade_scratch(scratch, STYLES)
    assert failed(result) == []


# Each catalogued mistake as an edit of the model solution: mistake id -> (check, edit).
MISTAKES = {
    "activation_sigmoid_sign": ("activation_function.forward", (
        "return 1 / (1 + np.exp(-Z))", "return 1 / (1 + np.exp(Z))")),
    "derivative_from_z": ("activation_derivative.forward", (
        "    A = activation_function(Z, name)\n", "    A = Z\n")),
    "derivative_sigmoid_is_sigmoid": ("activation_derivative.forward", (
        "        return A * (1 - A)", "        return A")),
    "derivative_relu_one_at_zero": ("activation_derivative.kink", (
        "return (Z > 0).astype(float)", "return (Z >= 0).astype(float)")),
    "init_fan_out": ("initialize_parameters.layer_init", (
        'std = np.sqrt(2 / fan_in) if method == "he"', 'std = np.sqrt(2 / fan_out) if method == "he"')),
    "init_he_without_2": ("initialize_parameters.layer_init", (
        'std = np.sqrt(2 / fan_in) if method == "he"', 'std = np.sqrt(1 / fan_in) if method == "he"')),
    "init_xavier_as_lecun": ("initialize_parameters.layer_init", (
        "else np.sqrt(2 / (fan_in + fan_out))", "else np.sqrt(1 / fan_in)")),
    "init_method_ignored": ("initialize_parameters.layer_init", (
        'if method == "he" else np.sqrt(2 / (fan_in + fan_out))', "")),
    "init_small_random": ("initialize_parameters.layer_init", (
        "rng.standard_normal((fan_in, fan_out)) * std", "rng.standard_normal((fan_in, fan_out)) * 0.01")),
    "init_variance_as_std": ("initialize_parameters.layer_init", (
        "rng.standard_normal((fan_in, fan_out)) * std", "rng.standard_normal((fan_in, fan_out)) * std ** 2")),
    "init_uniform": ("initialize_parameters.layer_init", (
        "rng.standard_normal((fan_in, fan_out)) * std", "rng.uniform(-1, 1, (fan_in, fan_out)) * np.sqrt(3) * std")),
    "forward_unstable_softmax": ("forward_propagation.params_forward", (
        "E = np.exp(Z - Z.max(axis=1, keepdims=True))", "E = np.exp(Z)")),
    "forward_relu_on_output": ("forward_propagation.params_forward", (
        "A = activation_function(Z, \"relu\") if l < L else softmax(Z)",
        "A = activation_function(Z, \"relu\") if l < L else softmax(np.maximum(0, Z))")),
    "forward_sigmoid_output": ("forward_propagation.params_forward", (
        "A = activation_function(Z, \"relu\") if l < L else softmax(Z)",
        "A = activation_function(Z, \"relu\") if l < L else activation_function(Z, \"sigmoid\")")),
    "forward_no_hidden_activation": ("forward_propagation.params_forward", (
        "A = activation_function(Z, \"relu\") if l < L else softmax(Z)", "A = Z if l < L else softmax(Z)")),
    "backprop_summed": ("backward_propagation.backprop", ("dZ = (AL - Y) / Y.shape[0]", "dZ = AL - Y")),
    "backprop_no_relu_mask": ("backward_propagation.backprop", (
        'dZ = (dZ @ W.T) * activation_derivative(caches[l - 2][3], "relu")', "dZ = dZ @ W.T")),
    "backprop_softmax_derivative_twice": ("backward_propagation.backprop", (
        "dZ = (AL - Y) / Y.shape[0]", "dZ = (AL - Y) / Y.shape[0] * AL * (1 - AL)")),
    "backprop_z_for_a": ("backward_propagation.backprop", (
        "        grads[f\"dW{l}\"] = A_prev.T @ dZ",
        "        grads[f\"dW{l}\"] = (caches[l - 2][3] if l > 1 else A_prev).T @ dZ")),
    "cost_summed": ("compute_cost.forward", (
        "return float(-(Y * np.log(AL)).sum(axis=1).mean())", "return float(-(Y * np.log(AL)).sum())")),
    "cost_mean_over_classes": ("compute_cost.forward", (
        "return float(-(Y * np.log(AL)).sum(axis=1).mean())", "return float(-(Y * np.log(AL)).mean())")),
    "cost_binary_formula": ("compute_cost.forward", (
        "return float(-(Y * np.log(AL)).sum(axis=1).mean())",
        "return float(-(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)).sum(axis=1).mean())")),
    "update_ascent": ("update_parameters.steps", (
        "return {k: v - learning_rate * grads", "return {k: v + learning_rate * grads")),
    "predict_wrong_axis": ("predict.params_forward", ("return np.argmax(AL, axis=1)", "return np.argmax(AL, axis=0)")),
    "optimize_optimizer_ignored": ("optimize.training_run", (
        '        if optimizer == "gd":\n            parameters = update_parameters(parameters, grads, learning_rate)\n'
        '            continue\n',
        '        parameters = update_parameters(parameters, grads, learning_rate)\n        continue\n')),
    "optimize_momentum_average": ("optimize.training_run", (
        "v[k] = beta * v[k] + g", "v[k] = beta * v[k] + (1 - beta) * g")),
    "optimize_adam_no_bias_correction": ("optimize.training_run", (
        "v_hat, s_hat = v[k] / (1 - beta1 ** t), s[k] / (1 - beta2 ** t)", "v_hat, s_hat = v[k], s[k]")),
    "optimize_adam_t_fixed": ("optimize.training_run", (
        "v_hat, s_hat = v[k] / (1 - beta1 ** t), s[k] / (1 - beta2 ** t)",
        "v_hat, s_hat = v[k] / (1 - beta1), s[k] / (1 - beta2)")),
    "optimize_adam_eps_inside_sqrt": ("optimize.training_run", (
        "(np.sqrt(s_hat) + epsilon)", "np.sqrt(s_hat + epsilon)")),
    "optimize_costs_after_update": ("optimize.training_run", (
        "        AL, caches = forward_propagation(X, parameters)\n        costs.append(compute_cost(AL, Y))\n"
        "        grads = backward_propagation(AL, Y, caches)\n",
        "        AL, caches = forward_propagation(X, parameters)\n        grads = backward_propagation(AL, Y, caches)\n"
        "        costs.append(compute_cost(forward_propagation(X, {k: p - learning_rate * grads['d' + k] "
        "for k, p in parameters.items()})[0], Y))\n")),
    "plot_returns_none": ("plot_cost.plot_line", ("    return fig\n", "    plt.show()\n")),
    "plot_returns_axes": ("plot_cost.plot_line", ("    return fig\n", "    return ax\n")),
    "plot_log_values": ("plot_cost.plot_line", ("ax.plot(costs)", "ax.plot(np.log(costs))")),
    "plot_no_line": ("plot_cost.plot_line", ("ax.plot(costs)", "ax.bar(range(len(costs)), costs)")),
}
# Submissions that each carry several mistakes: a forward mistake changes what backward_propagation and
# optimize see, and a backward, cost or update mistake what optimize sees, so those stay apart.
GROUPS = [
    ["init_fan_out", "optimize_optimizer_ignored", "activation_sigmoid_sign", "derivative_from_z",
     "forward_unstable_softmax", "predict_wrong_axis", "plot_returns_none"],
    ["init_he_without_2", "optimize_momentum_average", "derivative_sigmoid_is_sigmoid", "plot_returns_axes"],
    ["init_xavier_as_lecun", "optimize_adam_no_bias_correction", "derivative_relu_one_at_zero", "plot_log_values"],
    ["init_method_ignored", "optimize_adam_t_fixed", "plot_no_line"],
    ["init_small_random", "optimize_adam_eps_inside_sqrt"],
    ["init_variance_as_std", "optimize_costs_after_update"],
    ["init_uniform", "forward_relu_on_output", "cost_summed", "update_ascent"],
    ["backprop_summed", "cost_mean_over_classes"],
    ["backprop_no_relu_mask", "cost_binary_formula"],
    ["backprop_softmax_derivative_twice"],
    ["backprop_z_for_a"],
    ["forward_sigmoid_output"],
    ["forward_no_hidden_activation"],
]


def test_every_catalogued_mistake_is_in_a_group(scratch):
    catalogued = set()
    for unit in scratch.exercise("from_scratch").units:
        catalogued |= {m.id for m in getattr(unit, "mistakes", ())}
        catalogued |= {m.id for m in getattr(getattr(unit, "backward", None), "mistakes", ())}
    grouped = [m for group in GROUPS for m in group]
    assert sorted(grouped) == sorted(set(grouped)) and set(grouped) == catalogued == set(MISTAKES)


@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS, ids=[group[0] for group in GROUPS])
def test_each_mistake_loses_points_with_its_hint(scratch, group, tmp_path):
    edits = [MISTAKES[m][1] for m in group]
    result = grade_scratch(scratch, submission(tmp_path / "sub", edits))
    for mistake in group:
        name = MISTAKES[mistake][0]
        graded = check(result, "from_scratch", name)
        assert graded.score < graded.max_score, (mistake, name)
        hints = [c.hint.code for c in graded.cases if c.hint is not None]
        assert f"mistake:{mistake}" in hints, (mistake, name, hints, graded.message)


def test_plot_facts_are_read_in_the_child_from_the_students_figure(scratch, tmp_path):
    """A figure with two lines passes when one holds the costs; the report says which type came back."""
    path = submission(tmp_path / "two", [("    ax.plot(costs)\n", "    ax.plot(np.ones(3))\n    ax.plot(costs)\n")])
    result = grade_scratch(scratch, path)
    assert check(result, "from_scratch", "plot_cost.plot_line").score == 1.0
    path = submission(tmp_path / "list", [("    return fig\n", "    return [costs]\n")])
    plot = check(grade_scratch(scratch, path), "from_scratch", "plot_cost.plot_line")
    assert plot.score == 0 and "builtins.list" in plot.cases[0].message


def test_forward_that_returns_no_caches_is_told_so(scratch, tmp_path):
    path = submission(tmp_path / "sub", [("    return A, caches\n", "    return A\n")])
    result = grade_scratch(scratch, path)
    forward = check(result, "from_scratch", "forward_propagation.params_forward")
    backward = check(result, "from_scratch", "backward_propagation.backprop")
    assert forward.score == 0 and "(AL, caches)" in forward.cases[0].message
    assert backward.score == 0 and "(AL, caches)" in backward.cases[0].message


def test_assignment_with_utils_and_from_scratch_is_refused(tmp_path):
    from grader.assignment import AssignmentError
    (tmp_path / "assignment.toml").write_text('exercises = ["utils", "from_scratch"]\n')
    with pytest.raises(AssignmentError, match="utils and from_scratch both grade a function named compute_cost"):
        load_assignment(tmp_path / "assignment.toml").select(None)


def test_starter_kit_has_every_function_and_gets_zero(scratch, tmp_path):
    from grader.starter import write_starter
    (path,) = write_starter(scratch, tmp_path / "kit")
    text = path.read_text()
    assert "def optimize(X, Y, layer_dims, optimizer, learning_rate=0.1" in text and "parameters=None" in text
    result = grade_scratch(scratch, tmp_path / "kit")
    assert result.score == 0 and result.errors == []
    assert np.isfinite(result.max_score)


def test_grade_list_names_the_built_in_exercises_an_assignment_leaves_out():
    from click.testing import CliRunner

    from grader.cli import main
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0, result.output
    others = result.output.split("Other built-in exercises")[1]
    assert "from_scratch" in others and "layers " not in others


def test_validate_replays_every_check_and_names_every_mistake(scratch):
    """grade validate's unit stage (no student code): every check kind of the exercise is replayed, and
    every catalogued mistake is caught and named by the check it imitates."""
    from grader.checks.base import CheckContext
    from grader.validate import DEFECT, NOTE, unit_findings
    exercise = scratch.exercise("from_scratch")
    ctx = CheckContext(sandbox=None, exercise=exercise, seed=scratch.practice_seed, definitions={},
                       options=scratch.options)
    findings = [f for unit in exercise.units for f in unit_findings(ctx, unit)]
    assert not [f.message for f in findings if f.status in (DEFECT, NOTE)]
    named = {f.message.split(": ", 1)[1].split(" ")[0] for f in findings if " caught and named " in f.message}
    assert named == set(MISTAKES)
