"""Exercise `utils`: the course's utilities: shuffling and splitting a data set, saving and loading a
model, predicting labels and computing the cost of the two-layer network.

Arrays are batch-first: X is (N, D), y is (N,) integer labels. Where randomness is the student's
(shuffle_data, split_data) the grader checks properties: X and y stay paired, the split is disjoint
and covers the data, the same seed gives the same result and another seed another one.
save_model/load_model are graded by a round trip through real files.

For the property checks (grader/checks/utilities.py) a mistake's `reference` is a predicate over the
facts the check establishes for a case; the first mistake whose predicate holds is named.
"""

from grader.lazy import torch
from grader.reference import utils as ref
from grader.spec import Arg, Case, Exercise, Function, Mistake, Param

# The network's parameters, drawn per case by the grader (grader/checks/utilities.py) and multiplied
# by `scale`.
PARAMS = Arg(kind="fixed", value={"W1": Param(("D", "H")), "b1": Param(("H",), bias=True),
                                  "W2": Param(("H", "C")), "b2": Param(("C",), bias=True)})
# Smaller weights for the cost keep every probability near 1/C, so log(p + 1e-8) stays within float64's
# tolerance of log(p).
COST_PARAMS = Arg(kind="fixed", value=PARAMS.value, scale=0.5)
NETWORK_CASES = (Case({"N": 1, "D": 4, "H": 5, "C": 3}), Case({"N": 9, "D": 6, "H": 8, "C": 4}),
                 Case({"N": 30, "D": 10, "H": 7, "C": 5}))
# test_size * N and test_size * (each class's size) are whole numbers in every graded case, so any
# rounding rule gives the same sizes; the three cases make a split that ignores `stratify` pass the
# stratified check by chance with probability below 1e-6.
SPLIT_CASES = (Case({"N": 40, "D": 3, "C": 3}), Case({"N": 400, "D": 2, "C": 4}),
               Case({"N": 600, "D": 2, "C": 4}))


def _no_relu(params, X):
    """The network without its ReLU."""
    p = {k: torch.as_tensor(v) for k, v in params.items()}
    return (X @ p["W1"] + p["b1"].reshape(-1)) @ p["W2"] + p["b2"].reshape(-1)


def _binary_cost(params, X, y):
    """The binary cross-entropy formula, summed over the classes, applied to a softmax output."""
    probs = torch.softmax(ref.logits(params, X), dim=1)
    onehot = torch.nn.functional.one_hot(y, probs.shape[1]).double()
    return -(onehot * torch.log(probs) + (1 - onehot) * torch.log(1 - probs)).sum(dim=1).mean()


shuffle_data = Function(
    name="shuffle_data",
    args={"X": Arg(shape=("N", "D")), "y": Arg(shape=("N",), kind="labels", differentiable=False),
          "seed": Arg(kind="fixed", value=0)},
    reference=ref.shuffle_data,
    cases=(Case({"N": 20, "D": 3, "C": 3}), Case({"N": 33, "D": 1, "C": 2})),
    checks={"interface": 0.5, "shuffle": 2.0, "inputs": 0.5},
    mistakes=(
        Mistake("shuffle_unpaired", "X and y were shuffled with two different permutations, so the labels no "
                "longer belong to their examples. Draw one permutation and index both: p = rng.permutation(N); "
                "X[p], y[p].", lambda f: f["rows_permuted"] and f["labels_permuted"] and not f["paired"],
                check="shuffle"),
        Mistake("shuffle_identity", "The data comes back in its original order: the permutation was drawn but "
                "never applied (np.random.permutation returns a new order; index X and y with it).",
                lambda f: f["identity"], check="shuffle"),
        Mistake("shuffle_ignores_seed", "The order does not follow the seed: draw from "
                "np.random.default_rng(seed), so the same seed gives the same order and another seed another.",
                lambda f: not f["reproducible"] or not f["seed_dependent"], check="shuffle"),
    ),
    doc=("Shuffle a data set, keeping each example with its label.\n\n"
         "X: (N, D) examples; y: (N,) labels; seed: an int. Draw the permutation from\n"
         "np.random.default_rng(seed), so the same seed gives the same order and another seed another.\n"
         "Returns (X_shuffled, y_shuffled): new arrays with the rows of X and y in the same random order.\n"
         "Do not modify X or y."),
)

split_data = Function(
    name="split_data",
    args={"X": Arg(shape=("N", "D")), "y": Arg(shape=("N",), kind="labels", differentiable=False),
          "test_size": Arg(kind="fixed", value=0.25), "seed": Arg(kind="fixed", value=0),
          "stratify": Arg(kind="fixed", value=False)},
    reference=ref.split_data,
    cases=SPLIT_CASES,
    checks={"interface": 0.5, "split": 2.0, "split_stratified": 1.0, "inputs": 0.5},
    mistakes=(
        Mistake("split_overlap", "Some examples are in both the training and the test set. Shuffle the indices "
                "once and cut them in two: test = order[:n_test], train = order[n_test:].",
                lambda f: not f["disjoint"], check="split"),
        Mistake("split_not_shuffled", "The split takes the first rows for training and the last ones for "
                "testing. Data sets are often sorted (here by label), so shuffle before cutting.",
                lambda f: not f["shuffled"], check="split"),
        Mistake("split_unpaired", "X and y were split with different orders, so labels no longer belong to "
                "their examples: index X and y with the same index arrays.",
                lambda f: f["disjoint"] and f["covering"] and not f["paired"], check="split"),
        Mistake("split_ignores_stratify", "With stratify=True every class must keep its proportion: split each "
                "class's indices separately (test_size of each class goes to the test set), then join them.",
                lambda f: not f["stratified"], check="split_stratified"),
    ),
    doc=("Split a data set into a training and a test set.\n\n"
         "X: (N, D) examples; y: (N,) integer labels; test_size: the fraction of examples in the test set\n"
         "(ceil(test_size * N) examples, as scikit-learn's train_test_split); seed: an int, draw all randomness\n"
         "from np.random.default_rng(seed); stratify: when True, every class keeps its proportion: each class\n"
         "with n_c examples puts floor or ceil of test_size * n_c of them in the test set.\n"
         "Returns (X_train, X_test, y_train, y_test): every example in exactly one of the two sets, with its\n"
         "label, in a random order. The same seed gives the same split. Do not modify X or y."),
)

