"""The training check (student vs PyTorch reference on digits) and the opt-in timing.

Only the checks under test run (an assignment whose `network` exercise has just them), so each grade
takes about a second. Nothing here asserts a duration."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers import SOLUTION, check, make_submission
from test_data import make_mnist
from test_grading import STYLE_VARIANTS

from grader import timing
from grader.report import training_figures
from grader.sandbox import heap
from grader.results import ERROR, FAILED, PASSED

TRAINING = "NeuralNetwork.train_step.training"
TIMING = "NeuralNetwork.train_step.timing"
STEP = "self.update_params(self.backward(y_true), learning_rate)"
FAST_TIMING = {"sweep": False, "runs": 2, "steps": 3, "warmup": 1}


@pytest.fixture
def grade_training(assignment, grade_it):
    """Grade only model_training (and model_timing when the options turn it on) of `network`."""
    def run(path, options=None, training=None):
        exercise = assignment.exercise("network")
        model = exercise.units[0]
        model = replace(model, checks={"model_training": 2.0}, training={**model.training, **(training or {})})
        spec = replace(assignment, exercise_ids=["network"], options={**assignment.options, **(options or {})},
                       _cache={"network": replace(exercise, units=(model,))})
        return grade_it(path, exercises=["network"], spec=spec)
    return run


@pytest.mark.slow  # grades a submission
@pytest.mark.parametrize("variant", ["float64 (model solution)", "float32 network"])
def test_correct_network_trains_like_the_reference(grade_training, tmp_path, variant):
    edits = STYLE_VARIANTS.get(variant, {})
    result = grade_training(make_submission(tmp_path, edits))
    c = check(result, "network", TRAINING)
    assert c.status == PASSED and c.score == c.max_score == 2.0, c.message
    assert [case.passed for case in c.cases] == [True, True]  # full-batch and mini-batch
    curves = c.extra["curves"]
    assert set(curves) == {"full-batch", "mini-batch"}
    for curve in curves.values():
        assert len(curve["reference"]) == curve["steps"] + 1
        assert len(curve["student"]) == len(curve["student_steps"])
        assert curve["student_steps"][:2] == [0, 1] and curve["student_steps"][-1] == curve["steps"]
        assert all(isinstance(v, float) for v in curve["student"] + curve["reference"])
        assert curve["student"][-1] < 0.5 * curve["student"][0]  # it learned
        assert curve["student_accuracy"] >= curve["reference_accuracy"] - 0.01
        assert curve["dtype"] == ("float32" if "float32" in variant else "float64")
    full = curves["full-batch"]
    drift = max(abs(s - full["reference"][t]) / full["reference"][t] for t, s in zip(full["student_steps"], full["student"]))
    assert drift < (1e-4 if "float32" in variant else 1e-12)
    assert curves["full-batch"]["reference_accuracy"] > 0.9


@pytest.mark.slow  # grades a submission
def test_wrong_update_rule_fails_with_the_step_and_a_hint(grade_training, tmp_path):
    sub = make_submission(tmp_path, {"network.py": [(STEP, STEP.replace("learning_rate)", "2 * learning_rate)"))]})
    c = check(grade_training(sub), "network", TRAINING)
    assert c.status == FAILED and c.score == 0
    assert "step 1" in c.cases[0].message and "leaves the reference" in c.cases[0].message
    assert c.hint.code == "training_step_scale" and "2 times" in c.hint.text


@pytest.mark.slow  # grades a submission
def test_ascent_fails(grade_training, tmp_path):
    sub = make_submission(tmp_path, {"network.py": [
        ("self.W1 = self.W1 - learning_rate", "self.W1 = self.W1 + learning_rate")]})
    c = check(grade_training(sub), "network", TRAINING)
    assert c.status == FAILED and c.score == 0 and not any(case.passed for case in c.cases)


@pytest.mark.slow  # grades a submission
def test_divergence_is_reported_with_its_step(grade_training, tmp_path):
    sub = make_submission(tmp_path, {"network.py": [(STEP, STEP.replace("learning_rate)", "learning_rate * 1000)"))]})
    c = check(grade_training(sub), "network", TRAINING)
    assert c.status == FAILED and c.score == 0
    assert "training diverged at step 1" in c.cases[0].message
    assert c.hint.code == "training_step_scale" and "1000 times" in c.hint.text
    curve = c.extra["curves"]["full-batch"]
    assert curve["student_steps"] == [0, 1] and len(curve["reference"]) == 101  # stopped where it diverged


@pytest.mark.slow  # grades a submission
@pytest.mark.parametrize("student", ["model solution", "constructor raises"])
def test_a_configuration_whose_reference_diverges_is_the_graders_error(grade_training, tmp_path, student):
    """The reference trains in another thread while the student's network trains; a pinned learning rate
    that makes the reference itself diverge is still reported as the configuration's error, before
    anything the student did (no student could pass)."""
    edits = {"network.py": [("        rng = np.random.default_rng(seed)\n",
                             "        raise ValueError('not yet')\n")]} if student != "model solution" else {}
    c = check(grade_training(make_submission(tmp_path, edits), training={"learning_rate": 1000.0}), "network",
              TRAINING)
    assert c.status == ERROR and c.score == 0 and not c.cases
    assert "the reference itself diverges" in c.message and "learning rate 1000" in c.message


def first_step_below(curve, value):
    """The first step t whose train_step sees a full-batch loss below `value` (the loss before it)."""
    return next(t for t in range(1, len(curve)) if curve[t - 1] < value)


@pytest.mark.slow  # grades a submission
def test_divergence_inside_a_repeated_call_is_pinned_to_its_step(grade_training, tmp_path):
    """Full-batch steps run 5 to a call; the diverging call is replayed step by step to name the step."""
    sub = make_submission(tmp_path, {"network.py": [(STEP, (
        "self.update_params(self.backward(y_true), learning_rate * (1000 if loss < 1.5 else 1))"))]})
    c = check(grade_training(sub), "network", TRAINING)
    expected = first_step_below(c.extra["curves"]["full-batch"]["reference"], 1.5)
    assert expected >= 2  # inside a call of several steps (step 1 has a call of its own)
    assert f"training diverged at step {expected}:" in c.cases[0].message, c.cases[0].message


@pytest.mark.slow  # grades a submission
def test_a_network_that_never_updates_fails(grade_training, tmp_path):
    sub = make_submission(tmp_path, {"network.py": [(STEP, "self.backward(y_true)")]})
    c = check(grade_training(sub), "network", TRAINING)
    assert c.status == FAILED and c.score == 0
    assert "step 1" in c.cases[0].message
    assert c.hint.code == "training_no_update" and "did not change any parameter" in c.hint.text


@pytest.mark.slow  # grades a submission
def test_an_exception_in_train_step_names_the_step(grade_training, tmp_path):
    sub = make_submission(tmp_path, {"network.py": [
        ("        loss = self.cross_entropy_loss(probs, y_true)\n",
         "        loss = self.cross_entropy_loss(probs, y_true)\n        if loss < 1.5:\n"
         "            raise RuntimeError('boom')\n")]})
    c = check(grade_training(sub), "network", TRAINING)
    expected = first_step_below(c.extra["curves"]["full-batch"]["reference"], 1.5)
    assert c.score == 0 and f"step {expected}:" in c.cases[0].message and "boom" in c.cases[0].message


@pytest.mark.slow  # grades a submission
def test_a_stateful_failure_that_does_not_replay_names_the_steps_of_the_call(grade_training, tmp_path):
    sub = make_submission(tmp_path, {"network.py": [
        ("        probs = self.forward(X)\n        loss",
         "        self.calls = getattr(self, 'calls', 0) + 1\n        if self.calls == 3:\n"
         "            raise RuntimeError('boom')\n        probs = self.forward(X)\n        loss")]})
    c = check(grade_training(sub), "network", TRAINING)
    assert c.score == 0 and "during steps 2-6" in c.cases[0].message and "boom" in c.cases[0].message


@pytest.mark.slow  # grades a submission
def test_training_on_tiny_mnist_files(grade_training, tmp_path):
    make_mnist(tmp_path / "data", n_train=24, n_test=8)
    small = {"full_batch_steps": 5, "minibatch_steps": 6, "batch_size": 8, "hidden": 16, "learning_rate": 0.01}
    result = grade_training(SOLUTION, options={"dataset": "mnist", "data_dir": str(tmp_path / "data"),
                                               "training": small})  # the assignment's [training] table
    c = check(result, "network", TRAINING)
    assert c.status == PASSED, c.message
    assert "mnist: 24 train / 8 test, 784 features" in c.cases[0].label


@pytest.mark.slow  # grades a submission
def test_missing_data_folder_is_an_error_naming_the_file(grade_training, tmp_path):
    result = grade_training(SOLUTION, options={"dataset": "mnist", "data_dir": str(tmp_path)})
    c = check(result, "network", TRAINING)
    assert c.status == ERROR and c.score == 0
    assert "train-images-idx3-ubyte" in c.message and str(tmp_path) in c.message


# ----------------------------------------------------------------------------------------- timing


@pytest.mark.slow  # grades a submission
def test_timing_is_opt_in(grade_training):
    result = grade_training(SOLUTION)
    assert TIMING not in {c.name for c in result.checks()}


@pytest.mark.slow  # grades a submission
def test_timing_reports_numpy_torch_cpu_and_skipped_cuda_for_no_points(grade_training, tmp_path):
    from grader.report.gradescope import to_gradescope
    from grader.report.html import render_html

    result = grade_training(SOLUTION, options={"timing": FAST_TIMING})
    c = check(result, "network", TIMING)
    assert c.max_score == 0 and c.score == 0 and c.status == PASSED, c.message
    rows = {b["backend"]: b for b in c.extra["timing"]["backends"]}
    assert set(rows) == {"NumPy (yours)", "PyTorch CPU", "PyTorch CUDA"}
    for name in ("NumPy (yours)", "PyTorch CPU"):
        assert rows[name]["status"] == "ok" and len(rows[name]["run_s"]) == 2
        assert 0 < rows[name]["min_s"] <= rows[name]["median_s"] <= rows[name]["max_s"]
    assert rows["NumPy (yours)"]["threads"] == rows["PyTorch CPU"]["threads"]  # same thread count
    if not torch.cuda.is_available():
        assert rows["PyTorch CUDA"]["status"] == "skipped" and rows["PyTorch CUDA"]["note"] == timing.NO_CUDA
        assert "skipped: no CUDA device" in c.message
    env = c.extra["timing"]["environment"]
    for key in ("seed", "numpy", "torch", "torch_cuda", "cpu", "blas_threads_numpy", "torch_threads", "gpu",
                "schedule", "heap"):
        assert key in env
    if heap._mallopt() is not None:  # both processes timed under the same heap policy, and the record says so
        assert rows["NumPy (yours)"]["heap"] == rows["PyTorch CPU"]["heap"] == heap.keep_freed_memory()
    test = next(t for t in to_gradescope(result)["tests"] if "[timing]" in t["name"])
    assert test["tags"] == ["network", "timing"] and test["max_score"] == 0 and test["score"] == 0
    html = render_html(result)
    assert "Time per train step" in html and "Reproducibility" in html and "data:image/png;base64," in html


@pytest.mark.slow  # grades a submission
def test_a_train_step_that_raises_is_not_timed_and_pytorch_still_is(grade_training, tmp_path):
    """It works through the warm-up round (3 steps), then raises in the first timed one."""
    sub = make_submission(tmp_path, {"network.py": [(STEP, STEP + (
        "\n        if getattr(self, '_calls', 0) > 2:\n            raise ValueError('out of patience')"
        "\n        self._calls = getattr(self, '_calls', 0) + 1"))]})
    result = grade_training(sub, options={"timing": FAST_TIMING})
    c = check(result, "network", TIMING)
    rows = {b["backend"]: b for b in c.extra["timing"]["backends"]}
    assert c.score == 0 and c.status == "skipped"
    assert rows["NumPy (yours)"]["status"] == "failed" and "out of patience" in rows["NumPy (yours)"]["note"]
    assert "your code was not timed" in c.message and "out of patience" in c.message
    assert rows["PyTorch CPU"]["status"] == "ok" and len(rows["PyTorch CPU"]["run_s"]) == 2


def test_time_torch_runs_on_cpu_and_cuda_is_skipped_without_a_gpu():
    w = timing.Workload(features=8, hidden=16, classes=3, batch=10, steps=2, runs=3, warmup=1)
    cpu = timing.time_torch(w, "cpu", threads=1)
    assert cpu.status == "ok" and len(cpu.run_s) == 3 and cpu.median > 0
    gpu = timing.time_torch(w, "cuda")
    if torch.cuda.is_available():
        assert gpu.status == "ok"
    else:
        assert gpu.status == "skipped" and gpu.note == "skipped: no CUDA device" and not gpu.run_s


def test_time_torch_trains_the_reference_like_the_functional_reference():
    """The timed workload is real training (the CUDA path is this code with device="cuda")."""
    w = timing.Workload(features=5, hidden=7, classes=3, batch=6, steps=1, runs=1, warmup=0, dtype="float64")
    X, y = timing.synthetic_batch(w)
    assert timing.time_torch(w, "cpu", X, y).status == "ok"
    assert timing.synchronizer(torch.device("cpu"))() is None


def test_scaling_sweep_cpu_with_cuda_skipped():
    sweep = timing.scaling_sweep(("cpu", "cuda"), widths=(8, 32), batches=(4, 16), base_width=8, base_batch=8,
                                 features=6, classes=3, steps=1, runs=1, threads=1)
    assert [(p["axis"], p["hidden"], p["batch"]) for p in sweep["points"]] == [
        ("hidden", 8, 8), ("hidden", 32, 8), ("batch", 8, 4), ("batch", 8, 16)]
    assert all(p["cpu"] > 0 for p in sweep["points"])
    if not torch.cuda.is_available():
        assert all(p["cuda"] is None for p in sweep["points"])
        assert sweep["devices"]["cuda"] == timing.NO_CUDA
        assert "no CUDA device" in sweep["crossover"]["hidden"]


def test_torch_threads_is_restored():
    before = torch.get_num_threads()
    with timing.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_timing_tables_and_figures_from_extra():
    from grader.results import CheckResult

    c = CheckResult(exercise="network", function="NeuralNetwork.train_step", kind="timing", max_score=0)
    c.extra["timing"] = {
        "workload": {"hidden": 64, "batch": 10, "steps": 3, "runs": 2, "warmup": 1, "data": "digits"},
        "backends": [timing.Timing("PyTorch CPU", "cpu", "float64", 1, run_s=[0.001, 0.002]).summary(),
                     timing.Timing("PyTorch CUDA", "cuda", "float64", status="skipped", note=timing.NO_CUDA).summary()],
        "sweep": {"points": [{"axis": "hidden", "hidden": 8, "batch": 4, "cpu": 0.001, "cuda": None}],
                  "devices": {"cpu": "ok", "cuda": timing.NO_CUDA}, "crossover": {}, "dtype": "float32", "threads": 1},
        "environment": {"torch": torch.__version__},
    }
    titles = [t[0] for t in training_figures.tables(c)]
    assert any(t.startswith("Time per train step") for t in titles) and "Reproducibility" in titles
    flat = str(training_figures.tables(c))
    assert "skipped: no CUDA device" in flat and "1.5" in flat  # the median in ms
    assert len(training_figures.figures(c)) == 2 and all(uri.startswith("data:image/png;base64,") for _, uri in training_figures.figures(c))


def test_child_repeat_reports_one_duration_per_call(tmp_path):
    from grader.data import load_digits
    from grader.sandbox.session import Sandbox

    d = load_digits().subset(50)
    with Sandbox(SOLUTION, ["network"]) as sandbox:
        handle = sandbox.call("NeuralNetwork", 64, 8, 10, module="network", keep=True).handle
        w = timing.Workload(64, 8, 10, 50, steps=4, runs=2, warmup=1)
        t = timing.time_student(sandbox, handle, "train_step", w, d.X_train, d.Y_train, threads=1)
        assert t.status == "ok" and len(t.run_s) == 2 and all(v > 0 for v in t.run_s) and not t.note
        outcome = sandbox.call("train_step", d.X_train, d.Y_train, 0.1, obj=handle, return_args=False, repeat=3)
        assert outcome.ok and len(outcome.times) == 3 and sum(outcome.times) <= outcome.wall_s
        assert isinstance(outcome.value, float) and np.isfinite(outcome.value)


@pytest.fixture
def run_cache(tmp_path, monkeypatch):
    """An empty user cache, and the per-process memo of reference runs emptied around the test."""
    from grader.checks import training
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GRADER_NO_RUN_CACHE", raising=False)
    monkeypatch.setattr(training, "_REFERENCE_RUNS", {})
    return tmp_path / "cache" / "nn-autograder" / "reference-runs"


def small_reference_problem(assignment, steps=6):
    from grader.checks import training
    from grader.data import load_dataset
    model = assignment.exercise("network").units[0]
    data = load_dataset("digits", train=200, test=50)
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(0, 0.1, (64, 16)), "b1": np.zeros(16), "W2": rng.normal(0, 0.1, (16, 10)),
              "b2": np.zeros(10)}
    schedule = [None] * (steps // 2) + [np.arange(i * 32, i * 32 + 32) for i in range(steps - steps // 2)]
    return training, data, params, schedule, training.Evaluator(data, model)


def test_a_reference_run_is_trained_once_then_read_from_the_users_cache(assignment, run_cache, monkeypatch):
    training, data, params, schedule, evaluator = small_reference_problem(assignment)
    trained = []
    real = training._reference_run
    monkeypatch.setattr(training, "_reference_run", lambda *a: trained.append(1) or real(*a))
    first = training.run_reference(data, params, 0.5, schedule, evaluator, keep=True)
    assert len(trained) == 1 and len(list(run_cache.glob("*.npz"))) == 1
    training._REFERENCE_RUNS.clear()  # as in the next grade, another process
    again = training.run_reference(data, params, 0.5, schedule, evaluator, keep=True)
    assert len(trained) == 1, "the stored run was trained again"
    assert again["losses"] == first["losses"] and again["accuracy"] == first["accuracy"]
    for part in ("first", "final"):
        for name in params:
            assert np.array_equal(again[part][name], first[part][name]), (part, name)
    # Other inputs (here a learning rate) are another run: trained, never read from this entry.
    training._REFERENCE_RUNS.clear()
    other = training.run_reference(data, params, 0.25, schedule, evaluator, keep=True)
    assert len(trained) == 2 and other["losses"] != first["losses"]


def test_a_damaged_or_mismatched_stored_run_is_trained_again(assignment, run_cache, monkeypatch):
    training, data, params, schedule, evaluator = small_reference_problem(assignment)
    first = training.run_reference(data, params, 0.5, schedule, evaluator, keep=True)
    (entry,) = run_cache.glob("*.npz")
    trained = []
    real = training._reference_run
    monkeypatch.setattr(training, "_reference_run", lambda *a: trained.append(1) or real(*a))
    for damage in (b"not an npz file", entry.read_bytes()[:100]):
        entry.write_bytes(damage)
        training._REFERENCE_RUNS.clear()
        assert training.run_reference(data, params, 0.5, schedule, evaluator, keep=True)["losses"] == first["losses"]
    # An entry of the right name holding another run's arrays (wrong shapes) is not used either.
    import io
    buffer = io.BytesIO()
    np.savez(buffer, losses=np.zeros(3), accuracy=np.float64(1.0))
    entry.write_bytes(buffer.getvalue())
    training._REFERENCE_RUNS.clear()
    assert training.run_reference(data, params, 0.5, schedule, evaluator, keep=True)["accuracy"] == first["accuracy"]
    assert len(trained) == 3


def test_runs_are_kept_only_where_the_students_process_cannot_write_the_cache(monkeypatch):
    from grader import stored_runs
    monkeypatch.delenv("GRADER_NO_RUN_CACHE", raising=False)
    assert stored_runs.enabled({"unprivileged_user": True, "allow_list_view": False})
    assert stored_runs.enabled({"unprivileged_user": False, "allow_list_view": True})
    # The same user, with the grading user's home in view (Linux not root without user namespaces,
    # macOS): a submission could plant a run that the next grade would read.
    assert not stored_runs.enabled({"unprivileged_user": False, "allow_list_view": False})
    assert not stored_runs.enabled({})
    monkeypatch.setenv("GRADER_NO_RUN_CACHE", "1")
    assert not stored_runs.enabled({"unprivileged_user": True, "allow_list_view": True})


@pytest.mark.slow  # grades a submission
def test_a_grade_keeps_its_reference_runs_where_the_sandbox_keeps_the_student_out(grade_training, run_cache):
    result = grade_training(SOLUTION)
    assert check(result, "network", TRAINING).status == PASSED
    protected = result.protections.get("unprivileged_user") or result.protections.get("allow_list_view")
    kept = list(run_cache.glob("*.npz")) if run_cache.exists() else []
    assert len(kept) == (2 if protected else 0)  # the full-batch run and the mini-batch run


def test_a_stored_run_is_named_by_the_code_that_computes_it(tmp_path, monkeypatch):
    """Editing the model's reference (its source file) names another entry: a stale run is never found."""
    import importlib.util
    from grader import cache, stored_runs
    source = tmp_path / "my_reference.py"
    names = []
    for body in ("return X", "return X * 1"):
        source.write_text(f"def reference(params, X):\n    {body}\n")
        spec = importlib.util.spec_from_file_location(f"my_reference_{len(names)}", source)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cache.file_digest.cache_clear()
        names.append(stored_runs.digest(b"same inputs", (module.reference,), ()))
    assert names[0] != names[1]
