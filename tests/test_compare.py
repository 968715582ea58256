import dataclasses
import json
import warnings

import numpy as np
import pytest

from grader.compare import compare, shapes_equivalent, tolerance_for

F64 = (1e-7, 1e-7)
F32 = (1.3e-6, 1e-5)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.float64, F64), ("float64", F64), (np.dtype(np.float64), F64), (float, F64), ("torch.float64", F64),
        (np.float32, F32), ("torch.float32", F32),
        (np.float16, F32), ("bfloat16", F32), ("torch.bfloat16", F32),  # never looser than float32
        (np.int64, F32), (np.int8, F32), (bool, F32),
    ],
)
def test_tolerance_for(dtype, expected):
    assert tolerance_for(dtype) == expected


def test_float32_result_of_float64_computation_passes_with_float32_tolerance():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(64, 32)), rng.normal(size=(32, 10))
    expected = softmax(x @ w)
    actual = softmax(x.astype(np.float32) @ w.astype(np.float32))
    assert actual.dtype == np.float32
    c = compare(actual, expected)
    assert c.passed, c.message
    assert c.rtol == 1.3e-6 and c.actual_dtype == "float32"
    # The same error in a float64 result is too large: the tolerance follows the student's dtype.
    assert not compare(actual.astype(np.float64), expected).passed


def test_float16_gets_no_looser_tolerance():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(64, 32)), rng.normal(size=(32, 10))
    expected = softmax(x @ w)
    actual = softmax(x.astype(np.float16) @ w.astype(np.float16))
    c = compare(actual, expected)
    assert not c.passed and c.reason == "values"
    assert (c.rtol, c.atol) == (1.3e-6, pytest.approx(1e-5 * np.abs(expected).max()))


def test_leading_ones_are_equivalent_but_trailing_are_not():
    b = np.arange(1.0, 5.0)
    assert compare(b.reshape(1, 4), b).passed  # bias as (1, n)
    assert compare(b, b.reshape(1, 4)).passed
    assert compare(np.array([2.5]), 2.5).passed
    assert compare(np.array([[2.5]]), np.float64(2.5)).passed
    c = compare(b.reshape(4, 1), b)
    assert not c.passed and c.reason == "shape"
    assert "(4,)" in c.message and "(4, 1)" in c.message
    assert c.expected_shape == (4,) and c.actual_shape == (4, 1)
    assert shapes_equivalent((1, 1, 3), (3,)) and not shapes_equivalent((3, 1), (3,))


def test_atol_scales_with_expected_magnitude():
    rng = np.random.default_rng(2)
    grad = rng.normal(size=(5, 4)) * 1e-6
    # A plain atol of 1e-7 (or float32's 1e-5) would let a gradient wrong by 2x pass.
    c = compare(2 * grad, grad)
    assert not c.passed and c.n_mismatched == 20
    assert c.atol == pytest.approx(1e-7 * np.abs(grad).max())
    assert not compare((2 * grad).astype(np.float32), grad).passed
    assert compare(grad * (1 + 1e-9), grad).passed
    # Large values: an absolute error of 1e-5 on entries near 1000 is float64 round-off, not a bug.
    big = rng.normal(size=10) * 1000
    assert compare(big + 1e-5, big).passed
    # A numeric scale replaces max|expected|; an all-zero reference falls back to the plain atol.
    assert compare(grad + 5e-7, grad, scale=10.0).passed
    assert compare(grad + 5e-7, grad, scale=10.0).atol == pytest.approx(1e-6)
    assert compare(np.full(3, 1e-8), np.zeros(3)).atol == 1e-7
    assert not compare(np.full(3, 1e-6), np.zeros(3)).passed


def test_explicit_tolerances_override_dtype_defaults():
    e = np.array([1.0, 2.0])
    assert not compare(e + 1e-3, e).passed
    c = compare(e + 1e-3, e, rtol=1e-2)
    assert c.passed and c.rtol == 1e-2 and c.atol == pytest.approx(2e-7)


