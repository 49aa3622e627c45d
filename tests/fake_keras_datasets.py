"""Small stand-ins for Keras' dataset files, in their real formats, for offline tests.

`offline_keras_cache` points Keras' cache at a temporary folder and makes every download fail
as it does without network. The `write_*` helpers put a few random examples where Keras 3's
loaders look for them, in the formats of the real files (an `.npz` of arrays, gzipped IDX files,
a `.tar.gz` of pickled CIFAR batches), so that `keras.datasets.<name>.load_data()` itself runs.
Each helper returns the arrays it wrote.

Keras checks a cached file against the real file's hash and downloads it again when they
differ (`keras.utils.get_file`), which a small stand-in can never pass; `offline_keras_cache`
therefore accepts every hash. That is the only part of Keras' loading code the tests replace.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import tarfile
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest

Arrays = dict[str, np.ndarray]


def offline_keras_cache(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Keras at an empty cache under `root` (`$KERAS_HOME`) and cut it off from the
    network; return the cache's `datasets` folder. Undone when `monkeypatch` is."""
    from keras.src.backend import config
    from keras.src.utils import file_utils

    home = root / "keras-home"
    datasets = home / "datasets"
    datasets.mkdir(parents=True)

    def no_network(url: str, *args: Any, **kwargs: Any) -> None:
        raise urllib.error.URLError("network is unreachable (offline test)")

    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))  # Keras reads KERAS_HOME at import
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    monkeypatch.setattr(file_utils, "validate_file", lambda *args, **kwargs: True)
    return datasets


def _images(rng: np.random.Generator, n: int, *shape: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def write_mnist(datasets: Path, n_train: int = 12, n_test: int = 6, seed: int = 0) -> Arrays:
    """`mnist.npz`: uint8 images (n, 28, 28) and uint8 labels 0..9."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": _images(rng, n_train, 28, 28),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": _images(rng, n_test, 28, 28),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    np.savez(datasets / "mnist.npz", **arrays)
    return arrays


def _idx(data: np.ndarray) -> bytes:
    """The IDX format of the MNIST files: magic number, sizes, then the bytes."""
    header = struct.pack(">HBB", 0, 0x08, data.ndim) + struct.pack(f">{data.ndim}I", *data.shape)
    return header + data.tobytes()


def write_fashion_mnist(datasets: Path, n_train: int = 8, n_test: int = 4, seed: int = 0) -> Arrays:
    """`fashion-mnist/*-idx?-ubyte.gz`: gzipped IDX files of images and labels."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": _images(rng, n_train, 28, 28),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": _images(rng, n_test, 28, 28),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder = datasets / "fashion-mnist"
    folder.mkdir(exist_ok=True)
    files = {
        "train-labels-idx1-ubyte.gz": arrays["y_train"],
        "train-images-idx3-ubyte.gz": arrays["x_train"],
        "t10k-labels-idx1-ubyte.gz": arrays["y_test"],
        "t10k-images-idx3-ubyte.gz": arrays["x_test"],
    }
    for name, data in files.items():
        (folder / name).write_bytes(gzip.compress(_idx(data)))
    return arrays


def _cifar_archive(path: Path, members: dict[str, dict[bytes, Any]]) -> None:
    """A `.tar.gz` of pickled dicts with bytes keys, as the original CIFAR batches have."""
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            data = pickle.dumps(content, protocol=3)  # bytes natively, arrays via _reconstruct
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def write_cifar10(
    datasets: Path,
    train_labels: tuple[int, ...] = (6, 1, 9, 1, 3),
    test_labels: tuple[int, ...] = (1, 0, 1, 2, 1, 1),
    seed: int = 0,
) -> Arrays:
    """`cifar-10-batches-py-target_archive`: the five training batches and the test batch.

    Keras fills 10,000 rows per training batch; each fake batch holds one image, which numpy
    broadcasts into all of them, so `x_train` comes back with 50,000 rows (10,000 copies of
    each of five images) while the archive stays tiny. Returned arrays are channels-first rows
    as stored (`train_data`: (5, 3, 32, 32)), with their labels.
    """
    rng = np.random.default_rng(seed)
    train = _images(rng, len(train_labels), 3, 32, 32)
    test = _images(rng, len(test_labels), 3, 32, 32)
    members = {
        f"cifar-10-batches-py/data_batch_{i + 1}": {
            b"batch_label": f"training batch {i + 1} of 5".encode(),
            b"labels": [train_labels[i]],
            b"data": train[i : i + 1].reshape(1, 3072),
        }
        for i in range(5)
    }
    members["cifar-10-batches-py/test_batch"] = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": list(test_labels),
        b"data": test.reshape(len(test), 3072),
    }
    _cifar_archive(datasets / "cifar-10-batches-py-target_archive", members)
    return {
        "train_data": train,
        "train_labels": np.array(train_labels),
        "test_data": test,
        "test_labels": np.array(test_labels),
    }


def write_cifar100(datasets: Path, n_train: int = 10, n_test: int = 4, seed: int = 0) -> Arrays:
    """`cifar-100-python-target_archive`: `train` and `test` with fine and coarse labels."""
    rng = np.random.default_rng(seed)
    arrays: Arrays = {}
    members = {}
    for split, n in (("train", n_train), ("test", n_test)):
        data = _images(rng, n, 3, 32, 32)
        fine, coarse = rng.integers(0, 100, n), rng.integers(0, 20, n)
        arrays |= {f"{split}_data": data, f"{split}_fine": fine, f"{split}_coarse": coarse}
        members[f"cifar-100-python/{split}"] = {
            b"data": data.reshape(n, 3072),
            b"fine_labels": fine.tolist(),
            b"coarse_labels": coarse.tolist(),
        }
    _cifar_archive(datasets / "cifar-100-python-target_archive", members)
    return arrays


def _sequences(rng: np.random.Generator, n: int, vocabulary: int) -> np.ndarray:
    """Ragged word-index lists as an object array, as the IMDB and Reuters files hold them."""
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = rng.integers(1, vocabulary, size=int(rng.integers(3, 12))).tolist()
    return out


def write_imdb(datasets: Path, n_train: int = 10, n_test: int = 6, seed: int = 0) -> Arrays:
    """`imdb.npz` (ragged reviews, 0/1 labels) and `imdb_word_index.json`."""
    rng = np.random.default_rng(seed)
    vocabulary = 40
    arrays = {
        "x_train": _sequences(rng, n_train, vocabulary),
        "y_train": rng.integers(0, 2, n_train),
        "x_test": _sequences(rng, n_test, vocabulary),
        "y_test": rng.integers(0, 2, n_test),
    }
    np.savez(datasets / "imdb.npz", **arrays)
    words = {f"word{i}": i for i in range(1, vocabulary)}
    (datasets / "imdb_word_index.json").write_text(json.dumps(words))
    return arrays


def write_reuters(datasets: Path, n: int = 15, seed: int = 0) -> Arrays:
    """`reuters.npz`: ragged newswires `x` and topic labels `y` (0..45); Keras splits them."""
    rng = np.random.default_rng(seed)
    arrays = {"x": _sequences(rng, n, 30), "y": rng.integers(0, 46, n)}
    np.savez(datasets / "reuters.npz", **arrays)
    return arrays


def write_boston_housing(datasets: Path, n: int = 20, seed: int = 0) -> Arrays:
    """`boston_housing.npz`: 13 float features `x` and prices `y`; Keras splits them."""
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.normal(size=(n, 13)), "y": rng.uniform(5, 50, n)}
    np.savez(datasets / "boston_housing.npz", **arrays)
    return arrays
