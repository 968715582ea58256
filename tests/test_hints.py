import numpy as np
import pytest

from grader.compare import compare
from grader.hints import HINTS, diagnose


def softmax(z, axis=1):
    z = z - z.max(axis=axis, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=axis, keepdims=True)


@pytest.fixture
def grad():
    return np.random.default_rng(0).normal(size=(8, 5))


def code(hint):
    return hint.code if hint else None


def test_table_codes_and_texts():
    codes = {"nonfinite", "batch_scale", "sign_flip", "transposed", "wrong_axis", "scale", "zero", "offset", "labels"}
    assert {c for c, _ in HINTS.values()} == codes
    assert all(isinstance(t, str) and t.strip().endswith(".") for _, t in HINTS.values())


def test_nonfinite():
    z = np.random.default_rng(1).normal(size=(4, 6)) * 1000
    expected = softmax(z)
    with np.errstate(all="ignore"):
        naive = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert not np.isfinite(naive).all()
    hint = diagnose(naive, expected)
    assert code(hint) == "nonfinite" and "subtract the maximum" in hint.text
    assert code(diagnose(naive, expected, comparison=compare(naive, expected))) == "nonfinite"


def test_batch_sum_and_divided_twice(grad):
    hint = diagnose(grad * 8, grad, batch_size=8)
    assert code(hint) == "batch_scale" and "8" in hint.text and "mean" in hint.text
    hint = diagnose(grad / 8, grad, batch_size=8)
    assert code(hint) == "batch_scale" and "twice" in hint.text
    assert code(diagnose(0.7 * 16, 0.7, batch_size=16)) == "batch_scale"  # a summed scalar loss
    # Without the batch size the factor is still reported, as a plain scale.
    assert code(diagnose(grad * 8, grad)) == "scale"


def test_sign_flip(grad):
    assert code(diagnose(-grad, grad)) == "sign_flip"
    assert code(diagnose(-0.3, 0.3)) == "sign_flip"


def test_robust_to_a_few_elements_and_float32_noise():
    rng = np.random.default_rng(2)
    e = rng.normal(size=(10, 10))
    a = -e.astype(np.float32)
    a[3, 3] = 5.0
    a[7, 1] = 0.0
    assert code(diagnose(a, e)) == "sign_flip"


def test_transposed(grad):
    hint = diagnose(grad.T, grad)
    assert code(hint) == "transposed" and "transpose" in hint.text
    square = np.random.default_rng(3).normal(size=(5, 5))
    assert code(diagnose(square.T, square)) == "transposed"
    # Transposed shape with other values: still the telling part, and the text names both shapes.
    hint = diagnose(np.zeros((5, 8)), grad)
    assert code(hint) == "transposed" and "(5, 8)" in hint.text and "(8, 5)" in hint.text


def test_wrong_axis_from_shapes(grad):
    hint = diagnose(grad.sum(axis=0), grad.sum(axis=1))  # (5,) for (8,)
    assert code(hint) == "wrong_axis" and "axis" in hint.text and "(5,)" in hint.text
    hint = diagnose(grad.sum(axis=1), grad.sum(axis=1, keepdims=True))  # (8,) for (8, 1)
    assert code(hint) == "wrong_axis" and "keepdims" in hint.text
    assert code(diagnose(grad.sum(axis=1, keepdims=True), grad.sum(axis=1))) == "wrong_axis"
    assert code(diagnose(grad.sum(axis=0, keepdims=True), grad.sum(axis=1, keepdims=True))) == "wrong_axis"
    assert code(diagnose(grad.sum(), grad.sum(axis=1))) == "wrong_axis"  # reduced over everything
    assert code(diagnose(grad.mean(axis=1), grad.mean())) == "wrong_axis"  # loss not averaged
    cube = np.random.default_rng(4).normal(size=(3, 4, 6))
    assert code(diagnose(cube.sum(axis=2), cube.sum(axis=2, keepdims=True))) == "wrong_axis"  # keepdims
    assert code(diagnose(cube, cube.sum(axis=2))) == "wrong_axis"  # a missing reduction