def test_message_names_index_errors_and_tolerance():
    e = np.ones((3, 4))
    a = e.copy()
    a[1, 2] = 1.5
    a[0, 0] = 1.25
    c = compare(a, e, label="dW1")
    assert c.message == (
        "dW1: Mismatched elements: 2 / 12 (16.7%). Greatest absolute difference: 0.5 at index (1, 2) "
        "(up to 2e-07 allowed there). Greatest relative difference: 0.5 at index (1, 2)."
    )
    assert (c.passed, c.reason, c.n_mismatched, c.n_total) == (False, "values", 2, 12)
    assert c.worst_index == (1, 2) and (c.expected_at_worst, c.actual_at_worst) == (1.0, 1.5)
    assert (c.max_abs_error, c.max_rel_error) == (0.5, 0.5)
    assert c.worst_rows == [((1, 2), 1.0, 1.5, 0.5), ((0, 0), 1.0, 1.25, 0.25)]


def test_scalar_message():
    c = compare(2.0, 1.0, label="loss")
    assert c.message == (
        "loss: expected 1 but got 2. Absolute difference: 1 (up to 2e-07 allowed). "
        "Relative difference: 1."
    )
    assert c.worst_index == ()


def test_worst_index_is_largest_excess_over_tolerance_not_largest_error():
    c = compare(np.array([1050.0, 1.5]), np.array([1000.0, 1.0]), rtol=0.1, atol=0.0)
    assert c.n_mismatched == 1 and c.worst_index == (1,)
    # As torch.testing: the statistics are over the failing elements, never one that passed.
    assert "Greatest absolute difference: 0.5 at index (1,)" in c.message and c.max_abs_error == 0.5
    assert [r[0] for r in c.worst_rows] == [(1,)]  # only mismatched elements when failing


def test_comparison_is_json_serializable_plain_python():
    rng = np.random.default_rng(3)
    e = rng.normal(size=(6, 5))
    c = compare((e * 1.01).astype(np.float32), e)
    data = dataclasses.asdict(c)
    data.pop("error_map")
    json.dumps(data, allow_nan=False)
    for key in ("rtol", "atol", "max_abs_error", "max_rel_error", "expected_at_worst", "actual_at_worst"):
        assert type(data[key]) is float, key
    assert type(c.n_mismatched) is int and type(c.n_total) is int
    assert all(type(i) is int for i in c.worst_index)
    index, exp, act, err = c.worst_rows[0]
    assert all(type(i) is int for i in index) and {type(exp), type(act), type(err)} == {float}


def test_nan_and_inf_detection():
    e = np.linspace(-1, 1, 12).reshape(3, 4)
    a = e.copy()
    a[2, 1] = np.nan
    a[2, 3] = np.inf
    c = compare(a, e)
    assert not c.passed and c.reason == "nonfinite"
    assert c.worst_index == (2, 1) and np.isnan(c.actual_at_worst)
    assert "2 / 12" in c.message and "(2, 1)" in c.message
    assert c.n_mismatched == 2
    # Only the NaN and the Inf are off: no difference is computed from them, the message states them.
    assert c.max_abs_error is None and c.max_rel_error is None
    assert "got NaN" in c.message and "e-" not in c.message.split("got NaN")[1]


def test_matching_infinities_and_equal_nan():
    e = np.array([np.inf, -np.inf, 1.0, np.nan])
    assert not compare(e, e).passed  # NaN != NaN by default, as in torch
    assert compare(e, e, equal_nan=True).passed
    c = compare(np.array([np.inf, np.inf, 1.0, np.nan]), e, equal_nan=True)
    assert not c.passed and c.reason == "values" and c.worst_index == (1,)


def test_exact_and_integer_results():
    labels = np.array([0.0, 2.0, 1.0, 1.0])
    assert compare(np.array([0, 2, 1, 1]), labels, exact=True).passed
    c = compare(np.array([0, 2, 0, 1]), labels, exact=True, label="predictions")
    assert not c.passed and (c.rtol, c.atol) == (0.0, 0.0)
    assert c.message == ("predictions: Mismatched elements: 1 / 4 (25.0%). At index (2,): expected 1, got 0 "
                         "(exact match required).")
    assert not compare(labels + 1e-12, labels, exact=True).passed
    assert compare(np.array([True, False]), np.array([1.0, 0.0]), exact=True).passed
    # Integers against floats without exact: float32's tolerance on the values.
    c = compare(np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]))
    assert c.passed and c.rtol == 1.3e-6
    assert not compare(np.array([1, 2, 3]), np.array([1.0, 2.0, 3.5])).passed


