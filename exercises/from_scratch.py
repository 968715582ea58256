"""Exercise `from_scratch`: the course's from-scratch function list for an L-layer network, in NumPy.

initialize_parameters, forward_propagation, compute_cost, backward_propagation, update_parameters,
predict, activation_function, activation_derivative, initialize_velocity, initialize_adam, optimize
and plot_cost, graded on networks of 2, 3 and 4 layers against PyTorch (autograd and torch.optim).

The network is the course's, batch-first: X is (N, n0), Wl is (n_{l-1}, n_l), bl is (1, n_l) (or
(n_l,)), Z = A_prev @ Wl + bl; hidden layers use ReLU and the output layer a softmax over the C
classes (the course's NeuralNetwork class, generalised to L layers); labels Y are one-hot (N, C) and
the cost is the mean cross-entropy. forward_propagation returns (AL, caches): what the caches hold is
yours, the grader hands them back to your backward_propagation untouched. This exercise is graded
batch-first whatever the assignment's `layout` says. Its predict and compute_cost are the L-layer
versions: an assignment cannot hold it together with `utils`, whose functions of the same names take
the two-layer network's arguments.
"""
from functools import partial

import torch

from grader.exercises.optimizers import initialize_adam as _adam_state
from grader.exercises.optimizers import initialize_velocity as _velocity_state
from grader.reference import from_scratch as ref
from grader.reference import optimizers as refopt
from grader.spec import Arg, Backward, Case, Exercise, Function, Layers, Mistake, Optimizer

BATCH_FIRST = ("X is (N, n0), batch-first; parameters holds W1 (n0, n1), b1 (1, n1), ..., WL, bL (biases may also "
               "be (n_l,)).")
# Networks of 2, 3 and 4 layers; the last case has logits in the thousands (a softmax must subtract the
# row maximum before exp). It is graded by the forward checks only: its cross-entropy is not finite.
NET_CASES = (Case({"N": 1, "D": 4, "H1": 5, "C": 3}), Case({"N": 7, "D": 6, "H1": 8, "H2": 5, "C": 4}),
             Case({"N": 12, "D": 5, "H1": 7, "H2": 6, "H3": 4, "C": 3}),
             Case({"N": 6, "D": 5, "H1": 6, "H2": 4, "C": 3}, large=True, kinds=("params_forward",)))
X = Arg(shape=("N", "D"), large=3000.0)


# ----------------------------------------------------------------------------- activations


def _derivative_from_z(Z, name):
    """The derivative written from Z as if Z were the activation: Z * (1 - Z) for sigmoid, 1 - Z**2 for tanh."""
    return {"relu": (Z > 0).double(), "sigmoid": Z * (1 - Z), "tanh": 1 - Z ** 2}[name]


NAMES = ", ".join(repr(n) for n in ref.ACTIVATIONS)
DERIVATIVE_CASES = tuple(Case({"N": 5, "D": 4}, values={"name": n}, label=n) for n in ref.ACTIVATIONS)
# Large inputs for the activations: exp(-Z) overflows in a naive sigmoid (its result is still right). Not for
# the derivatives: there s * (1 - s) is below float32's resolution and only the rounding would be graded.
ACTIVATION_CASES = DERIVATIVE_CASES + (Case({"N": 3, "D": 4}, values={"name": "sigmoid"}, large=True,
                                            label="sigmoid"),)
Z = Arg(shape=("N", "D"), scale=2.0, away_from=(0.0,), large=20.0)

activation_function = Function(
    name="activation_function",
    args={"Z": Z, "name": Arg(kind="fixed", value="relu", differentiable=False)},
    reference=ref.activation,
    cases=ACTIVATION_CASES,
    checks={"interface": 0.5, "forward": 1.0},
    batch_dim=None,
    mistakes=(
        Mistake("activation_sigmoid_sign", "Your sigmoid is 1 / (1 + exp(Z)); the sigmoid is 1 / (1 + exp(-Z)).",
                lambda Z, name: torch.sigmoid(-Z) if name == "sigmoid" else ref.activation(Z, name)),
    ),
    doc=(f"The activation `name` ({NAMES}) applied elementwise to Z.\n\n"
         "relu: max(0, Z); sigmoid: 1 / (1 + exp(-Z)); tanh: np.tanh(Z).\n"
         "Z: array of any shape; name: a string. Returns an array of Z's shape."),
)