def test_wrong_axis_of_a_normalization():
    z = np.random.default_rng(5).normal(size=(6, 4))
    expected, wrong = softmax(z, axis=1), softmax(z, axis=0)
    hint = diagnose(wrong, expected, axis_hint=1)
    assert code(hint) == "wrong_axis" and "axis 0" in hint.text and "axis 1" in hint.text
    assert code(diagnose(wrong, expected)) == "wrong_axis"  # expected axis inferred from the reference
    assert code(diagnose(np.log(wrong), np.log(expected), axis_hint=-1)) == "wrong_axis"  # log-softmax
    x = np.random.default_rng(6).normal(size=(16, 3)) * 2 + 1
    centered = (x - x.mean(axis=0)) / x.std(axis=0)  # batch norm over the batch
    rows = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    assert code(diagnose(rows, centered, axis_hint=0)) == "wrong_axis"


def test_scale_factors(grad):
    hint = diagnose(3 * grad, grad)
    assert code(hint) == "scale" and "3.00" in hint.text
    hint = diagnose(2 * grad, grad)
    assert code(hint) == "scale" and "2.00" in hint.text and "derivative" in hint.text
    hint = diagnose(0.5 * grad, grad)
    assert code(hint) == "scale" and "0.50" in hint.text and "derivative" in hint.text
    assert code(diagnose(2 * 0.35, 0.35)) == "scale"  # the ½ of a squared-error loss, on a scalar


def test_zero(grad):
    assert code(diagnose(np.zeros_like(grad), grad)) == "zero"
    assert code(diagnose(0.0, 0.4)) == "zero"


def test_offset(grad):
    hint = diagnose(grad + 0.3, grad)
    assert code(hint) == "offset" and "0.3" in hint.text


@pytest.mark.parametrize("seed", range(5))
def test_no_hint_for_unrelated_errors(seed):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(8, 8))
    kwargs = dict(batch_size=8, axis_hint=1)
    assert diagnose(e + rng.normal(scale=0.1, size=e.shape), e, **kwargs) is None
    assert diagnose(rng.normal(size=e.shape), e, **kwargs) is None
    assert diagnose(e * rng.uniform(0.5, 1.5, size=e.shape), e, **kwargs) is None
    p = softmax(e)
    assert diagnose(softmax(e + rng.normal(size=e.shape)), p, **kwargs) is None  # right axis, wrong values
    assert diagnose(float(rng.uniform(1, 2)), float(rng.uniform(3, 4)), batch_size=8) is None  # scalar
    nearly = e.copy()
    nearly[2, 5] += 1.0
    assert diagnose(nearly, e, **kwargs) is None  # one wrong element is not a pattern
    assert diagnose(e[:, :3], e) is None  # (8, 3) for (8, 8): no recognisable relation


@pytest.mark.parametrize("actual", [None, "x", [[1.0], [2.0, 3.0]], np.array([1, None], dtype=object), 1j])
def test_weird_actual_gives_no_hint_without_raising(actual):
    assert diagnose(actual, np.ones((2, 2))) is None


def test_huge_wrong_outputs_give_no_hint_and_no_numpy_warning(grad):
    import warnings

    tiny = grad * 1e-300
    with warnings.catch_warnings(record=True) as caught:  # recorded, not raised: diagnose swallows errors
        warnings.simplefilter("always")
        assert diagnose(grad * 1e300, tiny) is None  # a ratio of 1e600: no factor worth naming
        assert diagnose(np.full_like(grad, -1e308), np.full_like(grad, 1e308) * np.sign(grad)) is None
    assert [str(w.message) for w in caught] == []  # a warning would land in the grader's output


def test_labels_returned_as_rows_are_named():
    labels = np.array([0, 2, 1, 2])
    probs = np.array([[.7, .2, .1], [.1, .1, .8], [.2, .5, .3], [.3, .3, .4]])
    assert "probabilities" in diagnose(probs, labels).text
    assert "one-hot" in diagnose(np.eye(3)[labels], labels).text
    assert "score" in diagnose(np.log(probs) + 5, labels).text
    # Not labels (negative or fractional expected values): no labels hint.
    assert code(diagnose(probs, np.array([0.5, 1.0, 0.2, 0.1]))) != "labels"
    assert code(diagnose(np.eye(3)[labels][:, :1].repeat(1, 1), labels)) != "labels"
