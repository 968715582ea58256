"""Exercise `optimizers`: SGD, momentum, Nesterov, RMSprop, Adam and AdamW, equal to torch.optim.

Each update must equal torch.optim's step by step.

Conventions (stated in every docstring): params, grads and every state dict map the same names
("W1", "b1", "W2", ...; any number of layers) to arrays of the same shapes; state is created by the
initialize_* functions as dicts of zeros; every hyperparameter is an argument (no defaults are
assumed); an update returns (params, *state) or updates the dicts in place and returns None, and never
modifies grads. Graded over 12 steps in a row with the learning rate changed mid-run: parameters and
state after every step must equal torch.optim's.
"""
from functools import partial

from grader.reference import optimizers as ref
from grader.spec import Convention, Exercise, Mistake, Optimizer, StateInit

# Options: `momentum_convention = "torch"` (default) or "cs231n" in the assignment file picks the
# momentum formula graded by update_parameters_with_momentum and update_parameters_with_nesterov.
MOMENTUM_OPTION = "momentum_convention"
RETURNS = ("Returns (params, {state}) with the updated dicts, or updates params and {state} in place and returns "
           "None. Do not modify grads.")
DICTS = ("params, grads: dicts name -> array ('W1', 'b1', ...; loop over the keys, any number of layers); "
         "{state}: the state, dicts with the same keys and shapes, created by {init} (zeros) and passed back every "
         "step.")

TORCH_MOMENTUM = Convention(
    "torch", "Your update follows torch.optim.SGD's momentum (v = beta * v + (1 - dampening) * g, "
    "p -= learning_rate * v), "
    "but this assignment grades the CS231n convention (v = beta * v - learning_rate * g, p += v), whose v "
    "includes the learning rate.")
CS231N_MOMENTUM = Convention(
    "cs231n", "Your update follows the CS231n convention (v = beta * v - learning_rate * g, p += v), but this "
    "assignment grades torch.optim.SGD's (v = beta * v + (1 - dampening) * g, p -= learning_rate * v): there v "
    "holds no learning rate, so the two differ in v, and in params once the learning rate changes.",
    ref.cs231n_momentum_step)
CS231N_NESTEROV = Convention(
    "cs231n", "Your update follows the CS231n convention (v_prev = v; v = beta * v - learning_rate * g; "
    "p += -beta * v_prev + (1 + beta) * v), but this assignment grades torch.optim.SGD's nesterov "
    "(v = beta * v + g, p -= learning_rate * (g + beta * v)).", ref.cs231n_nesterov_step)
TORCH_NESTEROV = Convention(
    "torch", "Your update follows torch.optim.SGD's nesterov (v = beta * v + g, p -= learning_rate * (g + beta * "
    "v)), but this assignment grades the CS231n convention (v_prev = v; v = beta * v - learning_rate * g; "
    "p += -beta * v_prev + (1 + beta) * v).")

CONVENTION_NOTE = (" If the assignment sets momentum_convention = \"cs231n\", v follows CS231n's formula instead: "
                   "{formula} (equal to the above while the learning rate stays the same).")

initialize_velocity = StateInit(
    name="initialize_velocity", returns=("v",),
    doc=("Create the velocity of momentum: v, a dict with the keys of params whose values are zeros of the same "
         "shapes (np.zeros_like(params[k]) for every key k).\n\nparams: dict name -> array. Returns v."),
)

initialize_rmsprop = StateInit(
    name="initialize_rmsprop", returns=("s", "m"),
    doc=("Create RMSprop's state: s, the running average of squared gradients, and m, the running average of "
         "gradients (used by the centered variant); both dicts with the keys of params and zeros of the same "
         "shapes.\n\nparams: dict name -> array. Returns (s, m)."),
)

initialize_adam = StateInit(
    name="initialize_adam", returns=("v", "s"),
    doc=("Create Adam's state: v, the first moment (running average of gradients), and s, the second moment "
         "(running average of squared gradients); both dicts with the keys of params and zeros of the same "
         "shapes.\n\nparams: dict name -> array. Returns (v, s)."),
)