activation_derivative = Function(
    name="activation_derivative",
    args={"Z": Z, "name": Arg(kind="fixed", value="relu", differentiable=False)},
    reference=ref.activation_derivative,
    cases=DERIVATIVE_CASES,
    checks={"interface": 0.5, "forward": 1.0, "kink": 0.5},
    batch_dim=None,
    kinks=({"Z": [[0.0, 1.5, -2.0], [0.0, -0.5, 3.0]], "name": "relu"},),
    mistakes=(
        Mistake("derivative_from_z", "Your derivative treats Z as the activation's output: sigmoid'(Z) = s * (1 - s) "
                "with s = sigmoid(Z), and tanh'(Z) = 1 - tanh(Z)**2; compute the activation of Z first.",
                _derivative_from_z),
        Mistake("derivative_sigmoid_is_sigmoid", "Your sigmoid derivative is sigmoid(Z) itself; it is "
                "s * (1 - s) with s = sigmoid(Z).",
                lambda Z, name: torch.sigmoid(Z) if name == "sigmoid" else ref.activation_derivative(Z, name)),
        Mistake("derivative_relu_one_at_zero", "Your ReLU derivative is 1 at Z == 0; the convention (PyTorch's) is "
                "0 there: (Z > 0), not (Z >= 0).",
                lambda Z, name: (Z >= 0).double() if name == "relu" else ref.activation_derivative(Z, name)),
    ),
    doc=(f"The derivative of the activation `name` ({NAMES}) at Z, elementwise: what backward_propagation "
         "multiplies dA by.\n\n"
         "relu: 1 where Z > 0, else 0 (0 at Z == 0, as PyTorch); sigmoid: s * (1 - s) with s = sigmoid(Z); "
         "tanh: 1 - tanh(Z)**2.\nZ: the pre-activation, any shape; name: a string. Returns an array of Z's shape."),
)


# ----------------------------------------------------------------------------- initialization


def _he(fan_in, fan_out, method):
    return ref.init_distribution(fan_in, fan_out, "he")


def _xavier(fan_in, fan_out, method):
    return ref.init_distribution(fan_in, fan_out, "xavier")


def _normal(std):
    from grader.reference import init
    return init.normal(std)


def _uniform(limit):
    from grader.reference import init
    return init.uniform(limit)


INIT = "layer_init"

