"""Exercise `torch_training`: the PyTorch training loop and its evaluation, as the course writes them for
MNISTNet: `train_epoch(model, loader, optimizer, criterion, device)` and `evaluate(model, loader, device)`.
The grader calls them with its own model, a DataLoader over hidden data in a fixed order and, for training,
an optimizer and nn.CrossEntropyLoss; the parameters after the epoch and the accuracy are compared with the
same loop run by the grader from the same weights on the same batches."""
from grader.reference import torch_training as ref
from grader.spec import Case, Exercise, Mistake, TorchLoop

TRAIN_STUB = '''
def train_epoch(model, loader, optimizer, criterion, device):
    """One epoch of mini-batch training; returns the mean of the batches' losses (a float).

    For every (data, target) batch of `loader`: move both to `device`, clear the gradients
    (optimizer.zero_grad()), compute criterion(model(data), target) on the logits (criterion is
    nn.CrossEntropyLoss: it applies softmax itself), loss.backward(), optimizer.step(). Accumulate
    loss.item(), not the loss tensor. The grader passes the device: use it, never a fixed 'cuda' or 'cpu'.
    """
    raise NotImplementedError
'''

EVALUATE_STUB = '''
def evaluate(model, loader, device):
    """The accuracy of `model` on `loader`: the fraction (or percentage) of samples whose largest logit is
    the target. Switch the model to evaluation mode (model.eval()) and run it under torch.no_grad();
    move every batch to `device`.
    """
    raise NotImplementedError
'''

EXERCISE = Exercise(
    id="torch_training",
    title="Training loops in PyTorch",
    frameworks=("torch",),
    units=(
        TorchLoop(
            name="train_epoch",
            role="train_epoch",
            checks={"torch_train_epoch": 3.0, "torch_loop_device": 1.0},
            model={"sizes": (12, 16, 4)},
            cases=(Case({"N": 48, "B": 16}), Case({"N": 60, "B": 12})),
            optimizer="sgd",
            learning_rate=0.1,
            mistakes=(
                Mistake("torch_no_zero_grad", "Your loop never clears the gradients: call optimizer.zero_grad() "
                        "before loss.backward() in every batch, or each step uses the sum of all the gradients so "
                        "far.", ref.no_zero_grad, check="torch_train_epoch"),
                Mistake("torch_step_before_backward", "Your loop calls optimizer.step() before loss.backward(): "
                        "each step uses the gradients of the batch before (none in the first). The order is "
                        "zero_grad(), forward, loss, backward(), step().", ref.step_before_backward,
                        check="torch_train_epoch"),
                Mistake("torch_softmax_before_loss", "Your loop applies softmax before nn.CrossEntropyLoss, which "
                        "applies log-softmax itself: pass it the logits.", ref.softmax_before_loss,
                        check="torch_train_epoch"),
            ),
            doc=TRAIN_STUB,
        ),
        TorchLoop(
            name="evaluate",
            role="evaluate",
            checks={"torch_evaluate": 2.0, "torch_loop_device": 1.0},
            # Dropout and BatchNorm: evaluating in training mode gives another accuracy.
            model={"sizes": (12, 32, 4), "dropout": 0.5, "batchnorm": True},
            cases=(Case({"N": 64, "B": 16}), Case({"N": 50, "B": 10})),
            doc=EVALUATE_STUB,
        ),
    ),
    starter="torch_training.py",
    description=__doc__,
)