gd = Optimizer(
    name="update_parameters_with_gd",
    args=("params", "grads", "learning_rate", "weight_decay"),
    reference=ref.sgd,
    runs=({"learning_rate": 0.1, "weight_decay": 0.0}, {"learning_rate": 0.05, "weight_decay": 0.02}),
    checks={"interface": 0.5, "steps": 2.0},
    mistakes=(
        Mistake("gd_weight_decay_ignored", "Your step ignores weight_decay: torch.optim.SGD adds weight_decay * p "
                "to the gradient, p -= learning_rate * (g + weight_decay * p).",
                partial(ref.gd_step, decay=False), check="steps"),
        Mistake("gd_decay_without_lr", "Your weight decay is not scaled by the learning rate: the decay term is "
                "part of the gradient, p -= learning_rate * (g + weight_decay * p).",
                partial(ref.gd_step, decay_times_lr=False), check="steps"),
    ),
    doc=("One step of gradient descent with L2 weight decay, as torch.optim.SGD (no momentum): for every key k, "
         "params[k] -= learning_rate * (grads[k] + weight_decay * params[k]).\n\n"
         "params, grads: dicts name -> array ('W1', 'b1', ...; loop over the keys, any number of layers); "
         "learning_rate, weight_decay: floats. Returns params, or updates it in place and returns None. "
         "Do not modify grads."),
)

momentum = Optimizer(
    name="update_parameters_with_momentum",
    args=("params", "grads", "v", "beta", "learning_rate", "dampening", "weight_decay", "t"),
    reference=ref.sgd_momentum,
    state={"v": "momentum_buffer"},
    runs=({"beta": 0.9, "learning_rate": 0.05, "dampening": 0.0, "weight_decay": 0.0},
          {"beta": 0.8, "learning_rate": 0.1, "dampening": 0.3, "weight_decay": 0.01}),
    checks={"interface": 0.5, "steps": 3.0},
    mistakes=(
        Mistake("momentum_first_step_dampened", "On the first step (t == 1) torch.optim.SGD sets the buffer to the "
                "gradient itself, v = g, without the (1 - dampening) factor; dampening applies from the second "
                "step on.", partial(ref.momentum_step, dampen_first_step=True), check="steps"),
        Mistake("momentum_dampening_ignored", "Your update ignores dampening: after the first step, "
                "v = beta * v + (1 - dampening) * g.", partial(ref.momentum_step, dampening=False), check="steps"),
    ),
    convention_option=MOMENTUM_OPTION,
    conventions=(TORCH_MOMENTUM, CS231N_MOMENTUM),
    doc=("One step of SGD with momentum, as torch.optim.SGD(momentum=beta, dampening=dampening, "
         "weight_decay=weight_decay). For every key k, with g = grads[k] + weight_decay * params[k]:\n"
         "v[k] = g on the first step (t == 1), and v[k] = beta * v[k] + (1 - dampening) * g after it;\n"
         "params[k] -= learning_rate * v[k]." + CONVENTION_NOTE.format(
             formula="v[k] = beta * v[k] - learning_rate * (1 - dampening) * g (v[k] = -learning_rate * g on the "
                     "first step), params[k] += v[k]") + "\n\n"
         + DICTS.format(state="v", init="initialize_velocity")
         + " beta, learning_rate, dampening, weight_decay: floats; t: the step number, 1 on the first step.\n"
         + RETURNS.format(state="v")),
)