initialize_parameters = Function(
    name="initialize_parameters",
    args={"layer_dims": Arg(kind="fixed", value=Layers("dims")), "seed": Arg(kind="fixed", value=0),
          "method": Arg(kind="fixed", value="he")},
    reference=ref.init_distribution,
    # Fans 1.5 to 4 times apart in every layer, so that each catalogued variant's variance differs from
    # the target's and from every other variant's by at least 1.3 times in some layer; 3,200 to 9,600
    # draws per layer and call, two calls per case (grader/checks/statistical.py gives the guarantees).
    cases=(Case({"D": 60, "H1": 120, "H2": 80, "C": 40}, values={"method": "he"}, label="he"),
           Case({"D": 100, "H1": 50, "C": 150}, values={"method": "xavier"}, label="xavier")),
    checks={"interface": 0.5, INIT: 2.0},
    keywords=("method",),
    batch_dim=None,
    mistakes=(
        Mistake("init_fan_out", "Your He weights use the layer's number of outputs; He initialization "
                "(torch.nn.init.kaiming_normal_, mode='fan_in') uses its inputs: std = sqrt(2 / layer_dims[l-1]).",
                lambda fi, fo, m: _normal((2 / fo) ** 0.5) if m == "he" else None, check=INIT),
        Mistake("init_he_without_2", "Your std is sqrt(1 / fan_in) (LeCun's); He initialization has the ReLU "
                "gain: std = sqrt(2 / layer_dims[l-1]).",
                lambda fi, fo, m: _normal((1 / fi) ** 0.5) if m == "he" else None, check=INIT),
        Mistake("init_xavier_as_lecun", "Your Xavier std is sqrt(1 / fan_in) (LeCun's, which some courses call "
                "Xavier); this assignment grades torch.nn.init.xavier_normal_: std = sqrt(2 / (layer_dims[l-1] + "
                "layer_dims[l])).", lambda fi, fo, m: _normal((1 / fi) ** 0.5) if m == "xavier" else None,
                check=INIT),
        Mistake("init_method_ignored", "Your weights follow the other initialization: method='he' asks for "
                "std = sqrt(2 / fan_in), method='xavier' for std = sqrt(2 / (fan_in + fan_out)).",
                lambda fi, fo, m: ref.init_distribution(fi, fo, "xavier" if m == "he" else "he"), check=INIT),
        Mistake("init_small_random", "Your weights are np.random.randn(...) * 0.01: too small for a deep ReLU "
                "network (the signal fades layer after layer). Scale them by the initialization's std.",
                lambda fi, fo, m: _normal(0.01), check=INIT),
        Mistake("init_variance_as_std", "You multiplied by the variance (2 / fan_in for He) where the standard "
                "deviation belongs: multiply np.random.randn draws by its square root.",
                lambda fi, fo, m: _normal(2 / fi if m == "he" else 2 / (fi + fo)), check=INIT),
        Mistake("init_uniform", "Your draws are uniform; this initialization draws from a normal distribution "
                "(rng.standard_normal or np.random.randn) times the std.",
                lambda fi, fo, m: _uniform((3 * ref.init_distribution(fi, fo, m).var()) ** 0.5), check=INIT),
    ),
    doc=("Create the parameters of an L-layer network.\n\n"
         "layer_dims: list of sizes [n0, n1, ..., nL] (n0 inputs, nL classes); seed: an int, draw with "
         "rng = np.random.default_rng(seed) (or np.random.seed(seed)); method: 'he' (std = sqrt(2 / n_{l-1}), "
         "for ReLU layers) or 'xavier' (std = sqrt(2 / (n_{l-1} + n_l))), normal draws as "
         "torch.nn.init.kaiming_normal_ / xavier_normal_.\n"
         "Returns a dict with Wl of shape (n_{l-1}, n_l) (normal draws times the std) and bl = zeros of shape "
         "(1, n_l), for l = 1..L."),
)


# ----------------------------------------------------------------------------- forward, cost, backward


def _softmax_unstable(Z):
    e = torch.exp(Z)
    return e / e.sum(dim=1, keepdim=True)


def _forward(parameters, X, *, hidden=torch.relu, output=None):
    return ref.forward(parameters, X, hidden=hidden) if output is None else _layers(parameters, X, hidden, output)


def _layers(parameters, X, hidden, output):
    parameters = {k: torch.as_tensor(v) for k, v in parameters.items()}
    A, L = X, ref.depth(parameters)
    for layer in range(1, L + 1):
        Z = A @ parameters[f"W{layer}"] + parameters[f"b{layer}"].reshape(-1)
        A = hidden(Z) if layer < L else output(Z)
    return A


def _backprop(X, parameters, Y, *, mean=True, mask=True, softmax_twice=False, z_for_a=False):
    """The course's backward pass written out, with switches for catalogued mistakes: gradients of the
    summed cost (mean=False), ReLU's mask left out, the softmax derivative applied on top of AL - Y, and dW
    formed from the previous layer's pre-activation Z instead of its activation A (a cache mix-up)."""
    L = ref.depth(parameters)
    A, cache = X, []
    for layer in range(1, L + 1):
        Z = A @ parameters[f"W{layer}"] + parameters[f"b{layer}"].reshape(-1)
        cache.append((A, Z))
        A = torch.relu(Z) if layer < L else torch.softmax(Z, dim=1)
    dZ = (A - Y) / (X.shape[0] if mean else 1)
    if softmax_twice:
        dZ = dZ * A * (1 - A)
    grads = {}
    for layer in range(L, 0, -1):
        A_prev, _Z = cache[layer - 1]
        source = cache[layer - 2][1] if z_for_a and layer > 1 else A_prev
        grads[f"dW{layer}"] = source.T @ dZ
        grads[f"db{layer}"] = dZ.sum(dim=0).reshape(parameters[f"b{layer}"].shape)
        if layer > 1:
            dA = dZ @ parameters[f"W{layer}"].T
            dZ = dA * (cache[layer - 2][1] > 0) if mask else dA
    return grads


