"""The `data:` section: its models (speck.front.format.data) and the functions that carry it out
(speck.backends.emit.runtime.data), including Keras' real dataset loaders run offline on small
stand-ins."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from fake_keras_datasets import (
    offline_keras_cache,
    write_boston_housing,
    write_cifar10,
    write_cifar100,
    write_fashion_mnist,
    write_imdb,
    write_mnist,
    write_reuters,
)
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from speck.backends.emit.runtime import data as rt
from speck.front.format.data import DataSpec, known_source_shapes, parse_ratio
from speck.ir.lower import scale_factor

TUTORIAL = {
    "source": "keras/cifar10",
    "keep": {"label": 1},
    "scale": "1/255",
    "task": {"denoise": {"noise": {"normal": {"stddev": 0.2}}, "clip": [0, 1]}},
    "validation": "test",
}


@pytest.fixture
def offline_keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Keras cache without network; its `datasets` folder."""
    return offline_keras_cache(tmp_path, monkeypatch)


def plain(section: dict[str, Any]) -> dict[str, Any]:
    """A section validated, then dumped as plain data."""
    return DataSpec.model_validate(section).model_dump(mode="json", exclude_none=True)


class Splits(NamedTuple):
    x_train: Any
    y_train: Any = None
    x_val: Any = None
    y_val: Any = None
    x_test: Any = None
    y_test: Any = None
    extras: Any = None
    """What `load_data()` returns after the splits, by name (`features`, `class_names`)."""


def prepare_data(section: dict[str, Any], seed: int | None = None, base_dir: str = ".") -> Splits:
    """A data section through the `load_data()` that emitted programs (and `speck train`)
    run: lowered to data steps, written out, executed. `x_val` is `x_test` when the section
    validates on the test split."""
    from speck.backends.emit.program import data_program
    from speck.ir.lower import lower_data

    data = DataSpec.model_validate(section)
    plan = lower_data(data, data_dir=base_dir, output_names=("out",), loss=None, input_shape=None)
    namespace: dict[str, Any] = {}
    exec(compile(data_program(plan, seed), "<load_data>", "exec"), namespace)
    loaded = namespace["load_data"]()
    if plan.extras:
        extras = dict(zip(plan.extras, loaded[len(plan.splits) :], strict=True))
        loaded = loaded[: len(plan.splits)]
    else:
        extras, loaded = {}, [loaded] if len(plan.splits) == 1 else loaded
    splits = dict(zip(plan.splits, loaded, strict=True))
    if plan.validate_on == "test":
        splits["validation"] = splits["test"]
    empty = (None, None)
    return Splits(
        *splits["train"], *splits.get("validation", empty), *splits.get("test", empty), extras
    )


