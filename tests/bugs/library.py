"""A library of realistic single mistakes, one per entry, across every exercise family.

Each is an edit of the model solution (exercises/solution/) as a student would make it, written from
the starter kit's docstrings and common errors, not from the catalogue. The entry says which exercise
must lose points and which hint codes name the mistake (a catalogued explanation "mistake:<id>", or a
diagnosed shape such as "sign_flip"). tests/test_bug_library.py grades them and reports how many are
named.
"""
from __future__ import annotations

# id -> (file, [(old, new)], exercise, hint codes that name the mistake)
BUGS = {
    # layers
    "relu derivative 1 at 0": ("layers.py", [("return dout * (x > 0)", "return dout * (x >= 0)")], "layers",
                               {"mistake:relu_backward_one_at_zero"}),
    "sigmoid backward forgets dout": ("layers.py", [("return dout * s * (1 - s)", "return s * (1 - s)")], "layers",
                                      {"mistake:sigmoid_backward_no_dout"}),
    "tanh backward from x": ("layers.py", [("return dout * (1 - np.tanh(x) ** 2)", "return dout * (1 - x ** 2)")],
                             "layers", {"mistake:tanh_backward_uses_x"}),
    "softmax over axis 0": ("layers.py", [("shifted = x - x.max(axis=1, keepdims=True)\n    e = np.exp(shifted)\n"
                                           "    return e / e.sum(axis=1, keepdims=True)",
                                           "shifted = x - x.max(axis=0, keepdims=True)\n    e = np.exp(shifted)\n"
                                           "    return e / e.sum(axis=0, keepdims=True)")], "layers",
                            {"wrong_axis"}),
    "softmax not stabilized": ("layers.py", [("shifted = x - x.max(axis=1, keepdims=True)\n    e = np.exp(shifted)",
                                              "e = np.exp(x)")], "layers", {"nonfinite"}),
    "softmax backward diagonal only": ("layers.py", [("return s * (dout - (dout * s).sum(axis=1, keepdims=True))",
                                                      "return dout * s * (1 - s)")], "layers",
                                       {"mistake:softmax_backward_diagonal"}),
    "linear dW transposed": ("layers.py", [("return dout @ W.T, x.T @ dout, dout.sum(axis=0)",
                                            "return dout @ W.T, (dout.T @ x), dout.sum(axis=0)")], "layers",
                             {"transposed"}),
    "linear db averaged": ("layers.py", [("return dout @ W.T, x.T @ dout, dout.sum(axis=0)",
                                          "return dout @ W.T, x.T @ dout, dout.mean(axis=0)")], "layers",
                           {"mistake:linear_backward_db_mean", "batch_scale"}),
    "cross-entropy gradient not averaged": ("layers.py", [("return probs / len(y)", "return probs")], "layers",
                                            {"mistake:cross_entropy_grad_not_averaged", "batch_scale"}),
    "cross-entropy gradient sign": ("layers.py", [("probs[np.arange(len(y)), y] -= 1\n    return probs / len(y)",
                                                   "probs[np.arange(len(y)), y] -= 1\n    return -probs / len(y)")],
                                    "layers", {"sign_flip"}),
    "sgd ascent": ("layers.py", [("param -= lr * grad", "param += lr * grad")], "layers", {"mistake:sgd_ascent"}),
    # activations
    "leaky relu slope hard-coded": ("activations.py", [("return np.where(x > 0, x, negative_slope * x)",
                                                        "return np.where(x > 0, x, 0.01 * x)")], "activations",
                                    {"mistake:leaky_relu_fixed_slope"}),
    "gelu tanh approximation": ("activations.py", [(
        "return 0.5 * x * (1 + erf(x / np.sqrt(2)))",
        "return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))")], "activations",
        {"mistake:gelu_tanh_approximation"}),
    "log-softmax max not added back": ("activations.py", [(
        "shifted = x - x.max(axis=1, keepdims=True)\n    return shifted - np.log(np.exp(shifted).sum(axis=1, "
        "keepdims=True))",
        "shifted = x - x.max(axis=1, keepdims=True)\n    return x - np.log(np.exp(shifted).sum(axis=1, "
        "keepdims=True))")], "activations", {"mistake:log_softmax_max_not_added_back", "offset"}),
    "log-softmax backward without row sum": ("activations.py", [(
        "return dout - s * dout.sum(axis=1, keepdims=True)", "return dout - s")], "activations",
        {"mistake:log_softmax_backward_missing_row_sum"}),
    # losses
    "bce without the negative class": ("losses.py", [(
        "return float(-np.mean(y * np.log(probs) + (1 - y) * np.log(1 - probs)))",
        "return float(-np.mean(y * np.log(probs)))")], "losses", {"mistake:bce_missing_negative_term"}),
    "mse gradient without 2": ("losses.py", [("return 2 * (pred - target) / pred.size",
                                              "return (pred - target) / pred.size")], "losses",
                               {"mistake:mse_grad_missing_factor_2", "scale"}),
    "bce-with-logits gradient not averaged": ("losses.py", [("return (s - y) / logits.size", "return s - y")],
                                              "losses", {"mistake:bce_logits_grad_not_averaged", "batch_scale"}),
    "one-hot cross-entropy gradient reversed": ("losses.py", [(
        "return (np.exp(_log_softmax_rows(logits)) - y_onehot) / logits.shape[0]",
        "return (y_onehot - np.exp(_log_softmax_rows(logits))) / logits.shape[0]")], "losses", {"sign_flip"}),
    # conv
    "conv dx keeps the padding": ("conv.py", [("dx = dxp[:, :, padding:padding + H, padding:padding + W]",
                                               "dx = dxp")], "conv", {"mistake:conv2d_dx_keeps_padding"}),
    "max-pool backward to the whole window": ("conv.py", [(
        "np.add.at(dx, (n, c, i * stride + p, j * stride + q), dout[:, :, i, j])",
        "dx[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size] += "
        "dout[:, :, i, j, None, None]")], "conv", {"mistake:maxpool2d_whole_window"}),
    "conv db averaged over the batch": ("conv.py", [("return dx, dw, dout.sum(axis=(0, 2, 3))",
                                                    "return dx, dw, dout.sum(axis=0).sum(axis=(1, 2)) / dout.shape[0]")],
                                    "conv", {"batch_scale", "mistake:conv2d_db_mean"}),
    "conv kernel flipped": ("conv.py", [("np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))",
                                         "np.tensordot(window, w[:, :, ::-1, ::-1], axes=([1, 2, 3], [1, 2, 3]))")],
                            "conv", {"mistake:conv2d_flipped_kernel"}),
    # regularization
    "dropout not rescaled": ("regularization.py", [("return x * mask / (1 - p_drop)", "return x * mask")],
                             "regularization", {"mistake:dropout_not_rescaled"}),
    "dropout in eval mode": ("regularization.py", [("    if not training:\n        return x\n", "")],
                             "regularization", {"mistake:dropout_in_eval_mode"}),
    "batchnorm unbiased variance": ("regularization.py", [("var = x.var(axis=0)\n", "var = x.var(axis=0, ddof=1)\n")],
                                    "regularization", {"mistake:batchnorm_normalizes_with_unbiased_var"}),
    "batchnorm dgamma with x": ("regularization.py", [("dgamma = (dout * x_hat).sum(axis=0)",
                                                       "dgamma = (dout * x).sum(axis=0)")], "regularization",
                                {"mistake:batchnorm_backward_dgamma_with_x"}),
    # init
    "xavier from fan_out only": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out))",
                                              "rng.normal(0.0, np.sqrt(1.0 / fan_out)")], "init",
                                 {"mistake:xavier_normal_fan_out_only"}),
    "he with both fans": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / fan_in)",
                                       "rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out))")], "init",
                          {"mistake:he_normal_both_fans"}),
    "he uniform from fan_out": ("init.py", [("limit = np.sqrt(6.0 / fan_in)", "limit = np.sqrt(6.0 / fan_out)")],
                                "init", {"mistake:he_uniform_fan_out"}),
    # utils
    "shuffle X and y separately": ("utils.py", [(
        "order = np.random.default_rng(seed).permutation(len(y))\n    return X[order], y[order]",
        "rng = np.random.default_rng(seed)\n    return X[rng.permutation(len(y))], y[rng.permutation(len(y))]")],
        "utils", {"mistake:shuffle_unpaired"}),
    "save without names": ("utils.py", [("np.savez(path, **params)", "np.savez(path, *params.values())")], "utils",
                           {"mistake:save_positional_keys"}),
    "load everything as float64": ("utils.py", [("return {name: data[name] for name in data.files}",
                                                  "return {name: data[name].astype(np.float64) for name in data.files}")],
                                   "utils", {"mistake:save_lossy"}),
    "save only the network's four arrays": ("utils.py", [(
        "np.savez(path, **params)", "np.savez(path, W1=params['W1'], b1=params['b1'], W2=params['W2'], b2=params['b2'])")],
        "utils", {"mistake:save_fixed_names"}),
    "predict returns probabilities": ("utils.py", [(
        "return np.argmax(_scores(params, X), axis=1)",
        "s = _scores(params, X)\n    e = np.exp(s - s.max(axis=1, keepdims=True))\n"
        "    return e / e.sum(axis=1, keepdims=True)")], "utils", {"labels"}),
    "cost summed over examples": ("utils.py", [("return float(-log_probs[np.arange(len(y)), y].mean())",
                                                "return float(-log_probs[np.arange(len(y)), y].sum())")], "utils",
                                  {"mistake:cost_summed", "batch_scale"}),
    # optimizers
    "adam without bias correction": ("optimizers.py", [("return v[k] / (1 - beta1 ** t), s[k] / (1 - beta2 ** t)",
                                                        "return v[k], s[k]")], "optimizers",
                                     {"mistake:adam_no_bias_correction"}),
    "rmsprop epsilon inside the root": ("optimizers.py", [("denom = np.sqrt(s[k]) + epsilon",
                                                           "denom = np.sqrt(s[k] + epsilon)")], "optimizers",
                                        {"mistake:rmsprop_eps_inside_sqrt"}),
    "momentum ignores dampening": ("optimizers.py", [("beta * v[k] + (1 - dampening) * g", "beta * v[k] + g")],
                                   "optimizers", {"mistake:momentum_dampening_ignored"}),
    # network
    "network hidden gradient times the activation": ("network.py", [("dZ1 = (dZ2 @ self.W2.T) * (self.Z1 > 0)",
                                                                     "dZ1 = (dZ2 @ self.W2.T) * self.A1")],
                                                     "network", {"mistake:network_hidden_grad_times_activation"}),
    "network backward without the ReLU mask": ("network.py", [("dZ1 = (dZ2 @ self.W2.T) * (self.Z1 > 0)",
                                                               "dZ1 = dZ2 @ self.W2.T")], "network",
                                               {"mistake:network_no_relu_mask"}),
    "network predict returns probabilities": ("network.py", [("return np.argmax(self.forward(X), axis=1)",
                                                              "return self.forward(X)")], "network", {"labels"}),
    "network predict returns one-hot rows": ("network.py", [(
        "return np.argmax(self.forward(X), axis=1)",
        "probs = self.forward(X)\n        return np.eye(probs.shape[1])[np.argmax(probs, axis=1)]")], "network",
        {"labels"}),
    "network softmax not stabilized": ("network.py", [("Z2 = Z2 - Z2.max(axis=1, keepdims=True)\n        ", "")],
                                       "network", {"nonfinite"}),
    "network gradients summed": ("network.py", [("dZ2 = (self.probs - y_true) / m", "dZ2 = self.probs - y_true")],
                                 "network", {"mistake:network_grads_summed", "batch_scale"}),
    "network update ascent": ("network.py", [("self.W1 = self.W1 - learning_rate * grads[\"dW1\"]",
                                              "self.W1 = self.W1 + learning_rate * grads[\"dW1\"]")], "network",
                              {"mistake:network_update_ascent", "sign_flip"}),
    # scipy_network
    "scipy regularization not halved": ("scipy_network.py", [("lambda_ / (2 * m)", "lambda_ / m")],
                                        "scipy_network", {"mistake:scipy_reg_not_halved"}),
    "scipy sigmoid derivative missing": ("scipy_network.py", [("dZ1 = (dZ2 @ W2.T) * A1 * (1 - A1)",
                                                               "dZ1 = dZ2 @ W2.T")], "scipy_network",
                                         {"mistake:scipy_grad_no_sigmoid_derivative"}),
}
