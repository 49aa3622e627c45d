"""Tests of typed table columns: the `columns`, `classes` and `missing` keys of a CSV source, the
table loader and missing-value filling, the `FeatureSpace` adapted on the training split only,
class names in a run's files, and a saved model that predicts from raw rows. Also the checks
`validate` makes of a table's columns, of preprocessing layers nothing adapts, of augmentation
modes and of an image folder that does not fit the model.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from test_data import prepare_data
from typer.testing import CliRunner

from speck.backends.emit.runtime.data import impute, load_table
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
    path = write(tmp_path, "t.csv", TABLE)
    columns = {"age": "float", "city": "string", "plan": "string", "score": "float"}
    with pytest.raises(ValueError, match=r"column 'age' has 1 empty cells.*missing: \{age:"):
        load_table(str(path), columns, "label")
    allowed = ["age", "plan"]
    with pytest.raises(ValueError, match="column 'score' has 1 empty cells"):
        load_table(str(path), columns, "label", allowed=allowed)
    x, y, names = load_table(str(path), columns, "label", allowed=allowed, drop=["score"])
    assert len(y) == 5 and not np.isnan(x["score"]).any()  # the row without a score is gone
    assert np.isnan(x["age"]).sum() == 1 and (x["plan"] == "").sum() == 1
    assert names == ["no", "yes"] and y.tolist() == [0, 1, 0, 0, 1]
    assert list(x) == sorted(columns)  # the order a FeatureSpace's inputs have


def test_classes_fix_the_label_order_and_refuse_others(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", TABLE)
    _, y, names = load_table(str(path), {"city": "string"}, "label", classes=["yes", "no"])
    assert names == ["yes", "no"] and y.tolist() == [1, 0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match=r"labels \['yes'\] are not among the classes"):
        load_table(str(path), {"city": "string"}, "label", classes=["no", "maybe"])
    with pytest.raises(ValueError, match="column 'city' holds text"):
        load_table(str(path), {"city": "float"}, "label")


def test_imputing_uses_the_first_split_only() -> None:
    train = {
        "a": np.array([1.0, np.nan, 3.0, 10.0], np.float32),
        "c": np.array(["x", "", "x", "y"]),
    }
    test = {"a": np.array([np.nan, 1000.0], np.float32), "c": np.array(["", "z"])}
    rules = {"a": ("median", None, True, "float"), "c": ("most_frequent", None, False, "string")}
    filled_train, filled_test = impute(rules, train, test)
    assert filled_train["a"].tolist() == [1.0, 3.0, 3.0, 10.0]  # median of 1, 3, 10
    assert filled_test["a"].tolist() == [3.0, 1000.0]  # the training median, not the test's
    assert filled_test["a_missing"].tolist() == [1.0, 0.0]
    assert filled_test["c"].tolist() == ["x", "z"]
    assert list(filled_test) == ["a", "a_missing", "c"]


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
        ({"TextVectorization": {}}, "vocabulary"),
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