def error_of(section: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        DataSpec.model_validate(section)
    return str(info.value)


# --- the spec models -------------------------------------------------------------------------


def test_tutorial_section_is_valid_and_its_facts_are_known() -> None:
    data = DataSpec.model_validate(TUTORIAL)
    assert data.task_kind == "denoise"
    assert data.scale_factor == pytest.approx(1 / 255)
    assert known_source_shapes(data) == ((32, 32, 3), None, "inputs")
    dumped = plain(TUTORIAL)
    assert dumped["scale"] == "1/255"
    assert DataSpec.model_validate(dumped) == data


@pytest.mark.parametrize(
    ("section", "facts"),
    [
        ({"source": "keras/mnist"}, ((28, 28), 10, "sparse")),
        ({"source": "keras/mnist", "reshape": [784], "one_hot": 10}, ((784,), 10, "one_hot")),
        ({"source": "keras/mnist", "reshape": [-1, 1]}, ((784, 1), 10, "sparse")),
        (
            {"source": "keras/cifar100", "options": {"label_mode": "coarse"}},
            ((32, 32, 3), 20, "sparse"),
        ),
        ({"source": "sklearn/digits", "reshape": [8, 8, 1]}, ((8, 8, 1), 10, "sparse")),
        ({"source": "keras/boston_housing"}, ((13,), None, "values")),
        ({"source": "keras/imdb", "sequence_length": 200}, ((200,), 2, "sparse")),
        ({"source": "keras/imdb"}, (None, 2, "sparse")),
        (
            {"source": "sklearn/sample_patches", "options": {"size": 16}, "task": "reconstruct"},
            ((16, 16, 3), None, "inputs"),
        ),
        ({"source": {"npz": "a.npz"}, "one_hot": True}, (None, None, "one_hot")),
        (
            {"source": {"csv": "a.csv", "features": ["a", "b"], "label": "c"}},
            ((2,), None, "sparse"),
        ),
        (
            {"source": {"images": "pics", "image_size": [64, 48], "color_mode": "grayscale"}},
            ((64, 48, 1), None, "sparse"),
        ),
    ],
)
def test_known_source_shapes(section: dict[str, Any], facts: tuple[Any, ...]) -> None:
    assert known_source_shapes(DataSpec.model_validate(section)) == facts


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"source": "keras/mnist", "reshap": [784]}, "reshap"),
        ({"source": "keras/cifar1"}, "'keras/cifar10'"),
        ({"source": "keras/imdb", "options": {"num_word": 5}}, "did you mean 'num_words'"),
        ({"source": "keras/mnist", "options": {"num_words": 5}}, "keras/mnist takes no options"),
        ({"source": "keras/cifar100", "options": {"label_mode": "fin"}}, "'fine' or 'coarse'"),
        ({"source": {"npz": "a.npz"}, "options": {"x": 1}}, "options are for named sources"),
        ({"source": {"npzz": "a.npz"}}, "npz, npy, csv, images"),
        ({"source": {"npz": "a.npz", "xkey": "x"}}, "xkey"),
        ({"source": "sklearn/digits", "validation": "test"}, "has no test split"),
        ({"source": "keras/mnist", "validation": "tst"}, "'test' or 'none'"),
        ({"source": "keras/mnist", "validation": {"split": 1.5}}, "less than 1"),
        ({"source": "keras/mnist", "validation": {"split": 0.6}, "test": {"split": 0.5}}, ">= 1"),
        ({"source": "keras/mnist", "task": "reconstruct", "one_hot": 10}, "task is reconstruct"),
        ({"source": "keras/mnist", "one_hot": 5}, "fewer than the 10 classes"),
        ({"source": "keras/mnist", "one_hot": 1}, "one_hot=1"),
        ({"source": "keras/mnist", "keep": {"label": 10}}, "labels are 0..9"),
        ({"source": "keras/mnist", "keep": {"label": []}}, "at least one label"),
        ({"source": "keras/boston_housing", "keep": {"label": 1}}, "real-valued"),
        ({"source": "keras/mnist", "reshape": [785]}, "cannot reshape"),
        ({"source": "keras/mnist", "reshape": [-1, -1]}, "at most one -1"),
        ({"source": "keras/mnist", "sequence_length": 10}, "sequence_length"),
        ({"source": "keras/mnist", "scale": "1/0"}, "division by zero"),
        ({"source": "keras/mnist", "scale": "one/255"}, "fraction like '1/255'"),
        (
            {"source": "keras/mnist", "task": {"denoise": {"noise": {"normal": {"stdev": 1}}}}},
            "stdev",
        ),
        (
            {
                "source": "keras/mnist",
                "task": {"denoise": {"noise": {"normal": {"stddev": 0.1}}, "clip": [1, 0]}},
            },
            "low < high",
        ),
        ({"source": "keras/mnist", "task": "clasify"}, "'classify', 'regress' or 'reconstruct'"),
    ],
)
def test_invalid_sections_name_the_problem(section: dict[str, Any], message: str) -> None:
    assert message in error_of(section)


def test_regression_sources_default_to_regress() -> None:
    assert DataSpec.model_validate({"source": "sklearn/diabetes"}).task_kind == "regress"
    assert DataSpec.model_validate({"source": "sklearn/iris"}).task_kind == "classify"


@pytest.mark.parametrize(
    ("text", "value"), [("1/255", 1 / 255), ("0.5", 0.5), (2, 2.0), ("3 / 4", 0.75)]
)
def test_scale_accepts_numbers_and_fractions(text: str | float, value: float) -> None:
    assert parse_ratio(text) == pytest.approx(value)
    assert scale_factor(text)[0] == pytest.approx(value)  # as emitted programs scale


