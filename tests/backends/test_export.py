"""`speck export`: a trained run's model as a SavedModel, a TFLite file or ONNX, computing what
the Keras model computes; requests that cannot work are refused before TensorFlow loads."""

from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import speck
from speck.backends.export import ExportError, check_request
from speck.cli import app


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A folder shaped like a finished run (its model file's content is not read here)."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"not read before the checks pass")
    return folder


def export(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["export", *args])
    return result.exit_code, result.output


def test_a_folder_without_model_keras_is_refused(tmp_path: Path) -> None:
    code, output = export(str(tmp_path), "--out", str(tmp_path / "m"))
    assert code == 2
    assert f"error: {tmp_path} has no model.keras" in output
    assert "speck train SPEC --out DIR --resume" in output
    code, output = export(str(tmp_path / "nope"), "--out", str(tmp_path / "m"))
    assert code == 2 and "is not a folder" in output


def test_nothing_is_overwritten_without_force(run_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "model.tflite"
    target.write_bytes(b"keep me")
    code, output = export(str(run_dir), "--format", "tflite", "--out", str(target))
    assert code == 2 and f"{target} exists; pass --force to overwrite it" in output
    assert target.read_bytes() == b"keep me"
    with pytest.raises(ExportError, match="exists; pass force=True"):  # in Python's words
        speck.export(run_dir, "tflite", target)


@pytest.mark.parametrize(
    ("fmt", "out", "message"),
    [
        ("tflite", "model.lite", "a tflite model is a .tflite file: name --out like model.tflite"),
        ("onnx", "model.pb", "a onnx model is a .onnx file"),
        ("keras", "m", "unknown format 'keras': choose one of saved_model, tflite, onnx"),
    ],
)
def test_a_request_that_cannot_work_is_refused(
    run_dir: Path, tmp_path: Path, fmt: str, out: str, message: str
) -> None:
    code, output = export(str(run_dir), "--format", fmt, "--out", str(tmp_path / out))
    assert code == 2 and message in output, output


def test_a_saved_model_does_not_replace_a_file_even_with_force(
    run_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="is a file; a SavedModel is a folder"):
        check_request(run_dir, "saved_model", tmp_path / "file", force=True)


def test_onnx_without_its_converter_names_what_to_install(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    blocked = {"tf2onnx", "onnx"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in blocked else real(name, *a)
    )
    code, output = export(str(run_dir), "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert code == 2
    assert "ONNX export needs tf2onnx and onnx, which are not installed" in output
    assert 'pip install -e ".[onnx]"' in output


@pytest.fixture(scope="module")
def trained(digits_run: Path) -> tuple[Path, Any, Any]:
    """The shared run of the digits spec (one epoch), real rows it was trained on, and the Keras
    model's outputs for them."""
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_digits

    run = digits_run
    rows = (load_digits().data[:50] / 16).astype("float32")  # the spec's `scale: 1/16`
    keras_model = tf.keras.models.load_model(run / "model.keras", compile=False)
    expected = np.asarray(keras_model(rows, training=False))
    assert expected.shape == (50, 10)
    assert len(set(expected.argmax(1).tolist())) > 1  # a trained model, not a constant one
    return run, rows, expected


@pytest.mark.tf
@pytest.mark.slow
def test_saved_model_and_tflite_compute_what_the_keras_model_computes(
    trained: tuple[Path, Any, Any], tmp_path: Path
) -> None:
    import numpy as np
    import tensorflow as tf

    run, rows, expected = trained
    old = os.umask(0o022)
    try:
        saved = speck.export(run, "saved_model", tmp_path / "saved")
        lite = speck.export(run, "tflite", tmp_path / "digits.tflite")
    finally:
        os.umask(old)
    assert stat.S_IMODE(lite.stat().st_mode) == 0o644
    assert stat.S_IMODE(saved.stat().st_mode) == 0o755

    loaded = tf.saved_model.load(str(saved))  # held: its variables live as long as it does
    served = np.asarray(loaded.serve(tf.constant(rows)))

    interpreter = tf.lite.Interpreter(model_path=str(lite))
    (inp,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(inp["index"], rows.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], rows)
    interpreter.invoke()
    (out,) = interpreter.get_output_details()
    lite_out = interpreter.get_tensor(out["index"])

    assert served.shape == lite_out.shape == expected.shape
    assert np.abs(served - expected).max() <= 1e-5
    assert np.abs(lite_out - expected).max() <= 1e-5

    with pytest.raises(ExportError, match="exists"):
        speck.export(run, "saved_model", saved)
    again = speck.export(run, "saved_model", saved, force=True)
    assert (again / "saved_model.pb").is_file()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


@pytest.mark.tf
@pytest.mark.slow
def test_onnx_computes_what_the_keras_model_computes(
    trained: tuple[Path, Any, Any], tmp_path: Path
) -> None:
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    run, rows, expected = trained
    code, output = export(str(run), "--format", "onnx", "--out", str(tmp_path / "digits.onnx"))
    assert code == 0, output
    session = ort.InferenceSession(str(tmp_path / "digits.onnx"))
    (inp,) = session.get_inputs()
    (got,) = session.run(None, {inp.name: rows})
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5
