"""Data sets for the training check and the timing workload. Nothing is ever downloaded.

- ``digits`` (the default): scikit-learn's bundled 8x8 digits (1797 images, shipped inside the
  scikit-learn wheel), scaled to [0, 1], with a fixed train/test split of 1437/360 images.
- ``mnist``: torchvision.datasets.MNIST(root=data_dir, download=False), i.e. the idx files in
  ``<data_dir>/MNIST/raw/``, through torchvision transforms (ToTensor, Normalize, flatten).
- ``cifar10``: the python batches in ``<data_dir>/cifar-10-batches-py/`` (data_batch_1..5, test_batch),
  read by a small reader of our own (torchvision's CIFAR10 insists on the official files' MD5 sums).
  Those batches are pickles: ``data_dir`` must be a folder you trust. The reader only lets the
  unpickler build plain containers and NumPy arrays, but that is defence in depth, not a licence.

Every loader returns a :class:`Dataset` of float64 features (N, D) and int64 labels (N,).
A folder without the data set raises :class:`DataError` naming the file expected and where.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = ("digits", "mnist", "cifar10")
DIGITS_TEST_SIZE = 360  # of 1797: 1437 train / 360 test
DIGITS_SPLIT_SEED = 0
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


class DataError(Exception):
    """A data set cannot be loaded; the message names the file expected and where."""


@dataclass
class Dataset:
    name: str
    X_train: np.ndarray  # (N, D) float64
    y_train: np.ndarray  # (N,) int64
    X_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def features(self) -> int:
        return int(self.X_train.shape[1])

    def onehot(self, y: np.ndarray) -> np.ndarray:
        return np.eye(self.classes)[np.asarray(y)]

    @property
    def Y_train(self) -> np.ndarray:
        """One-hot training labels (N, classes), float64."""
        return self.onehot(self.y_train)

    @property
    def Y_test(self) -> np.ndarray:
        return self.onehot(self.y_test)

    def subset(self, train: int | None = None, test: int | None = None) -> Dataset:
        """The first `train` / `test` examples (the order is already fixed)."""
        return Dataset(self.name, self.X_train[:train], self.y_train[:train], self.X_test[:test],
                       self.y_test[:test], self.classes)

    def describe(self) -> str:
        return f"{self.name}: {len(self.y_train)} train / {len(self.y_test)} test, {self.features} features, " \
               f"{self.classes} classes"


# ------------------------------------------------------------------------------------------ digits

_DIGITS_CACHE: dict[tuple, Dataset] = {}


def _digits_raw() -> np.ndarray:
    """(1797, 65) array: 64 pixel values in 0..16 and the label. Read straight from the CSV file
    scikit-learn ships (importing sklearn.datasets costs ~0.8 s); load_digits() if the file moved."""
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as f:
                return np.loadtxt(f, delimiter=",")
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as error:  # pragma: no cover - scikit-learn is a dependency
        raise DataError("the digits data set needs scikit-learn (pip install scikit-learn).") from error
    bunch = sk_load_digits()
    return np.column_stack([bunch.data, bunch.target])


def load_digits(test_size: int = DIGITS_TEST_SIZE, seed: int = DIGITS_SPLIT_SEED) -> Dataset:
    """scikit-learn's digits scaled to [0, 1], split by a fixed permutation (1437 / 360 by default)."""
    key = (test_size, seed)
    if key not in _DIGITS_CACHE:
        raw = _digits_raw()
        X, y = raw[:, :-1] / 16.0, raw[:, -1].astype(np.int64)
        order = np.random.default_rng(seed).permutation(len(y))
        test, train = order[:test_size], order[test_size:]
        _DIGITS_CACHE[key] = Dataset("digits", X[train], y[train], X[test], y[test], 10)
    d = _DIGITS_CACHE[key]
    return Dataset(d.name, d.X_train.copy(), d.y_train.copy(), d.X_test.copy(), d.y_test.copy(), d.classes)


# ------------------------------------------------------------------------------------------- MNIST


def _missing(what: str, path: Path, layout: str) -> DataError:
    return DataError(f"{what} not found: expected the file {path.name} in {path.parent} ({layout}). "
                     f"Nothing is downloaded: put the files there, or point --data-dir at the folder "
                     f"that holds them.")


def mnist_transform():
    """The torchvision pipeline of one image: ToTensor ([0, 1], 1x28x28), Normalize, flatten."""
    from torchvision import transforms
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(MNIST_MEAN, MNIST_STD),
                               transforms.Lambda(lambda t: t.reshape(-1))])