BACKPROP = "backprop"
forward_propagation = Function(
    name="forward_propagation",
    args={"X": X, "parameters": Arg(kind="fixed", value=Layers("params", bias_row=True))},
    reference=lambda X, parameters: ref.forward(parameters, X),
    outputs=("AL", "caches"),
    cases=NET_CASES,
    checks={"interface": 0.5, "params_forward": 2.0, BACKPROP: 3.0},
    mistakes=(
        Mistake("forward_unstable_softmax", "Your softmax overflows on large scores (NaN or inf): subtract each "
                "row's maximum before np.exp, Z - Z.max(axis=1, keepdims=True); the result is the same.",
                lambda X, p: _forward(p, X, output=_softmax_unstable), check="params_forward"),
        Mistake("forward_relu_on_output", "Your output layer applies ReLU before the softmax; ReLU is for the hidden "
                "layers, the last layer is AL = softmax(A_{L-1} @ WL + bL).",
                lambda X, p: _forward(p, X, output=lambda Z: torch.softmax(torch.relu(Z), dim=1)),
                check="params_forward"),
        Mistake("forward_sigmoid_output", "Your output layer is a sigmoid; this network's output is a softmax over "
                "the classes, so each row of AL sums to 1.",
                lambda X, p: _forward(p, X, output=torch.sigmoid), check="params_forward"),
        Mistake("forward_no_hidden_activation", "Your hidden layers have no activation: A = relu(Z) for l < L, "
                "or the network is linear.", lambda X, p: _forward(p, X, hidden=lambda Z: Z), check="params_forward"),
    ),
    backward=Backward(
        name="backward_propagation", args=("AL", "Y", "caches"), wrt=("parameters",),
        targets=Arg(shape=("N", "C"), kind="onehot"), loss=ref.cost,
        mistakes=(
            Mistake("backprop_summed", "Your gradients are N times too large: the cost is a mean over the N "
                    "examples, so dZL = (AL - Y) / N.", partial(_backprop, mean=False), check=BACKPROP),
            Mistake("backprop_no_relu_mask", "Your backward ignores ReLU's derivative: in every hidden layer "
                    "dZ = dA * (Z > 0), with the Z that layer cached.", partial(_backprop, mask=False),
                    check=BACKPROP),
            Mistake("backprop_softmax_derivative_twice", "Your output gradient multiplies AL - Y by the softmax "
                    "derivative AL * (1 - AL); with softmax and cross-entropy together dZL = (AL - Y) / N already "
                    "includes it.", partial(_backprop, softmax_twice=True), check=BACKPROP),
            Mistake("backprop_z_for_a", "Your dW uses the previous layer's pre-activation Z where its activation "
                    "belongs: dWl = A_prev.T @ dZl, with A_prev = relu(Z_prev), the input the layer received "
                    "(check what each cache holds).", partial(_backprop, z_for_a=True), check=BACKPROP),
        ),
        doc=("Gradients of the cost with respect to every parameter.\n\n"
             "AL: (N, C) the output of forward_propagation; Y: (N, C) one-hot labels; caches: what your "
             "forward_propagation returned beside AL. With softmax and cross-entropy, dZL = (AL - Y) / N; then for "
             "each layer l from L down to 1: dWl = A_prev.T @ dZl, dbl = dZl.sum(axis=0, keepdims=True), "
             "dA_prev = dZl @ Wl.T and, for a hidden layer, dZ_prev = dA_prev * relu'(Z_prev).\n"
             "Returns a dict {'dW1': ..., 'db1': ..., 'dWL': ..., 'dbL': ...}, each in its parameter's shape."),
    ),
    doc=("Forward pass of the L-layer network.\n\n" + BATCH_FIRST + " For l = 1..L: Zl = A_prev @ Wl + bl; "
         "Al = relu(Zl) for hidden layers, and AL = softmax(ZL) (row-wise, stable: subtract each row's max) for "
         "the last.\nReturns (AL, caches): AL (N, C) probabilities, and caches, whatever backward_propagation "
         "needs (for example a list of (A_prev, W, b, Z) per layer)."),
)