nesterov = Optimizer(
    name="update_parameters_with_nesterov",
    args=("params", "grads", "v", "beta", "learning_rate", "weight_decay", "t"),
    reference=ref.sgd_nesterov,
    state={"v": "momentum_buffer"},
    runs=({"beta": 0.9, "learning_rate": 0.05, "weight_decay": 0.0},
          {"beta": 0.7, "learning_rate": 0.1, "weight_decay": 0.01}),
    checks={"interface": 0.5, "steps": 2.0},
    mistakes=(
        Mistake("nesterov_plain_momentum", "Your update is plain momentum, params -= learning_rate * v; Nesterov "
                "looks ahead: params -= learning_rate * (g + beta * v) with the new v.",
                partial(ref.nesterov_step, lookahead=False), check="steps"),
        Mistake("nesterov_decay_missing_in_lookahead", "Your lookahead adds beta * v to the raw gradient; with "
                "weight decay the gradient is g = grads + weight_decay * params in both places: "
                "params -= learning_rate * (g + beta * v).", partial(ref.nesterov_step, decay_in_lookahead=False),
                check="steps"),
    ),
    convention_option=MOMENTUM_OPTION,
    conventions=(TORCH_NESTEROV, CS231N_NESTEROV),
    doc=("One step of SGD with Nesterov momentum, as torch.optim.SGD(momentum=beta, dampening=0, nesterov=True, "
         "weight_decay=weight_decay). For every key k, with g = grads[k] + weight_decay * params[k]:\n"
         "v[k] = g on the first step (t == 1), and v[k] = beta * v[k] + g after it;\n"
         "params[k] -= learning_rate * (g + beta * v[k])." + CONVENTION_NOTE.format(
             formula="v_prev = v[k]; v[k] = beta * v[k] - learning_rate * g; params[k] += -beta * v_prev + "
                     "(1 + beta) * v[k]") + "\n\n"
         + DICTS.format(state="v", init="initialize_velocity")
         + " beta, learning_rate, weight_decay: floats; t: the step number, 1 on the first step.\n"
         + RETURNS.format(state="v")),
)

rmsprop = Optimizer(
    name="update_parameters_with_rmsprop",
    args=("params", "grads", "s", "m", "learning_rate", "alpha", "epsilon", "weight_decay", "centered"),
    reference=ref.rmsprop,
    state={"s": "square_avg", "m": "grad_avg"},
    runs=({"learning_rate": 0.01, "alpha": 0.9, "epsilon": 1e-3, "weight_decay": 0.0, "centered": False},
          {"learning_rate": 0.02, "alpha": 0.8, "epsilon": 1e-4, "weight_decay": 0.01, "centered": True}),
    checks={"interface": 0.5, "steps": 3.0},
    mistakes=(
        Mistake("rmsprop_eps_inside_sqrt", "Your epsilon is inside the square root; torch.optim.RMSprop adds it "
                "outside: params -= learning_rate * g / (sqrt(s) + epsilon).",
                partial(ref.rmsprop_step, eps_inside_sqrt=True), check="steps"),
        Mistake("rmsprop_centered_ignored", "With centered=True the denominator is sqrt(s - m**2) + epsilon, "
                "where m is the running average of the gradients; your update ignores centering.",
                partial(ref.rmsprop_step, centered=False), check="steps"),
    ),
    doc=("One step of RMSprop, as torch.optim.RMSprop(alpha=alpha, eps=epsilon, weight_decay=weight_decay, "
         "momentum=0, centered=centered). For every key k, with g = grads[k] + weight_decay * params[k]:\n"
         "s[k] = alpha * s[k] + (1 - alpha) * g**2;\n"
         "if centered: m[k] = alpha * m[k] + (1 - alpha) * g and d = sqrt(s[k] - m[k]**2) + epsilon,\n"
         "otherwise d = sqrt(s[k]) + epsilon (epsilon outside the square root; m stays as it is);\n"
         "params[k] -= learning_rate * g / d.\n\n"
         + DICTS.format(state="s, m", init="initialize_rmsprop")
         + " learning_rate, alpha, epsilon, weight_decay: floats; centered: bool.\n"
         + RETURNS.format(state="s, m")),
)

ADAM_FORMULA = ("v[k] = beta1 * v[k] + (1 - beta1) * g;  s[k] = beta2 * s[k] + (1 - beta2) * g**2;\n"
                "v_hat = v[k] / (1 - beta1**t);  s_hat = s[k] / (1 - beta2**t);\n"
                "params[k] -= learning_rate * v_hat / (sqrt(s_hat) + epsilon).\n\n")
