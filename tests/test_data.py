"""Data sets: the bundled digits, and MNIST / CIFAR-10 from tiny files written in their real formats.
Nothing is ever downloaded."""
from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from grader import data
from grader.data import DataError, load_cifar10, load_dataset, load_digits, load_mnist


def write_idx(path, array: np.ndarray) -> None:
    """An idx ubyte file (MNIST's format): magic 0x0000 08 <ndim>, big-endian dims, raw uint8."""
    array = np.asarray(array, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.tobytes())


def make_mnist(root, n_train=12, n_test=5, seed=0):
    """torchvision's layout: <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    return root


def make_cifar(root, per_batch=4, n_test=3, seed=0):
    """The python version: <root>/cifar-10-batches-py/data_batch_1..5 and test_batch, pickled dicts."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
                 b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
                 b"filenames": [f"img{i}.png".encode() for i in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    return root


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    """Any attempt to download fails the test."""
    from torchvision.datasets import MNIST

    def refuse(*args, **kwargs):
        raise AssertionError("a data set download was attempted")
    monkeypatch.setattr(MNIST, "download", refuse)


def test_digits_fixed_split_scaled_to_unit_interval():
    d = load_digits()
    assert d.X_train.shape == (1437, 64) and d.X_test.shape == (360, 64)
    assert d.X_train.dtype == np.float64 and d.y_train.dtype == np.int64
    assert d.X_train.min() == 0.0 and d.X_train.max() == 1.0
    assert d.classes == 10 and set(np.unique(d.y_train)) == set(range(10))
    again = load_digits()
    assert np.array_equal(d.X_train, again.X_train) and np.array_equal(d.y_test, again.y_test)
    assert d.Y_train.shape == (1437, 10) and np.array_equal(d.Y_train.argmax(1), d.y_train)
    assert np.all(d.Y_train.sum(1) == 1)
    d.X_train[0, 0] = 42.0  # callers get copies: the cache is not shared
    assert load_digits().X_train[0, 0] != 42.0


def test_digits_are_scikit_learns():
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    d = load_digits()
    X = np.concatenate([d.X_train, d.X_test]) * 16.0
    y = np.concatenate([d.y_train, d.y_test])
    order = np.lexsort(X.T[::-1])
    sk_order = np.lexsort(bunch.data.T[::-1])
    assert np.array_equal(X[order], bunch.data[sk_order])
    assert np.array_equal(np.sort(y), np.sort(bunch.target))


def test_mnist_from_tiny_idx_files_matches_the_per_image_torchvision_pipeline(tmp_path):
    from torchvision.datasets import MNIST

    make_mnist(tmp_path)
    d = load_mnist(tmp_path)
    assert d.X_train.shape == (12, 784) and d.X_test.shape == (5, 784) and d.classes == 10
    per_image = MNIST(str(tmp_path), train=True, download=False, transform=data.mnist_transform())
    expected = np.stack([per_image[i][0].numpy() for i in range(len(per_image))]).astype(np.float64)
    assert np.array_equal(d.X_train, expected)
    assert np.array_equal(d.y_train, per_image.targets.numpy())
    # Normalize((0.1307,), (0.3081,)) of [0, 1] pixels
    assert d.X_train.min() >= -0.1307 / 0.3081 - 1e-6 and d.X_train.max() <= (1 - 0.1307) / 0.3081 + 1e-6
    small = load_dataset("mnist", tmp_path, train=4, test=2)
    assert small.X_train.shape == (4, 784) and small.X_test.shape == (2, 784)


def test_cifar10_from_tiny_python_batches(tmp_path):
    make_cifar(tmp_path)
    d = load_cifar10(tmp_path)
    assert d.X_train.shape == (20, 3072) and d.X_test.shape == (3, 3072) and len(d.y_train) == 20
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        first = pickle.load(f, encoding="bytes")
    pixels = first[b"data"][0].reshape(3, 1024) / 255.0
    mean, std = np.array(data.CIFAR_MEAN)[:, None], np.array(data.CIFAR_STD)[:, None]
    assert np.allclose(d.X_train[0], ((pixels - mean) / std).reshape(-1))
    assert d.y_train[:4].tolist() == first[b"labels"]
    assert load_dataset("cifar10", tmp_path, train=6).X_train.shape == (6, 3072)


def test_cifar_reader_refuses_pickles_that_run_code(tmp_path):
    make_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("echo pwned",))
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f)
    with pytest.raises(DataError, match="refusing to load"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize("name, expected_file", [("mnist", "train-images-idx3-ubyte"), ("cifar10", "data_batch_1")])
def test_a_folder_without_the_data_set_names_the_file_expected_and_where(tmp_path, name, expected_file):
    with pytest.raises(DataError) as error:
        load_dataset(name, tmp_path)
    message = str(error.value)
    assert expected_file in message and str(tmp_path) in message and "downloaded" in message


def test_missing_data_folder_and_missing_option_are_clear(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("mnist", tmp_path / "nowhere")
    monkeypatch.delenv("GRADER_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="--data-dir"):
        load_dataset("cifar10")
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset("imagenet", tmp_path)


def test_a_partial_mnist_folder_names_the_missing_file(tmp_path):
    make_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