@pytest.mark.parametrize(
    "actual",
    [None, "abc", b"abc", object(), {"a": 1}, [[1.0, 2.0], [3.0]], [1.0, "a"], [1.0, None],
     np.array([1.0, None], dtype=object), np.array(["x", "y"]), 10**400, print],
)
def test_weird_actual_gives_type_without_raising(actual):
    c = compare(actual, np.zeros((4, 3)))
    assert not c.passed and c.reason == "type"
    assert c.message.startswith("output: expected an array of shape (4, 3), got ")
    assert c.expected_shape == (4, 3)


def test_type_message():
    assert compare(None, np.zeros((4, 3))).message == "output: expected an array of shape (4, 3), got NoneType"
    assert "got str" in compare("0.5", 0.5).message


def test_a_value_the_child_could_not_send_is_named_by_its_own_type():
    from grader.sandbox.wire import Opaque

    message = compare(Opaque("builtins.generator", "<generator object relu.<locals>.<genexpr>>"), 0.5).message
    assert message.endswith("got generator (<generator object relu.<locals>.<genexpr>>)")


def test_complex_huge_and_empty_do_not_raise():
    c = compare(np.array([1 + 1j, 2]), np.array([1.0, 2.0]))
    assert c.reason == "dtype" and not c.passed
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings leak out either
        c = compare(np.array([1e308, -1e308]), np.array([-1e308, 1.0]))
        assert not c.passed and c.n_mismatched == 2
        c = compare(np.array([2**63 - 1, 0]), np.array([1.0, 0.0]))
        assert not c.passed and c.worst_index == (0,)
    assert compare(np.zeros((0, 3)), np.zeros((0, 3))).passed
    assert compare([1, 2.5], np.array([1.0, 2.5])).passed  # plain lists are fine
    assert compare(True, 1.0).passed


def test_error_map_only_for_failed_2d_outputs_and_downsampled():
    rng = np.random.default_rng(4)
    e = rng.normal(size=(200, 130))
    a = e.copy()
    a[150, 17] += 3.0
    c = compare(a, e)
    assert c.error_map.shape[0] <= 64 and c.error_map.shape[1] <= 64
    assert c.error_map.max() == pytest.approx(3.0)  # max-pooling keeps a single bad element
    small = compare(a[:5, :4] + 1, e[:5, :4])
    assert small.error_map.shape == (5, 4)
    assert compare(a, e, heatmap=False).error_map is None
    assert compare(e, e).error_map is None
    assert compare(a[0] + 1, e[0]).error_map is None
    assert compare(a[:1] + 1, e[:1]).error_map is None


def test_large_arrays_are_fast_enough():
    import time

    rng = np.random.default_rng(5)
    e = rng.normal(size=(2000, 1500))
    a = e.astype(np.float32)
    a[3, 4] = np.nan
    start = time.perf_counter()
    c = compare(a, e)
    assert c.reason == "nonfinite" and c.worst_index == (3, 4)
    assert time.perf_counter() - start < 3.0


def test_brief_stops_at_a_pass_and_changes_nothing_else():
    rng = np.random.default_rng(1)
    expected = rng.normal(size=(4, 5))
    for actual in (expected + 1e-12, expected.astype(np.float32), expected * 1.01, np.where(expected > 1, np.nan, expected),
                   expected[:, :3]):
        full, brief = compare(actual, expected), compare(actual, expected, brief=True)
        assert brief.passed == full.passed
        if full.passed:
            assert brief.message == "" and brief.n_mismatched == 0 and brief.n_total == expected.size
        else:  # a failure is told in full
            assert {k: v for k, v in dataclasses.asdict(brief).items() if k != "error_map"} == \
                {k: v for k, v in dataclasses.asdict(full).items() if k != "error_map"}
            assert (brief.error_map is None) == (full.error_map is None)