save_model = Function(
    name="save_model",
    args={"params": PARAMS, "path": Arg(kind="fixed", value="model.npz")},
    reference=ref.save_model,
    cases=(Case({"D": 4, "H": 5, "C": 3}), Case({"D": 7, "H": 2, "C": 6})),
    checks={"interface": 0.5, "save_load": 2.0},
    partners={"load": "load_model"},  # the save_load check reads the saved files back with it
    batch_dim=None,
    mistakes=(
        Mistake("save_no_file", "load_model does not read the file save_model wrote (nothing was written, or "
                "the parameters were kept in memory). Write them to `path`, for example np.savez(path, **params), "
                "and read that file back.", lambda f: not f["file_written"] or not f["loads_from_file"],
                check="save_load"),
        Mistake("save_positional_keys", "The parameters come back under the names arr_0, arr_1, ...: "
                "np.savez(path, *params.values()) drops the names; save with np.savez(path, **params).",
                lambda f: f["positional_keys"], check="save_load"),
        Mistake("save_fixed_names", "load_model gives back only some of the saved names: save every entry of "
                "params (np.savez(path, **params)), not a fixed list such as W1, b1, W2, b2.",
                lambda f: f["returned_dict"] and not f["keys"] and not f["positional_keys"], check="save_load"),
        Mistake("save_lossy", "The round trip changed values, shapes or dtypes (text formats round and "
                "flatten); np.savez keeps every array exactly.", lambda f: f["keys"] and not f["exact"],
                check="save_load"),
    ),
    doc=("Save a model's parameters to the file `path`.\n\n"
         "params: a dict of name -> NumPy array (for example W1, b1, W2, b2, of any dtype: float32, float64,\n"
         "int64, and any shape); path: a file name ending in .npz. Any format works as long as load_model(path)\n"
         "gives back the same names with the same dtypes, shapes and values (np.savez(path, **params) is the\n"
         "simplest). Returns None."),
)

load_model = Function(
    name="load_model",
    args={"path": Arg(kind="fixed", value="model.npz")},
    reference=ref.load_model,
    checks={"interface": 0.5},
    batch_dim=None,
    doc=("Load the parameters save_model wrote to `path`.\n\n"
         "Returns a dict of name -> NumPy array with the same names, shapes, dtypes and values that were\n"
         "saved (with np.load, return dict(np.load(path)))."),
)

predict = Function(
    name="predict",
    args={"params": PARAMS, "X": Arg(shape=("N", "D"))},
    reference=ref.predict,
    cases=NETWORK_CASES,
    checks={"interface": 0.5, "params_forward": 1.5},
    exact=True,
    mistakes=(
        Mistake("predict_wrong_axis", "Your argmax runs over the examples (axis 0); the predicted class of each "
                "example is the argmax over its row: np.argmax(scores, axis=1).",
                lambda params, X: ref.logits(params, X).argmax(dim=0), check="params_forward"),
        Mistake("predict_no_relu", "Your prediction skips the ReLU of the hidden layer: "
                "hidden = max(0, X @ W1 + b1).", lambda params, X: _no_relu(params, X).argmax(dim=1),
                check="params_forward"),
    ),
    doc=("Predict class labels with the two-layer network.\n\n"
         "params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,) (biases may also be (1, H) and (1, C));\n"
         "X: (N, D). The network is softmax(relu(X @ W1 + b1) @ W2 + b2). Returns (N,) integers: the most\n"
         "probable class of each row."),
)

compute_cost = Function(
    name="compute_cost",
    args={"params": COST_PARAMS, "X": Arg(shape=("N", "D")),
          "y": Arg(shape=("N",), kind="labels", differentiable=False)},
    reference=ref.compute_cost,
    cases=NETWORK_CASES,
    checks={"interface": 0.5, "params_forward": 1.5},
    mistakes=(
        Mistake("cost_summed", "Your cost sums over the examples; it is the mean over the N examples.",
                lambda params, X, y: torch.nn.functional.cross_entropy(ref.logits(params, X), y, reduction="sum"),
                check="params_forward"),
        Mistake("cost_binary_formula", "Your cost uses the binary cross-entropy formula y log p + (1 - y) "
                "log(1 - p); with a softmax over C classes the cost is -mean(log p[i, y[i]]).",
                _binary_cost, check="params_forward"),
    ),
    doc=("The cost of the two-layer network on a data set: the mean softmax cross-entropy.\n\n"
         "params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); X: (N, D); y: (N,) integer labels in\n"
         "0..C-1. With P = softmax(relu(X @ W1 + b1) @ W2 + b2), returns -mean_i log P[i, y[i]] as a float."),
)

EXERCISE = Exercise(
    id="utils",
    title="Data and model utilities",
    units=(shuffle_data, split_data, save_model, load_model, predict, compute_cost),
    starter="utils.py",
    description=__doc__,
)
