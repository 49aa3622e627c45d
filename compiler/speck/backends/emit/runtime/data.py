"""Data loading and shaping for training: loaders, transforms, splits and the tf.data pipeline.

A program's `load_data()`, which `speck emit` writes as straight-line code for the spec's own
source and steps, calls these functions; the emitter copies only those it calls into the
program, which `speck train` runs too. All randomness comes from one `numpy.random.Generator`
made from the spec's seed: the same seed gives the same arrays. Keras, TensorFlow and
scikit-learn are imported only inside the functions that use them.

Inputs and targets are each one array, or (for a model with several inputs or outputs) a dict
from model input or output names to arrays with the same number of rows; the functions that
take rows, scale or standardize accept either, and a dict keeps its rows together.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .files import write_atomically

# --- loaders ---------------------------------------------------------------------------------


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
    """Every array of the inputs and targets has the same number of rows, and none holds NaN."""
    counts: dict[str, int] = {}
    for side, arrays in (("x", x), ("y", y)):
        items = arrays.items() if isinstance(arrays, dict) else [("", arrays)]
        counts.update({f"{side} {name}".rstrip(): len(a) for name, a in items if a is not None})
        for name, a in items:
            if a is not None and a.dtype.kind == "f" and np.isnan(a).any():
                shown = f"{side} {name}".rstrip()
                raise ValueError(f"{where}: {shown} has {np.isnan(a).sum()} NaN values")
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
    if np.isnan(x).any():
        j = int(np.isnan(x).any(axis=0).argmax())
        raise ValueError(f"{path}: column {features[j]!r} has {np.isnan(x[:, j]).sum()} NaN cells")
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


def read_csv(path: str, delimiter: str = ",") -> dict[str, np.ndarray]:
    """A CSV file with a header row as a table: each column's cells, as text, by name."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        rows = list(reader)
    return {n: np.array([(r[n] or "").strip() for r in rows], str) for n in reader.fieldnames or []}


def column(table: Any, name: str, dtype: Any = str, missing: bool = False) -> np.ndarray:
    """A table's column as text (`str`) or numbers (`np.float32`, `np.int32`). An empty cell is
    an error, unless `missing` allows it: it stays "" (text) or NaN (numbers)."""
    cells = table[name]  # text cells (a CSV file's) or numbers (an npz archive's)
    empty = np.isin(cells, ["", "nan", "NaN"]) if cells.dtype.kind == "U" else np.isnan(cells)
    if empty.any() and not missing:
        raise ValueError(
            f"column {name!r} has {empty.sum()} empty cells; say what to do in the spec's "
            f"source: missing: {{{name}: median, most_frequent or drop}}"
        )
    if dtype is str:
        return np.where(empty, "", cells.astype(str))
    try:  # text cells are read as numbers here
        numbers = np.where(empty, "nan", cells) if cells.dtype.kind == "U" else cells
        return numbers.astype(np.float32).astype(dtype)
    except ValueError as err:
        raise ValueError(f"column {name!r} holds text, not numbers ({err})") from None


def drop_empty(table: Any, names: list[str]) -> dict[str, np.ndarray]:
    """The table without the rows that have an empty cell in a column of `names`."""
    keep = np.all([column(table, name, missing=True) != "" for name in names], axis=0)
    return {name: cells[keep] for name, cells in table.items()}


def label_column(cells: np.ndarray, class_names: list[str] | None = None) -> tuple[Any, Any]:
    """A label column as `(y, class_names)`: text as class ids, the labels' places in
    `class_names` (default: the labels, sorted); numbers as they are (without names)."""
    try:
        numbers = cells.astype(np.float64)
    except ValueError:  # text
        class_names = class_names or np.unique(cells).tolist()
        return np.array([class_names.index(label) for label in cells.tolist()]), class_names
    return numbers.astype(np.int64 if np.all(numbers % 1 == 0) else np.float32), None


def most_frequent(cells: np.ndarray) -> Any:
    """The most frequent value of a column that is not empty (NaN or "")."""
    present = cells[cells != ""] if cells.dtype.kind == "U" else cells[~np.isnan(cells)]
    values, counts = np.unique(present, return_counts=True)
    return values[counts.argmax()].item()