compute_cost = Function(
    name="compute_cost",
    args={"AL": Arg(shape=("N", "C"), kind="probs"), "Y": Arg(shape=("N", "C"), kind="onehot", differentiable=False)},
    reference=ref.cost,
    cases=(Case({"N": 1, "C": 3}), Case({"N": 8, "C": 4}), Case({"N": 20, "C": 10})),
    checks={"interface": 0.5, "forward": 1.0},
    mistakes=(
        Mistake("cost_summed", "Your cost sums over the examples; it is their mean: divide by N.",
                lambda AL, Y: -(Y * torch.log(AL)).sum()),
        Mistake("cost_mean_over_classes", "Your cost averages over every element (N * C of them); it sums over the "
                "classes and averages over the N examples: -(Y * log(AL)).sum(axis=1).mean().",
                lambda AL, Y: -(Y * torch.log(AL)).mean()),
        Mistake("cost_binary_formula", "Your cost uses the binary cross-entropy Y log AL + (1 - Y) log(1 - AL); with "
                "a softmax over C classes the cost is -(Y * log(AL)).sum(axis=1).mean().",
                lambda AL, Y: -(Y * torch.log(AL) + (1 - Y) * torch.log(1 - AL)).sum(dim=1).mean()),
    ),
    doc=("The cost of the network's output: the mean cross-entropy.\n\n"
         "AL: (N, C) probabilities from forward_propagation; Y: (N, C) one-hot labels. Returns the float "
         "-(1/N) * sum over examples and classes of Y * log(AL)."),
)

update_parameters = Optimizer(
    name="update_parameters",
    args=("parameters", "grads", "learning_rate"),
    reference=refopt.sgd,
    runs=({"learning_rate": 0.1, "weight_decay": 0.0}, {"learning_rate": 0.03, "weight_decay": 0.0}),
    grad_key="d{}",
    checks={"interface": 0.5, "steps": 1.0},
    mistakes=(
        Mistake("update_ascent", "Your update adds the gradients: gradient descent subtracts them, "
                "W = W - learning_rate * dW.",
                lambda p, g, state, t, h: ({k: p[k] + h["learning_rate"] * g[k] for k in p}, state), check="steps"),
    ),
    doc=("One step of gradient descent on every parameter: for l = 1..L, Wl -= learning_rate * dWl and "
         "bl -= learning_rate * dbl.\n\n"
         "parameters: dict W1, b1, ...; grads: dict dW1, db1, ... (from backward_propagation); learning_rate: a "
         "float. Returns parameters, or updates the dict in place and returns None. Do not modify grads."),
)

predict = Function(
    name="predict",
    args={"X": X, "parameters": Arg(kind="fixed", value=Layers("params"))},
    reference=lambda X, parameters: ref.predict(parameters, X),
    outputs=("labels",),
    cases=NET_CASES,
    checks={"interface": 0.5, "params_forward": 1.0},
    exact=True,
    mistakes=(
        Mistake("predict_wrong_axis", "Your argmax runs over the examples (axis 0); each example's class is the "
                "argmax of its row: np.argmax(AL, axis=1).",
                lambda X, p: ref.forward(p, X).argmax(dim=0), check="params_forward"),
    ),
    doc=("Class predictions of the network.\n\n" + BATCH_FIRST + " Returns (N,) integers: the most probable "
         "class of each row of forward_propagation's AL."),
)

# The optimizers exercise's state initializers, the same functions (an assignment may hold both exercises).
initialize_velocity, initialize_adam = _velocity_state, _adam_state


# ----------------------------------------------------------------------------- optimize

OPTIMIZERS = {"gd": refopt.sgd, "momentum": refopt.sgd_momentum, "adam": refopt.adam}


def _hyper(inputs: dict) -> dict:
    """The torch.optim settings of a run (no weight decay, no dampening: the course's formulas)."""
    return {"learning_rate": inputs["learning_rate"], "beta": inputs["beta"], "beta1": inputs["beta1"],
            "beta2": inputs["beta2"], "epsilon": inputs["epsilon"], "dampening": 0.0, "weight_decay": 0.0}


def _run(inputs: dict, step=None, optimizer=None):
    """(costs, parameters) of the run `inputs` describe: torch.optim's, or a formula step's."""
    name = optimizer or inputs["optimizer"]
    return ref.trajectory(OPTIMIZERS[name], _hyper(inputs), inputs["parameters"], inputs["X"], inputs["Y"],
                          inputs["num_iterations"], step=step)