ADAM_ARGS = ("params", "grads", "v", "s", "t", "learning_rate", "beta1", "beta2", "epsilon", "weight_decay")
ADAM_TAIL = (DICTS.format(state="v, s", init="initialize_adam")
             + " t: the step number, 1 on the first step; learning_rate, beta1, beta2, epsilon, weight_decay: "
               "floats.\n" + RETURNS.format(state="v, s"))

adam = Optimizer(
    name="update_parameters_with_adam",
    args=ADAM_ARGS,
    reference=ref.adam,
    state={"v": "exp_avg", "s": "exp_avg_sq"},
    runs=({"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-3, "weight_decay": 0.0},
          {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4, "weight_decay": 0.05}),
    checks={"interface": 0.5, "steps": 3.0},
    mistakes=(
        Mistake("adam_no_bias_correction", "Your update skips the bias correction: divide v by (1 - beta1**t) and "
                "s by (1 - beta2**t) before the step, or the first steps are far too small.",
                partial(ref.adam_step, bias_correction=False), check="steps"),
        Mistake("adam_eps_in_step_size", "You folded the bias correction into the step size, learning_rate * "
                "sqrt(1 - beta2**t) / (1 - beta1**t) * v / (sqrt(s) + epsilon) (the Adam paper's efficient form); "
                "that scales epsilon differently. torch.optim.Adam adds epsilon to sqrt(s_hat): "
                "v_hat / (sqrt(s_hat) + epsilon).", partial(ref.adam_step, eps_in_step_size=True), check="steps"),
        Mistake("adam_decoupled_weight_decay", "Your Adam decays the weights directly (params *= 1 - learning_rate "
                "* weight_decay, as AdamW does); torch.optim.Adam's weight_decay is L2: it adds weight_decay * "
                "params to the gradient before the moments.", partial(ref.adam_step, decoupled=True),
                check="steps"),
    ),
    doc=("One step of Adam, as torch.optim.Adam(betas=(beta1, beta2), eps=epsilon, weight_decay=weight_decay, "
         "amsgrad=False): weight decay is L2, added to the gradient. For every key k, with "
         "g = grads[k] + weight_decay * params[k]:\n" + ADAM_FORMULA + ADAM_TAIL),
)

adamw = Optimizer(
    name="update_parameters_with_adamw",
    args=ADAM_ARGS,
    reference=ref.adamw,
    state={"v": "exp_avg", "s": "exp_avg_sq"},
    runs=({"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-3, "weight_decay": 0.1},
          {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4, "weight_decay": 0.5}),
    checks={"interface": 0.5, "steps": 3.0},
    mistakes=(
        Mistake("adamw_coupled_weight_decay", "Your AdamW adds weight_decay * params to the gradient (L2, as Adam "
                "does); AdamW decouples it: params *= 1 - learning_rate * weight_decay first, then the Adam step "
                "with the gradient as it is.", ref.adam_step, check="steps"),
        Mistake("adamw_decay_without_lr", "Your decoupled decay is params *= 1 - weight_decay; torch.optim.AdamW "
                "scales it by the learning rate: params *= 1 - learning_rate * weight_decay.",
                partial(ref.adam_step, decoupled=True, decay_times_lr=False), check="steps"),
    ),
    doc=("One step of AdamW, as torch.optim.AdamW(betas=(beta1, beta2), eps=epsilon, weight_decay=weight_decay, "
         "amsgrad=False): decoupled weight decay. For every key k, first "
         "params[k] *= 1 - learning_rate * weight_decay; then, with g = grads[k] (no decay added):\n"
         + ADAM_FORMULA + ADAM_TAIL),
)

EXERCISE = Exercise(
    id="optimizers",
    title="Optimizers",
    units=(initialize_velocity, gd, momentum, nesterov, initialize_rmsprop, rmsprop, initialize_adam, adam, adamw),
    starter="optimizers.py",
    description=__doc__,
)