def test_json_schema_documents_fields() -> None:
    schema = DataSpec.model_json_schema()
    assert "keras/cifar10" in str(schema["properties"]["source"])
    assert schema["additionalProperties"] is False
    assert "1/255" in schema["properties"]["scale"]["description"]


# --- the runtime module's shape ---------------------------------------------------------------


def test_runtime_module_is_copyable_source() -> None:
    """Only imports, constants and functions at top level; no speck imports."""
    tree = ast.parse(Path(rt.__file__).read_text())
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
            assert not any(name.startswith("speck") for name in names)
        else:
            assert isinstance(node, ast.FunctionDef | ast.Assign | ast.Expr), ast.dump(node)


def test_importing_data_modules_imports_no_tensorflow() -> None:
    code = (
        "import sys, speck.front.format.data, speck.backends.emit.runtime.data; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- transforms ------------------------------------------------------------------------------


def test_keep_labels_keeps_matching_rows_in_order() -> None:
    x = np.arange(6) * 10
    y = np.array([1, 0, 1, 2, 1, 0])
    kept_x, kept_y = rt.keep_labels(x, y, [1])
    assert kept_x.tolist() == [0, 20, 40] and kept_y.tolist() == [1, 1, 1]
    assert rt.keep_labels(x, y, [0, 2])[0].tolist() == [10, 30, 50]


def test_flatten_labels_only_touches_column_vectors() -> None:
    assert rt.flatten_labels(np.zeros((4, 1))).shape == (4,)
    assert rt.flatten_labels(np.zeros((4, 3))).shape == (4, 3)


def test_scale_casts_to_float32() -> None:
    out = rt.scale(np.array([0, 255], dtype=np.uint8), 1 / 255)
    assert out.dtype == np.float32 and out.tolist() == [0.0, 1.0]


def test_one_hot_rows_and_range_check() -> None:
    assert rt.one_hot(np.array([[2], [0]]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(ValueError, match=r"0\.\.2"):
        rt.one_hot(np.array([3]), 3)


def test_standardize_uses_given_statistics() -> None:
    train = np.array([[1.0, 5.0], [3.0, 5.0]])
    mean, std = rt.fit_standardizer(train)
    assert mean.tolist() == [2.0, 5.0] and std.tolist() == [1.0, 1.0]  # constant feature: std 1
    assert rt.standardize(np.array([[4.0, 6.0]]), mean, std).tolist() == [[2.0, 1.0]]


def test_gaussian_noise_is_clipped_and_leaves_input_clean() -> None:
    clean = np.full((200, 4), 0.5, dtype=np.float32)
    noisy = rt.add_gaussian_noise(clean, 0.4, clip=(0.0, 1.0), rng=np.random.default_rng(0))
    assert np.all(clean == 0.5)
    assert noisy.dtype == np.float32 and noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert (noisy == 0.0).any() and (noisy == 1.0).any()  # the clip was reached, on both sides
    assert 0.2 < np.std(noisy - clean) < 0.4


@given(n=st.integers(2, 200), fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**32 - 1))
def test_split_partitions_rows(n: int, fraction: float, seed: int) -> None:
    x = np.arange(n)
    (x_rest, y_rest), (x_held, y_held) = rt.split(x, -x, fraction, np.random.default_rng(seed))
    assert sorted([*x_rest, *x_held]) == list(range(n))
    assert len(x_held) >= 1 and len(x_rest) >= 1
    assert list(x_rest) == sorted(x_rest) and list(x_held) == sorted(x_held)
    assert (y_held == -x_held).all() and (y_rest == -x_rest).all()


def test_split_is_seeded() -> None:
    x = np.arange(100)
    first = rt.split(x, None, 0.3, np.random.default_rng(5))[1][0]
    again = rt.split(x, None, 0.3, np.random.default_rng(5))[1][0]
    other = rt.split(x, None, 0.3, np.random.default_rng(6))[1][0]
    assert len(first) == 30 and first.tolist() == again.tolist() != other.tolist()


# --- prepare_data on files -------------------------------------------------------------------


@pytest.fixture
def npz_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    path = tmp_path / "arrays.npz"
    np.savez(
        path,
        x=rng.integers(0, 256, (40, 4, 4)).astype(np.uint8),
        y=np.arange(40) % 4,
        xt=rng.integers(0, 256, (10, 4, 4)).astype(np.uint8),
        yt=np.arange(10) % 4,
    )
    return path


def test_prepare_npz_in_documented_order(npz_file: Path) -> None:
    section = {
        "source": {"npz": npz_file.name, "x_test": "xt", "y_test": "yt"},
        "keep": {"label": [1, 2]},
        "limit": {"train": 16},
        "reshape": [16],
        "scale": "1/255",
        "validation": {"split": 0.25},
        "one_hot": True,
    }
    splits = prepare_data(plain(section), seed=3, base_dir=str(npz_file.parent))
    assert splits.x_train.shape == (12, 16) and splits.x_val.shape == (4, 16)
    assert splits.x_test.shape == (5, 16)  # the file's own test rows: labels 1 and 2
    assert splits.x_train.dtype == np.float32 and splits.x_train.max() <= 1.0
    assert splits.y_train.shape == (12, 3)  # one_hot: true infers 3 classes from labels 1, 2
    assert splits.y_train[:, 0].sum() == 0


def test_prepare_is_deterministic_under_a_seed(npz_file: Path) -> None:
    section = plain(
        {
            "source": {"npz": str(npz_file)},
            "scale": 0.01,
            "test": {"split": 0.2},
            "validation": {"split": 0.2},
            "task": {"denoise": {"noise": {"normal": {"stddev": 0.3}}}},
        }
    )
    first, again, other = (prepare_data(section, seed) for seed in (7, 7, 8))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.x_train, other.x_train)


def test_denoise_targets_are_clean_inputs(npz_file: Path) -> None:
    section = plain(
        {
            "source": {"npz": str(npz_file), "x_test": "xt"},
            "scale": "1/255",
            "task": {"denoise": {"noise": {"normal": {"stddev": 0.2}}, "clip": [0, 1]}},
            "validation": "test",
        }
    )
    s = prepare_data(section, seed=0)
    with np.load(npz_file) as f:
        clean_train, clean_test = f["x"] / 255, f["xt"] / 255
    np.testing.assert_allclose(s.y_train, clean_train, rtol=1e-6)
    np.testing.assert_allclose(s.y_test, clean_test, rtol=1e-6)
    for noisy, clean in ((s.x_train, s.y_train), (s.x_test, s.y_test)):
        assert noisy.min() >= 0 and noisy.max() <= 1
        assert not np.allclose(noisy, clean)  # the tutorial's slip gave clean test inputs
    assert s.x_val is s.x_test and s.y_val is s.y_test


def test_reconstruct_and_validation_test_without_test(npz_file: Path) -> None:
    section = plain(
        {
            "source": {"npz": str(npz_file), "x_test": "xt"},
            "task": "reconstruct",
            "validation": "test",
            "test": "none",
        }
    )
    s = prepare_data(section, seed=0)
    assert s.y_train is s.x_train and s.x_val.shape == (10, 4, 4) and s.x_test is None


def test_prepare_npy_and_standardize(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(5, 3, (50, 3)))
    np.save(tmp_path / "y.npy", rng.normal(size=50))
    section = plain(
        {
            "source": {"npy": {"x": "x.npy", "y": "y.npy"}},
            "standardize": True,
            "test": {"split": 0.2},
            "task": "regress",
        }
    )
    s = prepare_data(section, seed=0, base_dir=str(tmp_path))
    np.testing.assert_allclose(s.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(s.x_train.std(axis=0), 1, atol=1e-4)
    assert s.x_test.shape == (10, 3) and s.y_test.shape == (10,)


def test_csv_columns_by_name_and_text_labels(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(
        "a,b,species,c\n1,2,setosa,3\n4,5,virginica,6\n7,8,setosa,9\n"
    )
    (tmp_path / "test.csv").write_text("a,b,species,c\n1,1,virginica,1\n")
    section = plain(
        {
            "source": {
                "csv": "train.csv",
                "test_csv": "test.csv",
                "label": "species",
                "features": ["c", "a"],
            },
            "one_hot": True,
        }
    )
    s = prepare_data(section, base_dir=str(tmp_path))
    assert s.x_train.tolist() == [[3, 1], [6, 4], [9, 7]]
    assert s.y_train.tolist() == [[1, 0], [0, 1], [1, 0]] and s.y_test.tolist() == [[0, 1]]


def test_csv_errors_name_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\nx,3\n")
    with pytest.raises(KeyError, match="'z'"):
        rt.load_csv(str(path), label="z")
    with pytest.raises(ValueError, match="row 3, column 'a'"):
        rt.load_csv(str(path), label="b")
    x, y, names = rt.load_csv(str(path), features=["b"])
    assert x.tolist() == [[2], [3]] and y is None and names is None


def test_npz_missing_key_lists_keys(npz_file: Path) -> None:
    with pytest.raises(KeyError, match="'xt'"):
        rt.load_npz(str(npz_file), "images")


# --- scikit-learn sources (bundled, offline) ------------------------------------------------


def test_sklearn_digits_offline() -> None:
    section = plain(
        {"source": "sklearn/digits", "reshape": [8, 8, 1], "scale": "1/16", "test": {"split": 0.2}}
    )
    s = prepare_data(section, seed=0)
    assert s.x_train.shape[1:] == (8, 8, 1) and len(s.x_train) + len(s.x_test) == 1797
    assert s.x_train.max() == 1.0 and set(np.unique(s.y_train)) == set(range(10))


def test_sample_patches_are_seeded_patches_of_both_photos() -> None:
    patches = plain({"source": "sklearn/sample_patches", "options": {"size": 16, "count": 41}})
    x, y = prepare_data(patches, seed=0)[:2]
    again, _ = prepare_data(patches, seed=0)[:2]
    assert x.shape == (41, 16, 16, 3) and x.dtype == np.uint8
    assert np.array_equal(x, again) and np.bincount(y).tolist() == [20, 21]
    section = plain(
        {
            "source": "sklearn/sample_patches",
            "options": {"size": 8, "count": 10},
            "task": "reconstruct",
            "scale": "1/255",
            "validation": {"split": 0.2},
        }
    )
    s = prepare_data(section, seed=1)
    assert s.x_train.shape == (8, 8, 8, 3) and s.y_val is s.x_val


# --- TensorFlow and Keras (imported once, lazily) ---------------------------------------------


@pytest.mark.tf
def test_make_dataset_batches() -> None:
    x = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    y = np.arange(10)
    batches = list(rt.make_dataset(x, y, batch_size=4, shuffle=True, seed=0))
    assert [tuple(b[0].shape) for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert sorted(np.concatenate([b[1].numpy() for b in batches])) == list(range(10))
    assert [tuple(b.shape) for b in rt.make_dataset(x, batch_size=8, cache=False)] == [
        (8, 3),
        (2, 3),
    ]
    first = [b[1].numpy().tolist() for b in rt.make_dataset(x, y, 10, shuffle=True, seed=1)]
    again = [b[1].numpy().tolist() for b in rt.make_dataset(x, y, 10, shuffle=True, seed=1)]
    assert first == again != [list(range(10))]


@pytest.mark.tf
def test_keras_mnist_from_cache(offline_keras_home: Path) -> None:
    arrays = write_mnist(offline_keras_home)
    (x_train, _), (_, y_test) = rt.load_keras_dataset("mnist")
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    section = plain(
        {
            "source": "keras/mnist",
            "reshape": [784],
            "scale": "1/255",
            "one_hot": 10,
            "limit": {"train": 10},
            "validation": {"split": 0.2},
        }
    )
    s = prepare_data(section, seed=0)
    assert s.x_train.shape == (8, 784) and s.y_val.shape == (2, 10) and s.x_test.shape == (6, 784)


@pytest.mark.tf
def test_keras_fashion_mnist_from_cache(offline_keras_home: Path) -> None:
    arrays = write_fashion_mnist(offline_keras_home)
    (x_train, y_train), (x_test, _) = rt.load_keras_dataset("fashion_mnist")
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    assert x_test.shape == (4, 28, 28)


@pytest.mark.tf
def test_keras_cifar10_tutorial_pipeline(offline_keras_home: Path) -> None:
    arrays = write_cifar10(offline_keras_home)
    (x_train, y_train), (x_test, _) = rt.load_keras_dataset("cifar10")
    assert x_train.shape == (50000, 32, 32, 3) and y_train.shape == (50000, 1)
    np.testing.assert_array_equal(x_test, arrays["test_data"].transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(x_train[10000], arrays["train_data"][1].transpose(1, 2, 0))
    del x_train, y_train

    section = {**TUTORIAL, "limit": {"train": 50}}
    s = prepare_data(plain(section), seed=7)
    automobiles = arrays["test_data"][arrays["test_labels"] == 1].transpose(0, 2, 3, 1) / 255
    assert s.x_train.shape == (50, 32, 32, 3) and s.x_test.shape == (4, 32, 32, 3)
    np.testing.assert_allclose(s.y_test, automobiles, rtol=1e-6)  # clean targets
    np.testing.assert_allclose(
        s.y_train[0], arrays["train_data"][1].transpose(1, 2, 0) / 255, rtol=1e-6
    )
    assert s.x_val is s.x_test and s.x_test.min() >= 0 and s.x_test.max() <= 1
    assert 0.05 < float(np.std(s.x_test - s.y_test)) < 0.25


@pytest.mark.tf
def test_keras_cifar100_label_modes(offline_keras_home: Path) -> None:
    arrays = write_cifar100(offline_keras_home)
    (_, fine), _ = rt.load_keras_dataset("cifar100")
    (_, coarse), (x_test, _) = rt.load_keras_dataset("cifar100", label_mode="coarse")
    assert fine.ravel().tolist() == arrays["train_fine"].tolist()
    assert coarse.ravel().tolist() == arrays["train_coarse"].tolist()
    assert x_test.shape == (4, 32, 32, 3)


@pytest.mark.tf
def test_keras_imdb_options_and_padding(offline_keras_home: Path) -> None:
    write_imdb(offline_keras_home)
    section = plain(
        {
            "source": "keras/imdb",
            "options": {"num_words": 20},
            "sequence_length": 8,
            "validation": "test",
        }
    )
    s = prepare_data(section, seed=0)
    assert s.x_train.shape == (10, 8) and s.x_test.shape == (6, 8)
    assert s.x_train.max() < 20  # num_words reached Keras' loader
    assert set(np.unique(s.y_train)) <= {0, 1} and s.x_val is s.x_test
    ragged = prepare_data(plain({"source": "keras/imdb"}), seed=0)
    assert ragged.x_train.shape[1] == ragged.x_test.shape[1] >= 4  # padded to the longest


@pytest.mark.tf
def test_keras_reuters_and_boston_split_in_keras(offline_keras_home: Path) -> None:
    write_reuters(offline_keras_home, n=15)
    (x_train, _), (x_test, y_test) = rt.load_keras_dataset("reuters", test_split=0.2)
    assert len(x_train) == 12 and len(x_test) == len(y_test) == 3
    write_boston_housing(offline_keras_home, n=20)
    s = prepare_data(plain({"source": "keras/boston_housing", "standardize": True}), seed=0)
    assert s.x_train.shape == (16, 13) and s.x_test.shape == (4, 13) and s.y_train.shape == (16,)


@pytest.mark.tf
def test_missing_keras_dataset_offline_says_where_to_put_it(offline_keras_home: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        rt.load_keras_dataset("cifar10")
    message = str(info.value)
    assert "keras/cifar10 is not in the Keras cache" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message
    assert str(offline_keras_home / "cifar-10-batches-py-target_archive") in message
    assert "KERAS_HOME" in message


@pytest.mark.tf
def test_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    for split, count in (("train", 3), ("test", 1)):
        for label, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (20, 10), color).save(folder / f"{i}.png")
    section = plain(
        {
            "source": {"images": "train", "test_images": "test", "image_size": [8, 6]},
            "scale": "1/255",
        }
    )
    s = prepare_data(section, base_dir=str(tmp_path))
    assert s.x_train.shape == (6, 8, 6, 3) and s.x_test.shape == (2, 8, 6, 3)
    assert s.y_train.tolist() == [0, 0, 0, 1, 1, 1]  # classes in folder-name order
    np.testing.assert_allclose(s.x_test[1, 0, 0], [0, 0, 1], atol=1e-6)


# --- named arrays: several inputs and outputs ---------------------------------------------------


@pytest.fixture
def named_npz(tmp_path: Path) -> Path:
    """Rows i of every array carry i, so that a row's arrays can be matched up after steps."""
    n = 30
    rows = np.arange(n)
    path = tmp_path / "named.npz"
    np.savez(
        path,
        a=np.stack([rows, rows + 100], axis=1).astype(np.float16),
        b=(rows * 2).reshape(n, 1, 1).astype(np.uint8),
        label=rows % 3,
        flag=(rows % 2).astype(np.float16).reshape(n, 1),
        a_test=np.full((5, 2), -1.0),
        b_test=np.full((5, 1, 1), 7),
        label_test=np.arange(5) % 3,
        flag_test=np.zeros(5),
    )
    return path


NAMED = {
    "npz": "named.npz",
    "x": {"first": "a", "second": "b"},
    "y": {"cls": "label", "odd": "flag"},
}


def row_ids(split_x: dict[str, np.ndarray], split_y: dict[str, np.ndarray]) -> list[int]:
    """The original row of each example, checked to be the same in every array."""
    ids = split_x["first"][:, 0].astype(int)
    np.testing.assert_array_equal(split_x["first"][:, 1], ids + 100)
    np.testing.assert_array_equal(split_x["second"].reshape(-1), ids * 2)
    np.testing.assert_array_equal(split_y["cls"], ids % 3)
    np.testing.assert_array_equal(split_y["odd"], ids % 2)
    return ids.tolist()


def test_named_arrays_keep_rows_together_through_limit_and_splits(named_npz: Path) -> None:
    section = plain(
        {
            "source": NAMED,
            "limit": {"train": 20},
            "test": {"split": 0.25},
            "validation": {"split": 0.2},
        }
    )
    s = prepare_data(section, seed=4, base_dir=str(named_npz.parent))
    train, val, test = (
        row_ids(s.x_train, s.y_train),
        row_ids(s.x_val, s.y_val),
        row_ids(s.x_test, s.y_test),
    )
    assert sorted(train + val + test) == list(range(20))  # limit, then a partition
    assert (len(train), len(val), len(test)) == (12, 3, 5)
    assert set(s.x_train) == {"first", "second"} and set(s.y_test) == {"cls", "odd"}
    assert s.x_train["first"].dtype == np.float32  # float16 in the file, widened
    assert s.y_train["odd"].shape == (12,)  # (n, 1) labels flattened like CIFAR's
    again = prepare_data(section, seed=4, base_dir=str(named_npz.parent))
    other = prepare_data(section, seed=5, base_dir=str(named_npz.parent))
    assert row_ids(again.x_val, again.y_val) == val
    assert row_ids(other.x_val, other.y_val) + row_ids(other.x_test, other.y_test) != val + test


def test_named_arrays_scale_and_standardize_every_input(named_npz: Path) -> None:
    section = plain({"source": NAMED, "scale": "1/2", "standardize": True, "validation": "none"})
    s = prepare_data(section, seed=0, base_dir=str(named_npz.parent))
    for array in s.x_train.values():
        assert array.dtype == np.float32
        np.testing.assert_allclose(array.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(array.std(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(s.y_train["cls"], np.arange(30) % 3)  # targets untouched


def test_named_arrays_with_the_files_test_split(named_npz: Path) -> None:
    source = {
        **NAMED,
        "x_test": {"first": "a_test", "second": "b_test"},
        "y_test": {"cls": "label_test", "odd": "flag_test"},
    }
    s = prepare_data(
        plain({"source": source, "validation": "test"}), seed=0, base_dir=str(named_npz.parent)
    )
    assert s.x_test["first"].shape == (5, 2) and s.x_test["second"].max() == 7
    assert s.x_val is s.x_test and s.y_test["cls"].tolist() == [0, 1, 2, 0, 1]


def test_named_inputs_with_one_label_array_may_keep_and_one_hot(named_npz: Path) -> None:
    source = {"npz": "named.npz", "x": {"first": "a", "second": "b"}, "y": "label"}
    section = plain({"source": source, "keep": {"label": [0, 2]}, "one_hot": 3})
    s = prepare_data(section, seed=0, base_dir=str(named_npz.parent))
    ids = s.x_train["first"][:, 0].astype(int)
    assert ids.tolist() == [i for i in range(30) if i % 3 != 1]
    np.testing.assert_array_equal(s.x_train["second"].reshape(-1), ids * 2)
    np.testing.assert_array_equal(s.y_train, np.eye(3)[ids % 3])


def test_named_npy_files(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.arange(10.0).reshape(5, 2))
    np.save(tmp_path / "b.npy", np.arange(5))
    np.save(tmp_path / "c.npy", np.ones(5))
    section = plain({"source": {"npy": {"x": {"p": "a.npy", "q": "b.npy"}, "y": {"r": "c.npy"}}}})
    s = prepare_data(section, base_dir=str(tmp_path))
    assert s.x_train["p"].shape == (5, 2) and s.x_train["q"].tolist() == [0, 1, 2, 3, 4]
    assert s.y_train["r"].tolist() == [1, 1, 1, 1, 1]


def test_named_arrays_of_different_lengths_are_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", a=np.zeros((4, 2)), b=np.zeros(3))
    with pytest.raises(ValueError, match=r"differ in their number of rows \(x p: 4, x q: 3\)"):
        rt.load_npz(str(tmp_path / "bad.npz"), {"p": "a", "q": "b"}, None)
    with pytest.raises(KeyError, match="'c'"):
        rt.load_npz(str(tmp_path / "bad.npz"), {"p": "a"}, {"r": "c"})


def test_named_arrays_facts_are_unknown() -> None:
    data = DataSpec.model_validate({"source": NAMED})
    assert known_source_shapes(data) == (None, None, "unknown")
    one_label = DataSpec.model_validate({"source": {**NAMED, "y": "label"}})
    assert known_source_shapes(one_label) == (None, None, "sparse")
    assert DataSpec.model_validate(plain({"source": NAMED})) == data  # the dump round-trips


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"source": NAMED, "reshape": [2]}, "reshape gives every example one shape"),
        ({"source": NAMED, "task": "reconstruct"}, "task reconstruct makes the inputs"),
        (
            {"source": NAMED, "task": {"denoise": {"noise": {"normal": {"stddev": 0.1}}}}},
            "task denoise makes the inputs",
        ),
        ({"source": NAMED, "keep": {"label": 1}}, "keep selects rows by one label array"),
        ({"source": NAMED, "one_hot": True}, "one_hot encodes one label array"),
        ({"source": {**NAMED, "x_test": "a_test"}}, "x_test must name the same arrays as x"),
        ({"source": {**NAMED, "y_test": {"cls": "t"}}}, "y_test must name the same arrays as y"),
        ({"source": {**NAMED, "x": {}}}, "x maps no names to arrays"),
        ({"source": {**NAMED, "x": {"2nd": "b"}}}, "'2nd' is not a name"),
        ({"source": {"npy": {"x": "a.npy", "x_test": {"p": "t.npy"}}}}, "x_test must name"),
    ],
)
def test_steps_that_read_one_array_refuse_named_arrays(
    section: dict[str, Any], message: str
) -> None:
    assert message in error_of(section)


@pytest.mark.tf
def test_make_dataset_of_named_arrays_yields_dicts() -> None:
    x = {"p": np.arange(10.0).reshape(5, 2), "q": np.arange(5)}
    y = {"r": np.arange(5) * 10}
    batches = list(rt.make_dataset(x, y, batch_size=2, shuffle=True, seed=0))
    assert [sorted(b[0]) for b in batches] == [["p", "q"]] * 3 and len(batches) == 3
    for inputs, targets in batches:
        np.testing.assert_array_equal(inputs["p"].numpy()[:, 0], inputs["q"].numpy() * 2)
        np.testing.assert_array_equal(targets["r"].numpy(), inputs["q"].numpy() * 10)