def _ema_momentum(params, grads, state, t, h):
    """Momentum as an exponential average, v = beta * v + (1 - beta) * g (Coursera's form)."""
    v = {k: h["beta"] * state["v"][k] + (1 - h["beta"]) * grads[k] for k in grads}
    return {k: params[k] - h["learning_rate"] * v[k] for k in params}, {**state, "v": v}


def _adam_t_fixed(params, grads, state, t, h):
    """Adam whose step count stays 1: the bias correction of the first step at every step."""
    new, moments = refopt.adam_step(params, grads, state, 1, h)
    return new, {**state, **moments}


def _adam_eps_inside(params, grads, state, t, h):
    b1, b2, eps = h["beta1"], h["beta2"], h["epsilon"]
    v = {k: b1 * state["v"][k] + (1 - b1) * grads[k] for k in grads}
    s = {k: b2 * state["s"][k] + (1 - b2) * grads[k] ** 2 for k in grads}
    new = {k: params[k] - h["learning_rate"] * (v[k] / (1 - b1 ** t)) / torch.sqrt(s[k] / (1 - b2 ** t) + eps)
           for k in params}
    return new, {**state, "v": v, "s": s}


def _when(optimizer, step):
    """A mistake of one optimizer: that formula on its runs, the right trajectory on the others."""
    return lambda **inputs: _run(inputs, step=step if inputs["optimizer"] == optimizer else None)


def _costs_after_update(**inputs):
    costs, params = _run({**inputs, "num_iterations": inputs["num_iterations"] + 1})
    return costs[1:], _run(inputs)[1]


