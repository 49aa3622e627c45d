"""`speck predict`: a run's model on new inputs prepared with the run's own steps (scale,
reshape, standardize with the training statistics the program saved), predictions written as
raw arrays or as one CSV row per input; requests that cannot work are refused before
TensorFlow loads, with exit status 2."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import ROOT
from typer.testing import CliRunner

import speck
from speck.backends.predict import PredictError, csv_text
from speck.cli import app


def predict(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["predict", *args])
    return result.exit_code, result.output


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A folder shaped like a finished digits run (its model file is not read here)."""
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(ROOT / "specs" / "digits_mlp.yaml", folder / "spec.yaml")
    (folder / "model.keras").write_bytes(b"not read before the checks pass")
    return folder


def test_a_folder_without_model_keras_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "rows.npy", np.zeros((2, 64)))
    code, output = predict(str(tmp_path), str(tmp_path / "rows.npy"), "--out", "p.npy")
    assert code == 2
    assert f"error: {tmp_path} has no model.keras" in output


def test_inputs_of_the_wrong_shape_name_both_shapes(run_dir: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "rows.npy", np.zeros((3, 5)))
    code, output = predict(str(run_dir), str(tmp_path / "rows.npy"), "--out", "p.npy")
    assert code == 2
    assert "each input row has shape (5,)" in output
    assert "the model's input 'inputs' takes (64,)" in output


@pytest.mark.parametrize(
    ("inputs", "out", "message"),
    [
        ("rows.txt", "p.npy", "inputs come as a .npy, .npz or .csv file or a folder of images"),
        ("nope.npy", "p.npy", "nope.npy does not exist"),
        ("rows.npy", "p.json", "p.json: predictions go to a .npy, .npz or .csv file"),
    ],
)
def test_unknown_suffixes_and_missing_inputs_are_refused(
    run_dir: Path, tmp_path: Path, inputs: str, out: str, message: str
) -> None:
    np.save(tmp_path / "rows.npy", np.zeros((3, 64)))
    (tmp_path / "rows.txt").write_text("1 2 3\n")
    code, output = predict(str(run_dir), str(tmp_path / inputs), "--out", str(tmp_path / out))
    assert code == 2 and message in output, output


def test_predictions_are_not_written_over_a_file_without_force(
    run_dir: Path, tmp_path: Path
) -> None:
    np.save(tmp_path / "rows.npy", np.zeros((3, 64)))
    (tmp_path / "p.csv").write_text("keep me")
    code, output = predict(
        str(run_dir), str(tmp_path / "rows.npy"), "--out", str(tmp_path / "p.csv")
    )
    assert code == 2 and "p.csv exists; pass --force to overwrite it" in output
    assert (tmp_path / "p.csv").read_text() == "keep me"


def test_a_standardizing_run_without_its_statistics_is_refused(
    run_dir: Path, tmp_path: Path
) -> None:
    spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
    spec["data"]["standardize"] = True
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec))
    np.save(tmp_path / "rows.npy", np.zeros((3, 64)))
    with pytest.raises(PredictError, match=r"preprocessing.json is missing or unreadable"):
        speck.predict(run_dir, tmp_path / "rows.npy")


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_rows_name_classes_and_their_probability() -> None:
    scores = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]], dtype=np.float32)
    text = csv_text({"out": scores}, ["0", "1"], {"out": "sparse"}, ["cat", "dog", "fox"])
    assert rows_of(text) == [
        ["input", "class", "probability"],
        ["0", "dog", str(float(np.float32(0.7)))],
        ["1", "cat", str(float(np.float32(0.6)))],
    ]
    ids = rows_of(csv_text({"out": scores}, ["a.png", "b.png"], {"out": "sparse"}, None))
    assert [row[:2] for row in ids[1:]] == [["a.png", "1"], ["b.png", "0"]]