def _mnist_stack(images) -> np.ndarray:
    """The same transform applied to a whole uint8 stack (N, H, W) at once.

    ToTensor reads an ndarray as H x W x C, so the stack goes in as one H x W x N image: it comes out
    as N x H x W scaled to [0, 1], Normalize (one mean and std, broadcast over the N "channels") is
    the same elementwise operation, and flattening each image is a reshape. Equal to the per-image
    pipeline element for element (tests check it), without 70000 PIL round trips.
    """
    stack = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    n = stack.shape[0]
    if n == 0:
        return np.zeros((0, int(np.prod(stack.shape[1:]))))
    out = mnist_transform()(np.ascontiguousarray(stack.transpose(1, 2, 0)))
    return out.reshape(n, -1).numpy().astype(np.float64)


def load_mnist(data_dir, train: int | None = None, test: int | None = None) -> Dataset:
    """MNIST from ``<data_dir>/MNIST/raw/`` (torchvision's layout, uncompressed idx files)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"the data folder {root} does not exist (MNIST expects {root / 'MNIST' / 'raw'}).")
    raw = root / "MNIST" / "raw"
    for name in MNIST_FILES:
        if not (raw / name).is_file():
            raise _missing("MNIST", raw / name, "torchvision's layout: <data-dir>/MNIST/raw/, unzipped idx files")
    from torchvision.datasets import MNIST
    try:
        parts = [MNIST(root=str(root), train=flag, download=False, transform=mnist_transform())
                 for flag in (True, False)]
    except (RuntimeError, ValueError, AssertionError, OSError) as error:
        raise DataError(f"MNIST in {raw} could not be read: {error}") from error
    (tr, te) = parts
    return Dataset("mnist", _mnist_stack(tr.data[:train]), tr.targets[:train].numpy().astype(np.int64),
                   _mnist_stack(te.data[:test]), te.targets[:test].numpy().astype(np.int64), 10)


# ---------------------------------------------------------------------------------------- CIFAR-10


class _ArrayUnpickler(pickle.Unpickler):
    """Builds dicts, lists, bytes, str, numbers and NumPy arrays; refuses every other global."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("builtins", "bytearray"),
               ("_codecs", "encode")}  # how protocol-2 pickles written by Python 3 store bytes

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def read_cifar_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: uint8 images (N, 3072) (channel-major, 32x32 each) and int64 labels."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise _missing("CIFAR-10", path, f"the python version: <data-dir>/{CIFAR_DIR}/") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise DataError(f"{path} is not a CIFAR-10 python batch: {error}") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{path} is not a CIFAR-10 python batch: expected a dict with b'data' and b'labels'.")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{path}: expected b'data' uint8 (N, 3072) and N labels, got {data.dtype} "
                        f"{data.shape} and {len(labels)} labels.")
    return data, labels


def _cifar_features(data: np.ndarray) -> np.ndarray:
    """[0, 1], then per-channel Normalize (as torchvision's Normalize), flattened channel-major."""
    x = data.reshape(-1, 3, 1024).astype(np.float64) / 255.0
    x = (x - np.array(CIFAR_MEAN)[:, None]) / np.array(CIFAR_STD)[:, None]
    return x.reshape(len(data), 3072)


def load_cifar10(data_dir, train: int | None = None, test: int | None = None) -> Dataset:
    """CIFAR-10 from ``<data_dir>/cifar-10-batches-py/``. The batches are pickles: trust the folder."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"the data folder {root} does not exist (CIFAR-10 expects {root / CIFAR_DIR}).")
    folder = root / CIFAR_DIR
    for name in (*CIFAR_TRAIN, CIFAR_TEST):
        if not (folder / name).is_file():
            raise _missing("CIFAR-10", folder / name, f"the python version: <data-dir>/{CIFAR_DIR}/")
    xs, ys, have = [], [], 0
    for name in CIFAR_TRAIN:
        if train is not None and have >= train:
            break
        x, y = read_cifar_batch(folder / name)
        xs.append(x)
        ys.append(y)
        have += len(y)
    x_test, y_test = read_cifar_batch(folder / CIFAR_TEST)
    x_train, y_train = np.concatenate(xs)[:train], np.concatenate(ys)[:train]
    return Dataset("cifar10", _cifar_features(x_train), y_train, _cifar_features(x_test[:test]), y_test[:test], 10)


def load_dataset(name: str = "digits", data_dir=None, train: int | None = None,
                 test: int | None = None) -> Dataset:
    """A data set by name; `train`/`test` keep the first examples only."""
    name = (name or "digits").lower().replace("-", "")
    if name == "digits":
        return load_digits().subset(train, test)
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}.")
    if data_dir is None:
        data_dir = os.environ.get("GRADER_DATA_DIR")
    if not data_dir:
        raise DataError(f"the {name} data set is read from a local folder: give --data-dir (or "
                        f"GRADER_DATA_DIR). Nothing is downloaded.")
    return (load_mnist if name == "mnist" else load_cifar10)(data_dir, train, test)
