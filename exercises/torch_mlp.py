"""Exercise `torch_mlp`: the regularized MLP of the optimizers week (the course builds it in Keras for
CIFAR-10), as a PyTorch builder: dense 128 + ReLU, BatchNorm and Dropout(0.2), further dense layers with
ReLU, GELU and tanh, 10 outputs. Sizes, dropout rate and activations are arguments, so the grader builds
smaller ones: eval mode is deterministic and uses BatchNorm's running statistics, train mode drops at the
requested rate with the 1/(1-p) scaling, and the running statistics after a few steps match nn.BatchNorm1d's."""
from grader.reference import torch_mlp as ref
from grader.spec import Case, Exercise, TorchLoop, TorchModel

STUB = '''
def build_mlp(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu", "relu", "gelu", "tanh")):
    """The course's regularized MLP as an nn.Module (nn.Sequential is fine). In this order:

        nn.Linear(input_size, hidden_sizes[0]), activation 0, nn.BatchNorm1d(hidden_sizes[0]), nn.Dropout(dropout),
        then for every further hidden size: nn.Linear(previous, size), its activation,
        and nn.Linear(hidden_sizes[-1], output_size): logits, no softmax.

    activations[i] names the activation after hidden layer i: "relu" (nn.ReLU), "gelu" (nn.GELU) or
    "tanh" (nn.Tanh). The course's network is build_mlp(3072, [128, 256, 128, 64], 10).
    In eval mode (model.eval()) the model must be deterministic and BatchNorm use its running statistics.
    """
    raise NotImplementedError
'''

TRAIN_STUB = '''
def train_model(model, loader, optimizer, criterion, epochs, device):
    """Train `model` for `epochs` epochs of mini-batches from `loader` (zero_grad, forward, criterion on the
    logits, backward, step, as in train_epoch); return the list of every epoch's mean loss (floats).

    The grader calls it with your build_mlp model and each optimizer the course compares: SGD (lr 0.04),
    Adam (0.001) and RMSprop (0.001); the report shows your loss curves, test accuracy, macro F1 and
    confusion matrices beside the reference's.
    """
    raise NotImplementedError
'''

CASE_VALUES = ({"hidden": [16, 12, 10, 8], "p": 0.2, "acts": ["relu", "relu", "gelu", "tanh"]},
               {"hidden": [20, 9], "p": 0.5, "acts": ["relu", "gelu"]},
               {"hidden": [12, 10, 6], "p": 0.3, "acts": ["relu", "tanh", "gelu"]})

EXERCISE = Exercise(
    id="torch_mlp",
    title="A regularized MLP in PyTorch: BatchNorm and Dropout",
    frameworks=("torch",),
    units=(
        TorchModel(
            class_name="build_mlp",
            reference=ref.mlp,
            init_args={"input_size": "D", "hidden_sizes": "hidden", "output_size": "C", "dropout": "p",
                       "activations": "acts"},
            checks={"torch_architecture": 1.0, "torch_forward": 2.0, "torch_dropout": 2.0, "torch_batchnorm": 2.0,
                    "torch_device": 1.0},
            cases=tuple(Case({"N": 8 + 3 * i, "D": 10 + i, "C": 4 + i}, values=v) for i, v in enumerate(CASE_VALUES)),
            doc=STUB,
        ),
        TorchLoop(
            name="train_model",
            role="train_model",
            checks={"torch_optimizers": 1.0},
            # The course's comparison: its MLP trained with SGD (0.04), Adam (0.001) and RMSprop (0.001), on digits
            # (assignment options `dataset = "cifar10"` and --data-dir for CIFAR-10).
            model={"build": "build_mlp", "hidden": (128, 64, 32), "dropout": 0.2,
                   "activations": ("relu", "gelu", "tanh"), "optimizers": (("sgd", 0.04), ("adam", 0.001),
                                                                          ("rmsprop", 0.001)),
                   "epochs": 5, "batch_size": 64, "accuracy_margin": 0.05},
            doc=TRAIN_STUB,
        ),
    ),
    starter="torch_mlp.py",
    description=__doc__,
)