def embedded_columns(features: Any, sizes: dict[str, int]) -> Any:
    """One row from a `FeatureSpace` of dict output: each column's encoding in its (sorted)
    order, where a column of `sizes` (name -> size) gives the index a learned `Embedding` reads."""
    from keras import layers

    encoded = features.get_encoded_features()
    for name, size in sizes.items():
        index = features.preprocessors[name]  # a lookup (its vocabulary) or a hashing (bins)
        count = index.vocabulary_size() if hasattr(index, "vocabulary_size") else index.num_bins
        embedded = layers.Embedding(count, size, name=f"{name}_embedding")(encoded[name])
        encoded[name] = layers.Flatten(name=f"{name}_embedded")(embedded)
    return layers.Concatenate(name="encoded_columns")(list(encoded.values()))


# --- transforms ------------------------------------------------------------------------------


def take_rows(arrays: Any, rows: Any) -> Any:
    """`arrays[rows]` for one array, the same rows of every array of a dict, None for None."""
    if isinstance(arrays, dict):
        return {name: array[rows] for name, array in arrays.items()}
    return None if arrays is None else arrays[rows]


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


def save_statistics(path: Path, mean: Any, std: Any) -> None:
    """The training split's mean and standard deviation (a dict of each for named inputs) as
    JSON: what `speck predict` standardizes new inputs with."""

    def listed(v: Any) -> Any:
        return {k: a.tolist() for k, a in v.items()} if isinstance(v, dict) else v.tolist()

    text = json.dumps({"standardize": {"mean": listed(mean), "std": listed(std)}}) + "\n"
    write_atomically(path, lambda tmp: Path(tmp).write_text(text))


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


def add_gaussian_noise(x: Any, stddev: float, rng: Any, mean: float = 0.0, clip: Any = None) -> Any:
    """A noisy float32 copy of `x`, clipped to `clip` (unlike the tutorial's noisy test images)."""
    noisy = x + rng.normal(loc=mean, scale=stddev, size=x.shape)
    if clip is not None:
        noisy = np.clip(noisy, clip[0], clip[1])
    return noisy.astype(np.float32)


def split(x: Any, y: Any, fraction: float, rng: Any) -> tuple[tuple[Any, Any], ...]:
    """Hold out a random `fraction` of the rows: `(x_rest, y_rest), (x_held, y_held)`."""
    n = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    held = np.zeros(n, dtype=bool)
    held[rng.permutation(n)[: min(max(1, round(n * fraction)), n - 1)]] = True
    return (take_rows(x, ~held), take_rows(y, ~held)), (take_rows(x, held), take_rows(y, held))


def split_columns(x: Any, y: Any, fraction: float, rng: Any) -> tuple[tuple[Any, Any], ...]:
    """Hold out a random `fraction` of the rows of a table's columns `x` and its labels `y`."""
    held = np.zeros(len(y), dtype=bool)
    held[rng.permutation(len(y))[: min(max(1, round(len(y) * fraction)), len(y) - 1)]] = True
    x_rest, x_held = ({name: a[rows] for name, a in x.items()} for rows in (~held, held))
    return (x_rest, y[~held]), (x_held, y[held])


# --- the input pipeline ---------------------------------------------------------------------


# `split` for one array of inputs and one of targets: the same draws, the same rows.
def split_arrays(x: Any, y: Any, fraction: float, rng: Any) -> tuple[tuple[Any, Any], ...]:
    """Hold out a random `fraction` of the rows: `(x_rest, y_rest), (x_held, y_held)`."""
    n_held = min(max(1, round(len(x) * fraction)), len(x) - 1)
    order = rng.permutation(len(x))
    held, rest = np.sort(order[:n_held]), np.sort(order[n_held:])
    return (x[rest], y[rest]), (x[held], y[held])


def make_dataset(x: Any, y: Any = None, batch_size: int = 32, **options: Any) -> Any:
    """A `tf.data` pipeline over arrays (or dicts of them): cached, shuffled if asked, batched."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    dataset = dataset.cache() if options.get("cache", True) else dataset
    if options.get("shuffle"):
        buffer = options.get("shuffle_buffer") or int(dataset.cardinality())
        dataset = dataset.shuffle(buffer, seed=options.get("seed"), reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
