"""Data loading and shaping for training: loaders, transforms, splits and the tf.data pipeline.

`prepare_data` carries out a spec's `data:` section (given as plain data) with the other
functions here; `speck train` calls it, and `speck emit` copies these functions into generated
scripts, so each step exists once. All randomness comes from one `numpy.random.Generator`
made from the spec's seed: the same seed gives the same arrays. Keras, TensorFlow and
scikit-learn are imported only inside the functions that use them.

Inputs and targets are each one array, or (for a model with several inputs or outputs) a dict
from model input or output names to arrays with the same number of rows; the functions that
take rows, scale or standardize accept either, and a dict keeps its rows together.
"""

from __future__ import annotations

import csv
import os
from typing import Any, NamedTuple

import numpy as np

KERAS_DATASET_FILES = {
    "mnist": [
        ("mnist.npz", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz")
    ],
    "fashion_mnist": [
        (
            f"fashion-mnist/{name}",
            f"https://storage.googleapis.com/tensorflow/tf-keras-datasets/{name}",
        )
        for name in (
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        )
    ],
    "cifar10": [
        (
            "cifar-10-batches-py-target_archive",
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        )
    ],
    "cifar100": [
        (
            "cifar-100-python-target_archive",
            "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        )
    ],
    "imdb": [("imdb.npz", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz")],
    "reuters": [
        ("reuters.npz", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz")
    ],
    "boston_housing": [
        (
            "boston_housing.npz",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz",
        )
    ],
}
"""Where Keras 3 keeps each dataset (relative to `<KERAS_HOME>/datasets`) and where it gets it.
The CIFAR archives are stored under the odd names Keras 3's `get_file` gives them."""

SKLEARN_DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")


class Splits(NamedTuple):
    """Arrays ready for `fit`, `evaluate` and `predict`; None where a split is absent. Each is
    one array, or a dict of arrays by model input (x) or output (y) name."""

    x_train: Any
    y_train: Any = None
    x_val: Any = None
    y_val: Any = None
    x_test: Any = None
    y_test: Any = None


# --- loaders ---------------------------------------------------------------------------------


def keras_cache_dir() -> str:
    """The folder where Keras caches downloads: $KERAS_HOME, or ~/.keras."""
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def load_keras_dataset(name: str, **options: Any) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """`keras.datasets.<name>.load_data(**options)`, with a clear error when offline."""
    import keras

    if name not in KERAS_DATASET_FILES:
        raise ValueError(f"unknown Keras dataset {name!r}; known: {', '.join(KERAS_DATASET_FILES)}")
    loader = getattr(keras.datasets, name).load_data
    try:
        return loader(**options)
    except Exception as err:
        folder = os.path.join(keras_cache_dir(), "datasets")
        missing = [
            f"{url} saved as {os.path.join(folder, path)}"
            for path, url in KERAS_DATASET_FILES[name]
            if not os.path.exists(os.path.join(folder, path))
        ]
        if not missing:
            raise
        raise FileNotFoundError(
            f"keras/{name} is not in the Keras cache and could not be downloaded ({err}). "
            f"On a machine without network, put {'; '.join(missing)}. "
            "Set KERAS_HOME to use another cache folder."
        ) from err


def load_sklearn_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """One of scikit-learn's bundled datasets (no download) as `(x, y)`."""
    import sklearn.datasets

    if name not in SKLEARN_DATASETS:
        raise ValueError(f"unknown scikit-learn dataset {name!r}; known: {SKLEARN_DATASETS}")
    x, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
    return x, y


def sample_photo_patches(
    size: int = 32, count: int = 2000, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Random `size`x`size` RGB patches of scikit-learn's two sample photos (uint8), half from
    each, in random order; the label says which photo (0: china.jpg, 1: flower.jpg)."""
    from sklearn.datasets import load_sample_images

    rng = rng if rng is not None else np.random.default_rng()
    photos = load_sample_images().images
    counts = (count // 2, count - count // 2)
    patches, labels = [], []
    for label, (photo, n) in enumerate(zip(photos, counts, strict=True)):
        rows = rng.integers(0, photo.shape[0] - size + 1, size=n)
        cols = rng.integers(0, photo.shape[1] - size + 1, size=n)
        patches += [photo[r : r + size, c : c + size] for r, c in zip(rows, cols, strict=True)]
        labels += [label] * n
    order = rng.permutation(count)
    return np.stack(patches)[order], np.array(labels, dtype=np.int64)[order]


def load_npz(path: str, x_key: Any = "x", y_key: Any = "y") -> tuple[Any, Any]:
    """Inputs and targets of a `.npz` archive by key (`y_key=None`: no targets). A key may be
    a dict from model input (or output) names to keys; that side is then a dict of arrays.
    Arrays of Python objects are refused, never unpickled."""
    import zipfile

    if not os.path.isfile(path) or not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .npz archive (a zip of .npy files)")
    with np.load(path, allow_pickle=False) as archive:
        keys = [*named(x_key).values(), *named(y_key).values()]
        for key in keys:
            if key not in archive:
                raise KeyError(f"{path} has no array {key!r}; it has {sorted(archive.files)}")
        loaded = {}
        for key in keys:
            try:
                loaded[key] = archive[key]
            except ValueError as err:
                raise ValueError(f"{path} array {key!r} cannot be loaded safely: {err}") from None
    x = unnamed(x_key, {name: loaded[key] for name, key in named(x_key).items()})
    y = unnamed(y_key, {name: loaded[key] for name, key in named(y_key).items()})
    check_rows(path, x, y)
    return x, y


def load_npy(x_path: Any, y_path: Any = None) -> tuple[Any, Any]:
    """Inputs and (optionally) targets from `.npy` files; a path may be a dict from model
    input (or output) names to paths, and that side is then a dict of arrays. Arrays of Python
    objects are refused, never unpickled."""

    def load(path: str) -> np.ndarray:
        if not os.path.isfile(path):
            raise ValueError(f"{path} is not a .npy file")
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise ValueError(f"{path} is not a .npy file (no NumPy header)")
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{path} cannot be loaded safely: {err}") from None

    x = unnamed(x_path, {k: load(v) for k, v in named(x_path).items()})
    y = unnamed(y_path, {k: load(v) for k, v in named(y_path).items()})
    check_rows(", ".join(named(x_path).values()), x, y)
    return x, y


def named(keys: Any) -> dict[str, Any]:
    """A key or path as `{"": key}`, a dict of them as it is, None as `{}`."""
    if keys is None:
        return {}
    return dict(keys) if isinstance(keys, dict) else {"": keys}


def unnamed(keys: Any, arrays: dict[str, Any]) -> Any:
    """The arrays `named(keys)` gave, back in the form of `keys`: one array, a dict or None."""
    if keys is None:
        return None
    return arrays if isinstance(keys, dict) else arrays[""]


def check_rows(where: str, x: Any, y: Any) -> None:
    """Every array of the inputs and targets has the same number of rows."""
    counts: dict[str, int] = {}
    for side, arrays in (("x", x), ("y", y)):
        items = arrays.items() if isinstance(arrays, dict) else [("", arrays)]
        counts.update({f"{side} {name}".rstrip(): len(a) for name, a in items if a is not None})
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{name}: {n}" for name, n in counts.items())
        raise ValueError(f"{where}: the arrays differ in their number of rows ({shown})")


def load_csv(
    path: str,
    label: str | None = None,
    features: list[str] | None = None,
    delimiter: str = ",",
    class_names: list[str] | None = None,
) -> tuple[np.ndarray, Any, list[str] | None]:
    """Columns of a CSV file with a header row, by name: `(x, y, class_names)`.

    Features must be numbers. A label column of integers stays integers, of other numbers
    becomes float32, and of text becomes class ids in sorted order of `class_names` (inferred
    from the file unless given, so that a test file can reuse the training file's names).
    """
    if not os.path.isfile(path):
        raise ValueError(f"{path} is not a CSV file")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, None)
            rows = [row for row in reader if row]
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    except csv.Error as err:
        raise ValueError(f"{path} line {reader.line_num}: {err}") from None
    if not header:
        raise ValueError(f"{path} is empty; it needs a header row of column names")
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(name, i)
    features = features or [name for name in header if name != label]
    missing = [name for name in [*features, label] if name is not None and name not in index]
    if missing:
        raise KeyError(f"{path} has no column {missing[0]!r}; its columns are {header}")
    columns = [index[name] for name in features]
    short = next((i for i, row in enumerate(rows) if len(row) < len(header)), None)
    if short is not None:
        raise ValueError(
            f"{path}: row {short + 2} has {len(rows[short])} fields; the header has {len(header)}"
        )
    x = np.empty((len(rows), len(columns)), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            try:
                x[i, j] = float(row[column])
            except ValueError:
                raise ValueError(
                    f"{path}: row {i + 2}, column {features[j]!r} is not a number: {row[column]!r}"
                ) from None
    if label is None:
        return x, None, None
    values = [row[index[label]] for row in rows]
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        class_names = class_names or sorted(set(values))
        unknown = sorted(set(values) - set(class_names))
        if unknown:
            raise ValueError(f"{path}: labels {unknown} are not among {class_names}") from None
        ids = {name: i for i, name in reversed(list(enumerate(class_names)))}
        return x, np.array([ids[v] for v in values], dtype=np.int64), class_names
    if np.all(numbers == np.round(numbers)):
        return x, numbers.astype(np.int64), None
    return x, numbers.astype(np.float32), None


def load_image_folder(
    directory: str,
    image_size: tuple[int, int] = (256, 256),
    color_mode: str = "rgb",
    class_names: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every image under `directory/<class>/` resized, in memory: `(x, y, class_names)`."""
    import keras

    if not os.path.isdir(directory):
        raise ValueError(f"{directory} is not a folder of class subfolders of images")

    dataset = keras.utils.image_dataset_from_directory(
        directory,
        labels="inferred",
        label_mode="int",
        class_names=class_names,
        color_mode=color_mode,
        batch_size=None,
        image_size=tuple(image_size),
        shuffle=False,
        verbose=False,
    )
    images, labels = zip(*dataset.as_numpy_iterator(), strict=True)
    return np.stack(images), np.array(labels, dtype=np.int64), list(dataset.class_names)


# --- transforms ------------------------------------------------------------------------------


def row_count(arrays: Any) -> int:
    """The number of rows of an array, or of the arrays of a dict (they all have as many)."""
    if isinstance(arrays, dict):
        return len(next(iter(arrays.values())))
    return len(arrays)


def take_rows(arrays: Any, rows: Any) -> Any:
    """`arrays[rows]` for one array, the same rows of every array of a dict, None for None."""
    if arrays is None:
        return None
    if isinstance(arrays, dict):
        return {name: array[rows] for name, array in arrays.items()}
    return arrays[rows]


def widen(arrays: Any) -> Any:
    """Floats narrower than float32 (such as float16, which keeps files small) as float32, the
    precision Keras computes in; other arrays, a dict's too, as they are."""
    if isinstance(arrays, dict):
        return {name: widen(array) for name, array in arrays.items()}
    if isinstance(arrays, np.ndarray) and arrays.dtype.kind == "f" and arrays.itemsize < 4:
        return arrays.astype(np.float32)
    return arrays


def flatten_labels(y: Any) -> Any:
    """Class ids of shape (n, 1), as CIFAR gives them, as shape (n,); a dict's arrays alike."""
    if isinstance(y, dict):
        return {name: flatten_labels(array) for name, array in y.items()}
    if y is not None and y.ndim == 2 and y.shape[1] == 1:
        return y.reshape(-1)
    return y


def keep_labels(x: Any, y: Any, labels: list[int]) -> tuple[Any, Any]:
    """Only the rows whose label is one of `labels` (`x` may be a dict of arrays)."""
    rows = np.isin(y, labels)
    return take_rows(x, rows), y[rows]


def first_rows(x: Any, y: Any, n: int) -> tuple[Any, Any]:
    """The first `n` rows of `x` and of `y` (which may be None); arrays or dicts of them."""
    return take_rows(x, slice(None, n)), take_rows(y, slice(None, n))


def pad_sequences(sequences: Any, length: int | None = None) -> np.ndarray:
    """Word-index sequences padded (or cut) at the front to `length` (default: the longest)."""
    import keras

    return keras.utils.pad_sequences(list(sequences), maxlen=length)


def parse_ratio(value: float | str) -> float:
    """`0.5`, `"0.5"` or `"1/255"` as a float."""
    if isinstance(value, str) and "/" in value:
        numerator, denominator = value.split("/")
        return float(numerator) / float(denominator)
    return float(value)


def scale(x: Any, factor: float) -> Any:
    """`x * factor` as float32; every array of a dict alike."""
    if isinstance(x, dict):
        return {name: scale(array, factor) for name, array in x.items()}
    return x.astype(np.float32) * np.float32(factor)


def fit_standardizer(x: Any) -> tuple[Any, Any]:
    """Per-feature mean and standard deviation (1 where a feature is constant); for a dict of
    arrays, a dict of each."""
    if isinstance(x, dict):
        fitted = {name: fit_standardizer(array) for name, array in x.items()}
        return {k: v[0] for k, v in fitted.items()}, {k: v[1] for k, v in fitted.items()}
    mean = x.mean(axis=0, dtype=np.float64)
    std = x.std(axis=0, dtype=np.float64)
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def standardize(x: Any, mean: Any, std: Any) -> Any:
    """`(x - mean) / std` as float32; for a dict of arrays, each with its own statistics."""
    if isinstance(x, dict):
        return {name: standardize(array, mean[name], std[name]) for name, array in x.items()}
    return ((x - mean) / std).astype(np.float32)


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Class ids as rows of a float32 identity matrix."""
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be in 0..{num_classes - 1}; found {y.min()}..{y.max()}")
    return np.eye(num_classes, dtype=np.float32)[y]


def add_gaussian_noise(
    x: np.ndarray,
    stddev: float,
    mean: float = 0.0,
    clip: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """`x` plus Gaussian noise, clipped to `clip`, as float32; `x` itself is left clean.

    The tutorial this follows wrote `x_test_n = np.clip(x_test, 0., 1.)`, which threw away the
    noisy test images and validated on clean ones; here the noisy copy is what gets clipped.
    """
    rng = rng if rng is not None else np.random.default_rng()
    noisy = x + rng.normal(loc=mean, scale=stddev, size=x.shape)
    if clip is not None:
        noisy = np.clip(noisy, clip[0], clip[1])
    return noisy.astype(np.float32)


def split(
    x: Any, y: Any, fraction: float, rng: np.random.Generator | None = None
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Hold out a random `fraction` of the rows: `(x_rest, y_rest), (x_held, y_held)`; both
    keep the original row order, and every array of a dict gives up the same rows."""
    rng = rng if rng is not None else np.random.default_rng()
    n = row_count(x)
    n_held = min(max(1, round(n * fraction)), n - 1)
    order = rng.permutation(n)
    held, rest = np.sort(order[:n_held]), np.sort(order[n_held:])
    return (take_rows(x, rest), take_rows(y, rest)), (take_rows(x, held), take_rows(y, held))


# --- the whole section -----------------------------------------------------------------------


def load_source(
    source: str | dict[str, Any],
    options: dict[str, Any],
    labelled: bool = True,
    base_dir: str = ".",
    rng: np.random.Generator | None = None,
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """The source's `(x_train, y_train), (x_test, y_test)`; the test pair is `(None, None)`
    when the source has no test split. `labelled=False` skips a file source's targets. An npz
    or npy source whose `x` or `y` is a dict of keys (paths) gives a dict of arrays there."""
    if isinstance(source, str):
        kind, name = source.split("/", 1)
        if kind == "keras":
            return load_keras_dataset(name, **options)
        if name == "sample_patches":
            return sample_photo_patches(rng=rng, **options), (None, None)
        return load_sklearn_dataset(name), (None, None)

    def path(relative: Any) -> Any:
        if isinstance(relative, dict):
            return {name: path(value) for name, value in relative.items()}
        return os.path.join(base_dir, os.path.expanduser(relative))

    if "npz" in source:
        y_key, y_test_key = source.get("y", "y"), source.get("y_test")
        train = load_npz(path(source["npz"]), source.get("x", "x"), y_key if labelled else None)
        if source.get("x_test") is None:
            return train, (None, None)
        y_test_key = y_test_key if labelled else None
        return train, load_npz(path(source["npz"]), source["x_test"], y_test_key)
    if "npy" in source:
        files = {key: path(value) for key, value in source["npy"].items()}
        if not labelled:
            files.pop("y", None)
            files.pop("y_test", None)
        train = load_npy(files["x"], files.get("y"))
        if "x_test" not in files:
            return train, (None, None)
        return train, load_npy(files["x_test"], files.get("y_test"))
    if "csv" in source:
        label = source.get("label") if labelled else None
        columns = {"features": source.get("features"), "delimiter": source.get("delimiter", ",")}
        x, y, names = load_csv(path(source["csv"]), label, **columns)
        if source.get("test_csv") is None:
            return (x, y), (None, None)
        x_test, y_test, _ = load_csv(path(source["test_csv"]), label, class_names=names, **columns)
        return (x, y), (x_test, y_test)
    if "images" in source:
        size, mode = source.get("image_size", (256, 256)), source.get("color_mode", "rgb")
        x, y, names = load_image_folder(path(source["images"]), size, mode)
        if source.get("test_images") is None:
            return (x, y), (None, None)
        x_test, y_test, _ = load_image_folder(path(source["test_images"]), size, mode, names)
        return (x, y), (x_test, y_test)
    raise ValueError(f"unknown data source: {source!r}")


def prepare_data(data: dict[str, Any], seed: int | None = None, base_dir: str = ".") -> Splits:
    """Carry out a spec's `data:` section, in this order:

    1. load the source (its train split, and its test split if it has one); floats narrower
       than float32 become float32;
    2. `keep`: only rows with the given labels, in both splits;
    3. `limit`: only the first rows of each split;
    4. `sequence_length`: pad word-index sequences (ragged ones always, to the longest);
    5. `reshape` each example, 6. `scale` the inputs (to float32);
    7. `test`: the source's test split (the default when it has one), or rows held out of the
       training split, or none; 8. `validation`: the test split, or held-out training rows;
    9. `standardize` with the training split's mean and std;
    10. the task's targets: denoise adds noise to the inputs and keeps the clean ones as
        targets, reconstruct makes the inputs the targets;
    11. `one_hot` the labels.

    With named arrays (an npz or npy source whose `x` or `y` is a dict), the inputs or targets
    are dicts of arrays: every step that takes rows takes the same rows of each, `scale` and
    `standardize` apply to each input array, and the steps that read one array (`keep` by a
    dict of targets, `one_hot` of them, `reshape`, reconstruct and denoise of a dict of inputs)
    are refused when the spec is validated.
    """
    rng = np.random.default_rng(seed)
    task = data.get("task", "classify")  # or regress: the labels as given
    labelled = task in ("classify", "regress")
    (x, y), (x_test, y_test) = load_source(
        data["source"], data.get("options", {}), labelled, base_dir, rng
    )
    x, y, x_test, y_test = widen(x), widen(y), widen(x_test), widen(y_test)
    y, y_test = flatten_labels(y), flatten_labels(y_test)
    if "keep" in data:
        labels = data["keep"]["label"]
        labels = labels if isinstance(labels, list) else [labels]
        x, y = keep_labels(x, y, labels)
        if x_test is not None:
            x_test, y_test = keep_labels(x_test, y_test, labels)
    limit = data.get("limit", {})
    if "train" in limit:
        x, y = first_rows(x, y, limit["train"])
    if "test" in limit and x_test is not None:
        x_test, y_test = first_rows(x_test, y_test, limit["test"])
    if isinstance(x, np.ndarray) and x.dtype == object:
        x = pad_sequences(x, data.get("sequence_length"))
        if x_test is not None:
            x_test = pad_sequences(x_test, data.get("sequence_length") or x.shape[1])
    if "reshape" in data:
        x = x.reshape((len(x), *data["reshape"]))
        x_test = None if x_test is None else x_test.reshape((len(x_test), *data["reshape"]))
    if "scale" in data:
        factor = parse_ratio(data["scale"])
        x = scale(x, factor)
        x_test = None if x_test is None else scale(x_test, factor)

    test = data.get("test", "test" if x_test is not None else "none")
    if isinstance(test, dict):
        (x, y), (x_test, y_test) = split(x, y, test["split"], rng)
    validation = data.get("validation", "none")
    x_val = y_val = None
    if isinstance(validation, dict):
        (x, y), (x_val, y_val) = split(x, y, validation["split"], rng)
    elif validation == "test":
        x_val, y_val = x_test, y_test
    if test == "none":
        x_test = y_test = None

    if data.get("standardize"):
        mean, std = fit_standardizer(x)
        x = standardize(x, mean, std)
        x_val = None if x_val is None else standardize(x_val, mean, std)
        x_test = None if x_test is None else standardize(x_test, mean, std)

    if isinstance(task, dict):
        noise, clip = task["denoise"]["noise"]["normal"], task["denoise"].get("clip")
        stddev, mean = noise["stddev"], noise.get("mean", 0.0)
        y, y_val, y_test = x, x_val, x_test
        x = add_gaussian_noise(x, stddev, mean, clip, rng)
        if x_test is not None:
            x_test = add_gaussian_noise(x_test, stddev, mean, clip, rng)
        if validation == "test":
            x_val = (
                x_test if x_test is not None else add_gaussian_noise(y_val, stddev, mean, clip, rng)
            )
        elif x_val is not None:
            x_val = add_gaussian_noise(x_val, stddev, mean, clip, rng)
    elif task == "reconstruct":
        y, y_val, y_test = x, x_val, x_test

    one_hot_classes = data.get("one_hot", False)
    if one_hot_classes is not False and task == "classify":
        if one_hot_classes is True:
            known = [a for a in (y, y_val, y_test) if a is not None]
            one_hot_classes = int(max(a.max() for a in known)) + 1
        y = one_hot(y, one_hot_classes)
        y_val = None if y_val is None else one_hot(y_val, one_hot_classes)
        y_test = None if y_test is None else one_hot(y_test, one_hot_classes)
    return Splits(x, y, x_val, y_val, x_test, y_test)


def make_dataset(
    x: Any,
    y: Any = None,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
    shuffle_buffer: int | None = None,
    cache: bool = True,
) -> Any:
    """A `tf.data` pipeline over in-memory arrays: cache, shuffle every epoch, batch, prefetch.
    `x` and `y` may be dicts of arrays by model input and output name, which Keras matches to
    the model's inputs and outputs by name."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if cache:
        dataset = dataset.cache()
    if shuffle:
        buffer = shuffle_buffer or int(dataset.cardinality())
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
