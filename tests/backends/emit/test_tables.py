"""Tests of typed table columns: the `columns`, `classes` and `missing` keys of a CSV source, the
table loader and missing-value filling, the `FeatureSpace` adapted on the training split only,
class names in a run's files, and a saved model that predicts from raw rows. Also the checks
`validate` makes of a table's columns, of preprocessing layers nothing adapts, of augmentation
modes and of an image folder that does not fit the model.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from test_data import prepare_data
from typer.testing import CliRunner

from speck.backends.emit.runtime.data import column, drop_empty, label_column, read_csv
from speck.cli import app
from speck.front.format.data import DataSpec

ROOT = Path(__file__).resolve().parents[3]

TABLE = """age,city,plan,score,label
30,London,basic,1.5,no
,Paris,pro,2.5,yes
50,London,,3.5,no
40,Rome,basic,,yes
20,Paris,pro,0.5,no
60,Oslo,basic,4.5,yes
"""
"""Six rows with an empty age, plan and score each; Oslo appears once."""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def source(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "csv": "t.csv",
        "label": "label",
        "columns": {"age": "float_normalized", "city": "string_categorical"},
    }
    return {**base, **changes}


# --- the spec --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"columns": {"age": "float_normalised"}}, "did you mean 'float_normalized'?"),
        ({"columns": {"age": {"float_rescaled": {"scal": 2}}}}, "no option 'scal'"),
        ({"columns": {"t": {"text": {"output_mode": "int"}}}}, "one of multi_hot, count, tf_idf"),
        ({"columns": {"h": "string_hashed"}}, "string_hashed needs num_bins"),
        ({"features": ["age"]}, "columns already name the features"),
        ({"columns": {"label": "float"}}, "is a column of the inputs too"),
        ({"classes": ["no", "no"]}, "classes are listed twice"),
        ({"missing": {"city": "mean"}}, "its mean means nothing"),
        ({"missing": {"citty": "drop"}}, "did you mean 'city'?"),
        ({"missing": {"age": {"fill": "old"}}}, "fill it with a float"),
        ({"missing": {"age": {"impute": "drop", "indicator": True}}}, "remove indicator"),
        ({"missing": {"label": "most_frequent"}}, "rows without a label can only be dropped"),
    ],
)
def test_column_declarations_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("?", r"\?")):
        DataSpec.model_validate({"source": source(**changes)})


def test_short_and_long_column_forms() -> None:
    spec = DataSpec.model_validate(
        {
            "source": source(
                columns={"age": "float", "city": {"string_categorical": {"max_tokens": 5}}},
                classes=["no", "yes"],
                missing={"age": "median", "city": {"fill": "?", "indicator": True}},
            )
        }
    )
    assert spec.source.typed_columns == {  # type: ignore[union-attr]
        "age": ("float", {}),
        "city": ("string_categorical", {"max_tokens": 5}),
    }
    from speck.front.format.data import known_source_shapes

    assert known_source_shapes(spec).n_classes == 2


# --- loading and filling (NumPy only) -------------------------------------------------------


def test_empty_cells_are_an_error_naming_column_and_count(tmp_path: Path) -> None:
    table = read_csv(str(write(tmp_path, "t.csv", TABLE)))
    with pytest.raises(ValueError, match=r"column 'age' has 1 empty cells.*missing: \{age:"):
        column(table, "age", np.float32)
    assert np.isnan(column(table, "age", np.float32, missing=True)).sum() == 1
    assert column(table, "plan", missing=True).tolist()[2] == ""
    kept = drop_empty(table, ["score"])  # the row without a score is gone
    assert len(kept["label"]) == 5 and not np.isnan(column(kept, "score", np.float32)).any()
    y, names = label_column(column(kept, "label"))
    assert names == ["no", "yes"] and y.tolist() == [0, 1, 0, 0, 1]
    assert column(kept, "score", np.int32).dtype == np.int32


def test_classes_fix_the_label_order_and_refuse_others(tmp_path: Path) -> None:
    table = read_csv(str(write(tmp_path, "t.csv", TABLE)))
    y, names = label_column(table["label"][:2], ["yes", "no"])  # a test file's, say
    assert names == ["yes", "no"] and y.tolist() == [1, 0]
    with pytest.raises(ValueError, match="'yes' is not in list"):
        label_column(table["label"], ["no", "maybe"])
    with pytest.raises(ValueError, match="column 'city' holds text"):
        column(table, "city", np.float32)
    y, names = label_column(np.array(["1", "0", "1"]))  # numbers stay numbers, without names
    assert names is None and y.dtype == np.int64 and y.tolist() == [1, 0, 1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.none() | st.floats(-1e6, 1e6, width=32, allow_nan=False), max_size=30))
def test_a_csv_column_reads_back_its_numbers_and_counts_its_gaps(cells: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        lines = ["a,b"] + [f"{'' if v is None else repr(v)},1" for v in cells]
        table = read_csv(str(write(Path(folder), "t.csv", "\n".join(lines) + "\n")))
    read = column(table, "a", np.float32, missing=True)
    assert np.isnan(read).tolist() == [v is None for v in cells]
    assert read[~np.isnan(read)].tolist() == [v for v in cells if v is not None]
    gaps = sum(v is None for v in cells)
    if gaps:
        with pytest.raises(ValueError, match=f"column 'a' has {gaps} empty cells"):
            column(table, "a", np.float32)


def test_an_npz_array_of_numbers_is_a_column_too() -> None:
    table = {"a": np.array([1.5, np.nan, 2.0]), "n": np.array([3, 4, 5]), "s": np.array(["x", ""])}
    assert column(table, "a", np.float32, missing=True)[[0, 2]].tolist() == [1.5, 2.0]
    assert column(table, "n", np.int32).tolist() == [3, 4, 5]
    assert column(table, "n").tolist() == ["3", "4", "5"]  # an integer array read as categories
    with pytest.raises(ValueError, match="column 'a' has 1 empty cells"):
        column(table, "a", np.float32)
    with pytest.raises(ValueError, match="column 's' has 1 empty cells"):
        column(table, "s")


@pytest.mark.tf
def test_filling_uses_the_training_split_only(tmp_path: Path) -> None:
    rows = ["a,c,n,label"] + [
        f"{'' if i % 4 == 0 else i},{'' if i % 5 == 0 else 'xy'[i % 3 == 0]},"
        f"{'' if i % 6 == 0 else i % 3},{i % 2}"
        for i in range(60)
    ]
    write(tmp_path, "t.csv", "\n".join(rows) + "\n")
    section = {
        "source": {
            "csv": "t.csv",
            "label": "label",
            "columns": {"a": "float", "c": "string_categorical", "n": "integer_categorical"},
            "missing": {
                "a": {"impute": "mean", "indicator": True},
                "c": "most_frequent",
                "n": {"impute": "most_frequent"},
            },
        },
        "test": {"split": 0.5},
    }
    splits = prepare_data(section, seed=2, base_dir=str(tmp_path))
    train, test = splits.x_train, splits.x_test
    present = train["a"][train["a_missing"] == 0]
    filled = test["a"][test["a_missing"] == 1]
    mean = np.nanmean(present)  # of the training rows that have a value
    assert len(filled) and np.all(filled == mean) and len(present) < 30
    assert train["n"].dtype == np.int32 and test["n"].dtype == np.int32
    assert "" not in train["c"].tolist() and "" not in test["c"].tolist()


@pytest.mark.tf
def test_declared_classes_fix_the_ids_and_fills_keep_each_kind(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", TABLE)
    columns = {"age": "float", "plan": "string_categorical", "score": "float"}
    missing = {"age": {"fill": 35.5}, "plan": {"fill": "none"}, "score": "median"}
    section = {"source": source(columns=columns, classes=["yes", "no"], missing=missing)}
    splits = prepare_data(section, base_dir=str(tmp_path))
    x = splits.x_train
    assert splits.y_train.tolist() == [1, 0, 1, 0, 1, 0]  # no, yes, ... as ids of [yes, no]
    assert splits.extras["class_names"] == ["yes", "no"]
    assert x["age"].dtype == np.float32 and x["age"].tolist()[1] == 35.5
    assert x["score"].dtype == np.float32 and x["score"].tolist()[3] == 2.5  # the median
    assert x["plan"].tolist() == ["basic", "pro", "none", "basic", "pro", "basic"]
    section["source"]["classes"] = ["no", "maybe"]
    with pytest.raises(ValueError, match="'yes' is not in list"):
        prepare_data(section, base_dir=str(tmp_path))


# --- no leakage: the FeatureSpace learns from the training split alone ---------------------


@pytest.mark.tf
def test_feature_space_statistics_are_those_of_the_training_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["age,city,label"] + [
        f"{rng.normal(40, 10):.3f},{rng.choice(['a', 'b', 'c'])},{i % 2}" for i in range(200)
    ]
    rows += [f"{1000 + i},only_in_some_rows,{i % 2}" for i in range(50)]  # far-off rows
    write(tmp_path, "t.csv", "\n".join(rows) + "\n")
    section = {
        "source": source(missing=None),
        "test": {"split": 0.3},
        "validation": {"split": 0.2},
    }
    splits = prepare_data(section, seed=1, base_dir=str(tmp_path))
    features = splits.extras["features"]
    ages = splits.x_train["age"].astype(np.float64)
    held = np.concatenate([splits.x_val["age"], splits.x_test["age"]])
    assert len(held) > 40 and (held > 900).any()  # the far-off rows are in every split
    normalization = features.preprocessors["age"]
    assert np.allclose(np.ravel(normalization.mean), ages.mean(), rtol=1e-5)
    assert np.allclose(np.ravel(normalization.variance), ages.var(), rtol=1e-4)
    all_ages = np.concatenate([ages, held])
    assert not np.allclose(np.ravel(normalization.mean), all_ages.mean(), rtol=1e-3)
    vocabulary = set(features.preprocessors["city"].get_vocabulary())
    assert vocabulary - {"[UNK]"} == set(splits.x_train["city"].tolist())


@pytest.mark.tf
def test_imputed_statistic_is_the_training_median(tmp_path: Path) -> None:
    lines = ["age,label"] + [f"{'' if i % 5 == 0 else i},{i % 2}" for i in range(100)]
    write(tmp_path, "t.csv", "\n".join(lines) + "\n")
    section = {
        "source": {
            "csv": "t.csv",
            "label": "label",
            "columns": {"age": "float"},
            "missing": {"age": {"impute": "median", "indicator": True}},
        },
        "test": {"split": 0.5},
    }
    splits = prepare_data(section, seed=3, base_dir=str(tmp_path))
    train, test = splits.x_train, splits.x_test
    present = train["age"][train["age_missing"] == 0]
    filled = test["age"][test["age_missing"] == 1]
    assert len(filled) and np.all(filled == np.float32(np.median(present)))
    assert not np.isnan(train["age"]).any() and not np.isnan(test["age"]).any()


# --- validate: the file's columns and the model's preprocessing ----------------------------


def spec_with(folder: Path, data: dict[str, Any], model: dict[str, Any]) -> Path:
    spec = {"speck": 1, "name": "t", "data": data, "model": model}
    spec["compile"] = {"optimizer": "adam", "loss": "binary_crossentropy"}
    return write(folder, "spec.yaml", yaml.safe_dump(spec, sort_keys=False))


DENSE = {"layers": [{"Dense": {"units": 1, "activation": "sigmoid"}}]}


def validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", str(path)])
    return result.exit_code, result.output


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_validate_reads_the_columns_kinds_from_the_file(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", TABLE)
    data = {"source": source(columns={"age": "float", "city": "float_normalized", "plam": "float"})}
    path = spec_with(tmp_path, data, DENSE)
    code, out = validate(path)
    assert code == 2
    at = line_of(path, "city: float_normalized")
    assert f"{path}:{at}:" in out and "column 'city' holds text ('London' on line 2)" in out
    assert "declare it string_categorical" in out
    assert "no column 'plam'" in out and "did you mean 'plan'?" in out

    untyped = spec_with(
        tmp_path, {"source": {"csv": "t.csv", "label": "label"}}, {"input": [4], **DENSE}
    )
    code, out = validate(untyped)
    assert code == 2 and "column 'city' holds text" in out and "columns: {city:" in out


def test_typed_columns_feed_a_model_without_its_own_input(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", TABLE)
    ok = spec_with(tmp_path, {"source": source()}, DENSE)
    assert validate(ok)[0] == 0
    path = spec_with(tmp_path, {"source": source()}, {"input": [2], **DENSE})
    code, out = validate(path)
    assert code == 2 and "write a Sequential model without `input:`" in out


@pytest.mark.parametrize(
    ("layer", "state"),
    [
        ({"Normalization": {}}, "mean and variance"),
        ({"StringLookup": {}}, "vocabulary"),
        ({"IntegerLookup": {}}, "vocabulary"),
        ({"TextVectorization": {"output_sequence_length": 4}}, "vocabulary"),
        ({"Discretization": {}}, "bin_boundaries"),
    ],
)
def test_a_layer_nothing_adapts_is_an_error(tmp_path: Path, layer: Any, state: str) -> None:
    model = {"input": [1], "layers": [layer, {"Dense": {"units": 1}}]}
    path = spec_with(tmp_path, {"source": "sklearn/iris"}, model)
    code, out = validate(path)
    assert code == 2 and f"learns its {state} from data, but nothing adapts" in out
    spec = yaml.safe_load(path.read_text())
    del spec["data"]  # an architecture (as `speck import` writes one): its state is the weights'
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    code, out = validate(path)
    assert code == 0, out


def test_a_layer_given_its_state_is_not_adapted(tmp_path: Path) -> None:
    layer = {"Normalization": {"mean": 0.0, "variance": 1.0}}
    path = spec_with(tmp_path, {"source": "sklearn/iris"}, {"input": [4], "layers": [layer]})
    assert "nothing adapts" not in validate(path)[1]


def test_flip_mode_is_a_closed_set(tmp_path: Path) -> None:
    model = {"input": [8, 8, 3], "layers": [{"RandomFlip": {"mode": "horizontally"}}]}
    path = write(tmp_path, "s.yaml", yaml.safe_dump({"speck": 1, "name": "f", "model": model}))
    code, out = validate(path)
    assert code == 2 and "Received: mode='horizontally' (did you mean 'horizontal'?)" in out


def test_an_image_folder_that_does_not_fit_suggests_image_size(tmp_path: Path) -> None:
    data = {"source": {"images": "imgs", "image_size": [32, 32]}}
    model = {"input": [48, 48, 1], "layers": [{"Flatten": {}}, {"Dense": {"units": 2}}]}
    code, out = validate(spec_with(tmp_path, data, model))
    assert code == 2 and "write image_size: [48, 48] and color_mode: grayscale" in out
    assert "reshape" not in out


# --- end to end: names in the run's files, raw rows into the saved model -------------------


@pytest.mark.tf
@pytest.mark.slow
def test_churn_example_trains_and_predicts_from_raw_rows(tmp_path: Path) -> None:
    import keras

    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        ["train", str(ROOT / "specs" / "churn.yaml"), "--set", "fit.epochs=2", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["class_names"] == ["stayed", "left"]
    assert np.array(metrics["confusion_matrix"]).sum() == metrics["samples"]["test"]
    model = keras.models.load_model(out / "model.keras")
    with open(ROOT / "specs" / "data" / "churn.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["monthly_charges"] and r["internet"]][:8]
    raw = {
        "tenure_months": np.array([float(r["tenure_months"]) for r in rows]),
        "monthly_charges": np.array([float(r["monthly_charges"]) for r in rows]),
        "monthly_charges_missing": np.zeros(len(rows)),
        "support_calls": np.array([int(r["support_calls"]) for r in rows]),
        **{k: np.array([r[k] for r in rows], dtype=object) for k in ("contract", "internet")},
        "payment": np.array([r["payment"] for r in rows], dtype=object),
    }
    scores = model.predict(raw, verbose=0)
    assert scores.shape == (8, 1) and np.all((scores >= 0) & (scores <= 1))


@pytest.mark.tf
@pytest.mark.slow
def test_empty_cells_without_a_rule_stop_training_at_the_source(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", TABLE)
    data = {"source": source(columns={"age": "float", "city": "string_categorical"})}
    path = spec_with(tmp_path, data, DENSE)
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert f"{path}:{line_of(path, 'source:')}:" in result.output
    assert "column 'age' has 1 empty cells" in result.output
    assert "internal error" not in result.output and not (tmp_path / "run" / "model.keras").exists()


def test_nan_in_array_files_and_untyped_csv_stops_the_load(tmp_path: Path) -> None:
    from speck.backends.emit.runtime.data import load_csv, load_npz

    x = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, 1.0]], np.float32)
    np.savez(tmp_path / "a.npz", x=x, y=np.array([0, 1, 0]))
    with pytest.raises(ValueError, match=r"a\.npz: x has 2 NaN values"):
        load_npz(str(tmp_path / "a.npz"))
    path = write(tmp_path, "n.csv", "a,b,label\n1,nan,0\n2,3,1\n")
    with pytest.raises(ValueError, match="column 'b' has 1 NaN cells"):
        load_csv(str(path), "label")


# --- an npz archive as a table: each named array a column -----------------------------------


def churn_like_npz(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    age = rng.normal(40, 10, 80)
    age[::9] = np.nan
    np.savez(
        folder / "t.npz",
        age=age,
        city=np.array(["a", "b", "c", ""] * 20),
        calls=np.arange(80) % 4,
        y=np.array(["no", "yes"] * 40),
    )
    return folder / "t.npz"


NPZ_SOURCE = {
    "npz": "t.npz",
    "columns": {
        "age": "float_normalized",
        "city": "string_categorical",
        "calls": "integer_categorical",
    },
    "classes": ["no", "yes"],
    "missing": {"age": {"impute": "median", "indicator": True}, "city": {"fill": "?"}},
}


def test_npz_columns_are_checked_like_a_tables() -> None:
    with pytest.raises(ValidationError, match="remove x, x_test and y_test"):
        DataSpec.model_validate({"source": {**NPZ_SOURCE, "x_test": "xt"}})
    with pytest.raises(ValidationError, match="its mean means nothing"):
        DataSpec.model_validate({"source": {**NPZ_SOURCE, "missing": {"city": "mean"}}})
    with pytest.raises(ValidationError, match="is a column of the inputs too"):
        DataSpec.model_validate({"source": {**NPZ_SOURCE, "y": "age"}})


@pytest.mark.tf
def test_npz_columns_adapt_on_the_training_split(tmp_path: Path) -> None:
    churn_like_npz(tmp_path)
    section = {"source": NPZ_SOURCE, "test": {"split": 0.25}, "validation": {"split": 0.2}}
    splits = prepare_data(section, seed=4, base_dir=str(tmp_path))
    train, test = splits.x_train, splits.x_test
    assert sorted(train) == ["age", "age_missing", "calls", "city"]
    assert train["calls"].dtype == np.int32 and not np.isnan(test["age"]).any()
    present = train["age"][train["age_missing"] == 0]
    assert np.all(test["age"][test["age_missing"] == 1] == np.float32(np.median(present)))
    assert "?" in train["city"].tolist() and "" not in test["city"].tolist()
    normalization = splits.extras["features"].preprocessors["age"]
    assert np.allclose(np.ravel(normalization.mean), train["age"].mean(), rtol=1e-5)
    assert splits.extras["class_names"] == ["no", "yes"] and set(splits.y_train) == {0, 1}


def test_validate_reads_an_npz_columns_kinds(tmp_path: Path) -> None:
    churn_like_npz(tmp_path)
    source = {**NPZ_SOURCE, "columns": {**NPZ_SOURCE["columns"], "city": "float"}}
    source["missing"] = {"city": "median"}
    path = spec_with(tmp_path, {"source": source}, DENSE)
    code, out = validate(path)
    assert code == 2, out
    assert f"{path}:{line_of(path, 'city: float')}:" in out and "array 'city' holds text" in out
    assert "declare it string_categorical" in out
    source = {**NPZ_SOURCE, "columns": {"town": "float"}, "missing": None}
    path = spec_with(tmp_path, {"source": source}, DENSE)
    code, out = validate(path)
    assert code == 2 and "has no array 'town'" in out
    assert validate(spec_with(tmp_path, {"source": NPZ_SOURCE}, DENSE))[0] == 0


# --- a layer argument that names a file: from the spec's folder, read only ------------------


def lookup_spec(folder: Path, vocabulary: str) -> Path:
    layer = {"StringLookup": {"vocabulary": vocabulary, "output_mode": "one_hot"}}
    model = {"input": {"shape": [1], "dtype": "string"}, "layers": [layer]}
    return write(folder, "s.yaml", yaml.safe_dump({"speck": 1, "name": "v", "model": model}))


def test_a_vocabulary_file_is_found_from_the_spec_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = lookup_spec(tmp_path / "sub", "words.txt")
    code, out = validate(path)
    assert code == 2 and f"{path}:{line_of(path, 'vocabulary')}:" in out, out
    assert "there is no file 'words.txt'" in out and "relative to the spec file's folder" in out
    (tmp_path / "sub" / "words.txt").write_text("red\ngreen\n")
    assert validate(path)[0] == 0


def test_an_emitted_vocabulary_path_starts_at_the_spec_folder(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "words.txt").write_text("red\ngreen\n")
    path = lookup_spec(tmp_path / "specs", "words.txt")
    out = tmp_path / "scripts" / "v.py"
    result = CliRunner().invoke(app, ["emit", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert 'DATA_DIR = Path(__file__).parent / "../specs"' in text
    assert 'vocabulary=str(DATA_DIR / "words.txt")' in text and str(tmp_path) not in text


@pytest.mark.tf
def test_a_vocabulary_file_reaches_the_built_layer(tmp_path: Path) -> None:
    from speck.backends.build import build_model
    from speck.pipeline import resolve_file

    (tmp_path / "words.txt").write_text("red\ngreen\n")
    model = build_model(resolve_file(str(lookup_spec(tmp_path, "words.txt"))).graph)
    assert model.layers[0].get_vocabulary() == ["[UNK]", "red", "green"]


# --- embedding a categorical column: FeatureSpace's index into an Embedding ----------------


def test_embedding_is_for_categorical_columns() -> None:
    spec = DataSpec.model_validate(
        {"source": source(columns={"city": {"string_categorical": {"embedding": 4}}})}
    )
    assert spec.source.typed_columns == {"city": ("string_categorical", {"embedding": 4})}  # type: ignore[union-attr]
    for column_, message in [
        ({"float_normalized": {"embedding": 4}}, "embedding is for categorical columns"),
        ({"string_categorical": {"output_mode": "int"}}, "{string_categorical: {embedding: 8}}"),
        ({"integer_categorical": {"embedding": 0}}, "embedding is a size >= 1"),
    ]:
        with pytest.raises(ValidationError, match=re.escape(message)):
            DataSpec.model_validate({"source": source(columns={"city": column_})})


@pytest.mark.tf
@pytest.mark.slow
def test_an_embedded_column_trains_and_predicts_from_raw_rows(tmp_path: Path) -> None:
    import keras

    rng = np.random.default_rng(0)
    cities = [f"c{i}" for i in range(12)]
    lines = ["age,city,label"] + [
        f"{rng.normal(40, 9):.2f},{c},{'yes' if cities.index(c) % 2 else 'no'}"
        for c in rng.choice(cities, 300)
    ]
    write(tmp_path, "t.csv", "\n".join(lines) + "\n")
    columns = {"age": "float_normalized", "city": {"string_categorical": {"embedding": 3}}}
    data = {"source": source(columns=columns), "test": {"split": 0.2}}
    path = spec_with(tmp_path, data, DENSE)
    script = tmp_path / "t.py"
    assert CliRunner().invoke(app, ["emit", str(path), "-o", str(script)]).exit_code == 0
    text = script.read_text()
    assert 'string_categorical(output_mode="int")' in text and 'output_mode="dict"' in text
    assert 'embedded_columns(features, {"city": 3})' in text
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    model = keras.models.load_model(out / "model.keras")
    embedding = model.get_layer("city_embedding")
    assert embedding.input_dim == 13 and embedding.output_dim == 3  # 12 cities and [UNK]
    rows = {"age": np.array([30.0, 50.0]), "city": np.array(["c1", "elsewhere"], dtype=object)}
    assert model.predict(rows, verbose=0).shape == (2, 1)


@pytest.mark.tf
@pytest.mark.slow
def test_predict_takes_a_tables_raw_rows_and_names_classes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    spec = str(ROOT / "specs" / "churn.yaml")
    trained = CliRunner().invoke(app, ["train", spec, "--set", "fit.epochs=1", "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    with open(ROOT / "specs" / "data" / "churn.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["monthly_charges"]][:5]
    rows[0]["internet"] = ""  # filled with the spec's value, "unknown"
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(r[h] for h in header) for r in rows]
    new = write(tmp_path, "new.csv", "\n".join(lines) + "\n")
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(app, ["predict", str(run), str(new), "--out", str(out)])
    assert result.exit_code == 0, result.output
    predicted = list(csv.reader(out.open()))
    assert len(predicted) == 6 and {r[1] for r in predicted[1:]} <= {"stayed", "left"}
    rows[1]["monthly_charges"] = ""  # its rule is the training median, which the run lacks
    lines = [",".join(header)] + [",".join(r[h] for h in header) for r in rows]
    write(tmp_path, "new.csv", "\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["predict", str(run), str(new), "--out", str(out), "--force"])
    assert result.exit_code == 2 and "column 'monthly_charges' has 1 empty cells" in result.output


def test_labels_outside_the_classes_are_refused_before_training(tmp_path: Path) -> None:
    """Every label cell of the whole file is held to `classes` by the data pre-flight (before
    TensorFlow loads), at the `classes` line, naming the labels and their first lines."""
    from speck.checks.data import check_data_files
    from speck.pipeline import resolve_file

    write(tmp_path, "t.csv", TABLE + "45,Rome,pro,1.0,maybe\n")
    data = {"source": source(classes=["no", "yes"]), "test": {"split": 0.5}}
    resolved = resolve_file(spec_with(tmp_path, data, DENSE))
    [problem] = check_data_files(resolved)
    assert problem.path == ("data", "source", "classes")
    assert "labels that are not among the classes: 'maybe' (line 8)" in problem.message
    spec_lines = (tmp_path / "spec.yaml").read_text().splitlines()
    assert problem.location is not None
    assert spec_lines[problem.location.line - 1].strip() == "classes:"
    write(tmp_path, "t.csv", TABLE)  # every label among the classes
    assert check_data_files(resolve_file(spec_with(tmp_path, data, DENSE))) == []