RUN = "training_run"
LAYER_DIMS = Arg(kind="fixed", value=Layers("dims"))
optimize = Function(
    name="optimize",
    args={"X": Arg(shape=("N", "D")), "Y": Arg(shape=("N", "C"), kind="onehot"), "layer_dims": LAYER_DIMS,
          "optimizer": Arg(kind="fixed", value="gd"), "learning_rate": Arg(kind="fixed", value=0.1),
          "num_iterations": Arg(kind="fixed", value=15), "beta": Arg(kind="fixed", value=0.9),
          "beta1": Arg(kind="fixed", value=0.9), "beta2": Arg(kind="fixed", value=0.999),
          "epsilon": Arg(kind="fixed", value=1e-8),
          # Small starting weights keep every example's probability of its class above 0.15 (600 draws), so
          # the common log(AL + 1e-8) changes no cost beyond float64's tolerance.
          "parameters": Arg(kind="fixed", value=Layers("params", scale=0.3))},
    keywords=("learning_rate", "num_iterations", "beta", "beta1", "beta2", "epsilon", "parameters"),
    reference=lambda **inputs: _run(inputs),
    # epsilon = 1e-4 in the Adam run: gradients far below it would make the step depend on the last bits
    # of a float32 computation; at 1e-4 where epsilon sits (inside or outside the root) still shows.
    cases=(Case({"N": 16, "D": 5, "H1": 6, "C": 3}, values={"optimizer": "gd", "learning_rate": 0.5}, label="gd"),
           Case({"N": 20, "D": 4, "H1": 7, "H2": 5, "C": 3},
                values={"optimizer": "momentum", "learning_rate": 0.1, "beta": 0.8}, label="momentum"),
           Case({"N": 24, "D": 6, "H1": 5, "H2": 6, "H3": 4, "C": 4},
                values={"optimizer": "adam", "learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4},
                label="adam")),
    checks={"interface": 0.5, RUN: 3.0},
    batch_dim=None,
    mistakes=(
        Mistake("optimize_optimizer_ignored", "Your run ignores `optimizer`: every run follows plain gradient "
                "descent. Dispatch on it: 'gd', 'momentum' (initialize_velocity) or 'adam' (initialize_adam).",
                lambda **inputs: _run(inputs, optimizer="gd"), check=RUN),
        Mistake("optimize_momentum_average", "Your velocity is an exponential average, v = beta * v + (1 - beta) * "
                "dW (the deeplearning.ai form); this assignment grades torch.optim.SGD's momentum: v = beta * v + "
                "dW, W -= learning_rate * v.", _when("momentum", _ema_momentum), check=RUN),
        Mistake("optimize_adam_no_bias_correction", "Your Adam skips the bias correction: v_hat = v / (1 - beta1**t) "
                "and s_hat = s / (1 - beta2**t), with t the step number from 1.",
                _when("adam", partial(refopt.adam_step, bias_correction=False)), check=RUN),
        Mistake("optimize_adam_t_fixed", "Your Adam's bias correction always uses t = 1: t counts the steps, "
                "1, 2, 3, ..., so the correction fades.", _when("adam", _adam_t_fixed), check=RUN),
        Mistake("optimize_adam_eps_inside_sqrt", "Your epsilon is inside the square root; Adam adds it outside: "
                "W -= learning_rate * v_hat / (sqrt(s_hat) + epsilon).", _when("adam", _adam_eps_inside), check=RUN),
        Mistake("optimize_costs_after_update", "Your costs are one step late: record each iteration's cost from "
                "the forward pass before the update (costs[0] is the cost of the starting parameters).",
                _costs_after_update, check=RUN),
    ),
    doc=("Train the network on (X, Y), full batch, with gradient descent, momentum or Adam.\n\n"
         "X: (N, n0); Y: (N, C) one-hot; layer_dims: [n0, ..., C]; optimizer: 'gd', 'momentum' or 'adam'. "
         "Start from `parameters` when it is given (the grader gives it; use a copy), otherwise from "
         "initialize_parameters(layer_dims, seed). Each of the num_iterations iterations: forward_propagation, "
         "compute_cost (append it to costs), backward_propagation, then the update:\n"
         "gd: W -= learning_rate * dW;\n"
         "momentum (torch.optim.SGD): v = beta * v + dW; W -= learning_rate * v (v from initialize_velocity);\n"
         "adam (torch.optim.Adam): v = beta1 * v + (1 - beta1) * dW; s = beta2 * s + (1 - beta2) * dW**2; "
         "v_hat = v / (1 - beta1**t); s_hat = s / (1 - beta2**t); W -= learning_rate * v_hat / (sqrt(s_hat) + "
         "epsilon), t = 1, 2, ... (v, s from initialize_adam).\n"
         "Returns (parameters, costs): the trained dict, and the num_iterations costs, each computed before "
         "its iteration's update."),
)

plot_cost = Function(
    name="plot_cost",
    args={"costs": Arg(shape=("T",), kind="positive")},
    reference=lambda costs: costs,
    cases=(Case({"T": 30}), Case({"T": 7})),
    checks={"interface": 0.5, "plot_line": 1.0},
    batch_dim=None,
    mistakes=(
        Mistake("plot_returns_none", "plot_cost returned None: it drew the plot (plt.plot, plt.show) but must "
                "return the figure: fig, ax = plt.subplots(); ax.plot(costs); return fig.",
                lambda f: f["returned_none"], check="plot_line"),
        Mistake("plot_returns_axes", "plot_cost returned the axes, not the figure: return fig (or ax.figure).",
                lambda f: f["returned_axes"], check="plot_line"),
        Mistake("plot_log_values", "Your line holds log(costs): plot the costs themselves, and for a logarithmic "
                "axis call ax.set_yscale('log').", lambda f: f["log_values"], check="plot_line"),
        Mistake("plot_no_line", "The figure holds no line: ax.plot(costs) draws one (scatter and bar plots are "
                "not lines).", lambda f: f["figure"] and not f["lines"], check="plot_line"),
    ),
    doc=("Plot the learning curve.\n\n"
         "costs: the list optimize returned. Draw it as a line (x: iteration, y: cost) with matplotlib and "
         "return the Figure: fig, ax = plt.subplots(); ax.plot(costs); ...; return fig. Do not call plt.show() "
         "before returning (the grader uses a non-interactive backend)."),
)

EXERCISE = Exercise(
    id="from_scratch",
    title="A network from scratch: the course's function list",
    units=(activation_function, activation_derivative, initialize_parameters, forward_propagation, compute_cost,
           update_parameters, predict, initialize_velocity, initialize_adam, optimize, plot_cost),
    starter="from_scratch.py",
    description=__doc__,
)
