"""`grade new-exercise NAME`: write an instructor's exercise file to start from.

The file is a complete, working exercise (a layer normalization named after NAME) whose comments
teach the format: the student-facing signature and docstring, the PyTorch reference (gradients come
from autograd), how inputs are generated, the checks and their points, visibility, and catalogued
mistakes. The instructor edits it, references it from the assignment file and runs `grade validate`.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path

TEMPLATE = '''"""Exercise `__NAME__`: layer normalization, forward and backward, written by the student in NumPy.

Edit this file into your own exercise. It is an ordinary Python file the grader imports in its own
process (never in the student's): it must define EXERCISE = Exercise(...). Check it with
`grade validate --assignment assignment.toml --solution solution/` before you release it.
"""
import torch

from grader.spec import Arg, Backward, Case, Exercise, Function, Mistake
from grader.torch_bridge import vjp  # torch.autograd.grad with an upstream gradient, without importing sympy


# 1. The reference: an ordinary PyTorch function of float64 tensors, taking the student's arguments in
#    the same order and returning what the student's function returns (a tensor, or a tuple of them).
#    Gradients for the backward check come from autograd: you never write a backward reference.
#    It must be deterministic: random numbers (a dropout mask) are an argument the grader draws (3. below).
def reference(x, gamma, beta, eps):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def _normalized(x, eps, *, dim=1):
    return (x - x.mean(dim, keepdim=True)) / torch.sqrt(x.var(dim, unbiased=False, keepdim=True) + eps)


def _gradients(dout, x, gamma, eps):
    """The right (dx, dgamma, dbeta), from autograd: a backward mistake changes only what is wrong."""
    with torch.enable_grad():  # mistakes run without autograd unless they ask for it
        x, gamma = x.clone().requires_grad_(), gamma.clone().requires_grad_()
        beta = torch.zeros_like(gamma, requires_grad=True)
        return vjp(reference(x, gamma, beta, eps), (x, gamma, beta), dout)


__NAME__ = Function(
    # 2. The name the student's function must have (an assignment can rename it in its [names] table).
    name="__NAME___forward",
    # 3. Its arguments, in order, and how the grader generates them. Shapes use named dimensions that
    #    every Case sizes, so related shapes stay consistent. Kinds (grader/spec.py, grader/inputs.py):
    #      normal (default, standard deviation `scale`), uniform (in [-scale, scale]), positive (in
    #      [0.5, 2] * scale), logits, probs (rows summing to one, over the last axis), onehot and labels
    #      (integer classes; `classes` names the dimension counting them), mask (0.0 / 1.0), and fixed
    #      (a hyperparameter: `value`). away_from=(0.0,) keeps values `margin` away from a kink such
    #      as ReLU's; differentiable=False for arguments no gradient is taken for (labels, masks).
    args={"x": Arg(shape=("N", "D"), scale=2.0),
          "gamma": Arg(shape=("D",), kind="positive"),
          "beta": Arg(shape=("D",)),
          "eps": Arg(kind="fixed", value=1e-5)},
    reference=reference,
    # 4. The cases: sizes of the dimensions. Include a batch of one; Case(..., large=True) multiplies
    #    values by each Arg's `large` (numerical stability); Case(..., values={...}) fixes arguments.
    cases=(Case({"N": 4, "D": 6}), Case({"N": 1, "D": 5}), Case({"N": 7, "D": 3})),
    # 5. The checks and their points (an assignment can change points in [points.__NAME__]):
    #      interface  the functions exist and take the documented arguments
    #      forward    outputs against the reference, tolerances by the student's dtype
    #      backward   gradients against autograd, with a random upstream gradient
    #      gradcheck  finite differences of the student's own forward against their own backward
    #      inputs     the student's functions leave their arguments unmodified
    #      kink       explicit inputs at kinks (`kinks=(...)` below), graded by PyTorch's convention
    #      update     for an update step: the returned or in-place-updated argument (`mutates=(...)`)
    checks={"interface": 0.5, "forward": 2.0, "backward": 2.0, "gradcheck": 1.0, "inputs": 0.5},
    axis=1,  # the axis it reduces over: a submission using another one is told so
    # 6. The backward the student writes: its arguments ("dout", the upstream gradient, and names of
    #    the forward's arguments) and the arguments it returns gradients for, in order.
    backward=Backward(
        name="__NAME___backward", args=("dout", "x", "gamma", "eps"), wrt=("x", "gamma", "beta"),
        doc="Gradients of __NAME___forward: returns (dx, dgamma, dbeta).\\n\\n"
            "dout: (N, D) upstream gradient; x: (N, D); gamma: (D,); eps: float.",
        # Mistakes of the backward take the backward's arguments and return its outputs.
        mistakes=(
            Mistake("__NAME___backward_dbeta_mean", "Your dbeta averages dout over the batch; beta is added to "
                    "every example, so dbeta = dout.sum(axis=0).",
                    lambda dout, x, gamma, eps: (*_gradients(dout, x, gamma, eps)[:2], dout.mean(0)),
                    check="backward"),
        )),
    # 7. Catalogued mistakes: a wrong variant written as a torch function of the forward's arguments.
    #    A student whose output matches it reads the explanation. `grade validate` checks that each
    #    one is caught (it differs from the reference) and named (no earlier mistake gives the same).
    mistakes=(
        Mistake("__NAME___over_the_batch", "You normalize each feature over the batch (axis 0); layer "
                "normalization normalizes each example over its features (axis 1).",
                lambda x, gamma, beta, eps: gamma * _normalized(x, eps, dim=0) + beta),
    ),
    # 8. The docstring of the student's stub (`grade starter` writes it): state shapes and conventions.
    doc="Layer normalization of each row of x: gamma * (x - mu) / sqrt(var + eps) + beta, with mu and var the "
        "mean and biased variance of the row.\\n\\nx: (N, D); gamma, beta: (D,); eps: float. Returns (N, D).",
)

EXERCISE = Exercise(
    id="__NAME__",  # the id the assignment file uses: exercises = ["__NAME__"]
    title="Layer normalization (__NAME__)",
    units=(__NAME__,),  # several Functions (or a Model) may make up one exercise
    starter="__NAME__.py",  # the file name of the student's starter module
    description=__doc__,
    # 9. Gradescope visibility per check kind: visible (default), hidden, after_due_date, after_published.
    visibility={"gradcheck": "after_due_date"},
)
'''

SNIPPET = '''exercises = ["{name}"]  # add it to the list

[exercise.{name}]
file = "{file}"
'''


class ScaffoldError(Exception):
    pass


def exercise_source(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise ScaffoldError(f"{name!r} cannot name an exercise: use lowercase letters, digits and underscores, "
                            f"starting with a letter (it becomes the exercise id and part of function names).")
    return TEMPLATE.replace("__NAME__", name)


def write_exercise(name: str, folder: Path, force: bool = False) -> Path:
    """Write FOLDER/NAME.py; refuse to replace an existing file unless `force`."""
    source = exercise_source(name)
    path = Path(folder) / f"{name}.py"
    if path.exists() and not force:
        raise ScaffoldError(f"{path} already exists; choose another name or give --force to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return path


def toml_snippet(name: str, path: Path) -> str:
    return SNIPPET.format(name=name, file=Path(path).name)