def test_binary_and_logit_scores_read_as_the_loss_reads_them() -> None:
    sigmoid = csv_text({"p": np.array([[0.8], [0.1]])}, ["0", "1"], {"p": "binary"}, None)
    assert rows_of(sigmoid)[1:] == [["0", "1", "0.8"], ["1", "0", "0.9"]]
    logits = csv_text({"p": np.array([[0.0], [2.0]])}, ["0", "1"], {"p": "binary_logits"}, None)
    probability = 1 / (1 + np.exp(-2.0))
    assert rows_of(logits)[1:] == [["0", "0", "0.5"], ["1", "1", str(probability)]]
    softmax = csv_text({"c": np.log([[1.0, 3.0]])}, ["0"], {"c": "sparse_logits"}, None)
    assert rows_of(softmax)[1][1:] == ["1", str(0.75)]


def test_values_and_several_outputs_get_a_column_each() -> None:
    outputs = {"price": np.array([[1.5], [2.5]]), "size": np.array([[1, 2], [3, 4]])}
    assert rows_of(csv_text(outputs, ["0", "1"], {}, None)) == [
        ["input", "price", "size_0", "size_1"],
        ["0", "1.5", "1", "2"],
        ["1", "2.5", "3", "4"],
    ]
    with pytest.raises(PredictError, match=r"shape \(2, 2\) per input.*write the predictions"):
        csv_text({"image": np.zeros((1, 2, 2))}, ["0"], {}, None)


# --- trained runs ----------------------------------------------------------------------------


def trained(folder: Path, spec: dict[str, Any]) -> Path:
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    run = folder / spec["name"]
    speck.train(path, out=run)
    return run


def classifier(name: str, data: dict[str, Any], layers: list[Any], inputs: list[int]) -> Any:
    return {
        "speck": 1,
        "name": name,
        "seed": 1,
        "data": data,
        "model": {"input": inputs, "layers": layers},
        "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
        "fit": {"epochs": 1, "batch_size": 64, "verbose": 0},
    }


@pytest.fixture(scope="module")
def keras_model() -> Any:
    import keras

    return lambda run: keras.models.load_model(run / "model.keras", compile=False)


@pytest.mark.tf
@pytest.mark.slow
def test_digits_rows_are_scaled_as_in_training(
    tmp_path_factory: pytest.TempPathFactory, keras_model: Any
) -> None:
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("digits")
    run = trained(
        folder,
        dict(
            yaml.safe_load((ROOT / "specs" / "digits_mlp.yaml").read_text()),
            fit={"epochs": 1, "batch_size": 64},
            callbacks=[],
        ),
    )
    raw = load_digits().data[:30]
    np.save(folder / "rows.npy", raw)
    expected = np.asarray(keras_model(run)((raw / 16).astype(np.float32)))
    outputs = speck.predict(run, folder / "rows.npy", folder / "p.npy")
    assert np.abs(np.load(folder / "p.npy") - expected).max() <= 1e-6
    assert np.abs(outputs["dense_2"] - expected).max() <= 1e-6

    np.savez(folder / "rows.npz", inputs=raw)
    with open(folder / "rows.csv", "w", newline="") as f:
        csv.writer(f).writerows([[f"pixel_{i}" for i in range(64)], *raw.tolist()])
    for source in ("rows.npz", "rows.csv"):
        code, output = predict(
            str(run), str(folder / source), "--out", str(folder / f"{source}.npy")
        )
        assert code == 0 and "(30 rows)" in output, output
        assert np.abs(np.load(folder / f"{source}.npy") - expected).max() <= 1e-6

    metrics = json.loads((run / "metrics.json").read_text())
    names = [f"digit {i}" for i in range(10)]
    (run / "metrics.json").write_text(json.dumps({**metrics, "class_names": names}))
    code, output = predict(str(run), str(folder / "rows.npy"), "--out", str(folder / "p.csv"))
    assert code == 0, output
    rows = rows_of((folder / "p.csv").read_text())
    assert rows[0] == ["input", "class", "probability"]
    assert [row[1] for row in rows[1:]] == [names[i] for i in expected.argmax(1)]
    assert np.allclose([float(row[2]) for row in rows[1:]], expected.max(1), atol=1e-6)
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(30)]


@pytest.mark.tf
@pytest.mark.slow
def test_standardized_inputs_use_the_training_statistics(
    tmp_path_factory: pytest.TempPathFactory, keras_model: Any
) -> None:
    from sklearn.datasets import load_wine

    from speck.backends.emit.runtime.data import fit_standardizer, split

    folder = tmp_path_factory.mktemp("wine")
    data = {"source": "sklearn/wine", "standardize": True, "validation": {"split": 0.25}}
    run = trained(
        folder, classifier("wine", data, [{"Dense": {"units": 3, "activation": "softmax"}}], [13])
    )
    x, y = load_wine(return_X_y=True)
    (train, _), _ = split(x, y, 0.25, np.random.default_rng(1))  # the program's own draw
    mean, std = fit_standardizer(train)
    saved = json.loads((run / "preprocessing.json").read_text())["standardize"]
    assert np.array_equal(np.float32(saved["mean"]), mean)
    assert np.array_equal(np.float32(saved["std"]), std)
    assert not np.allclose(mean, x.mean(0), rtol=1e-3)  # the training split's, not all rows'

    np.save(folder / "rows.npy", x)
    outputs = speck.predict(run, folder / "rows.npy")
    expected = np.asarray(keras_model(run)(((x - mean) / std).astype(np.float32)))
    assert np.abs(outputs["dense"] - expected).max() <= 1e-6


@pytest.mark.tf
@pytest.mark.slow
def test_an_image_folder_is_read_as_the_model_takes_images(
    tmp_path_factory: pytest.TempPathFactory, keras_model: Any
) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("images")
    data = {"source": "sklearn/digits", "reshape": [8, 8, 1], "scale": "1/16"}
    layers = [{"Flatten": {}}, {"Dense": {"units": 10, "activation": "softmax"}}]
    run = trained(folder, classifier("digit-images", data, layers, [8, 8, 1]))
    pixels = (load_digits().images[:4] * 15).astype(np.uint8)
    for i, image in enumerate(pixels):
        (folder / "new" / f"class{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").save(folder / "new" / f"class{i % 2}" / f"{i}.png")
    code, output = predict(str(run), str(folder / "new"), "--out", str(folder / "p.csv"))
    assert code == 0, output
    files = ["class0/0.png", "class0/2.png", "class1/1.png", "class1/3.png"]
    rows = rows_of((folder / "p.csv").read_text())
    assert [row[0] for row in rows[1:]] == files
    images = np.stack([pixels[int(Path(f).stem)] for f in files])[..., None]
    expected = np.asarray(keras_model(run)((images / 16).astype(np.float32)))
    assert [int(row[1]) for row in rows[1:]] == expected.argmax(1).tolist()
    assert np.allclose([float(row[2]) for row in rows[1:]], expected.max(1), atol=1e-6)


def test_several_outputs_need_a_npz_before_tensorflow_loads(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(ROOT / "specs" / "multi_io.yaml", run / "spec.yaml")
    (run / "model.keras").write_bytes(b"not read")
    code, output = predict(str(run), str(tmp_path / "rows.npz"), "--out", str(tmp_path / "p.npy"))
    assert code == 2
    assert "the model has 2 outputs (digit, even); write them to a .npz" in output


@pytest.mark.slow
def test_a_refusal_comes_before_tensorflow_loads(run_dir: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "rows.npy", np.zeros((3, 5)))
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('tensorflow loaded:', 'tensorflow' in sys.modules))\n"
        "from speck.entry import main\n"
        "main()\n"
    )
    args = ["predict", str(run_dir), str(tmp_path / "rows.npy"), "--out", str(tmp_path / "p.npy")]
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert "takes (64,)" in result.stderr
    assert "tensorflow loaded: False" in result.stdout
