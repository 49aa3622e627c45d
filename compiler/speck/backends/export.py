"""`speck export`: a trained run's model in a format for serving, with Keras' own exporters.

    saved_model  a TensorFlow SavedModel folder (`model.export(format="tf_saved_model")`),
                 whose `serve` signature takes the model's inputs
    tflite       a LiteRT (TFLite) flatbuffer, `.tflite` (`model.export(format="litert")`:
                 the SavedModel above through `tf.lite.TFLiteConverter`)
    onnx         an ONNX file (`model.export(format="onnx")`), which needs the `tf2onnx` package

The exported model takes what the Keras model takes: inputs after the run's preprocessing.
Nothing is overwritten without `force`; what is written appears whole or not at all. Imports
TensorFlow, lazily.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

FORMATS = ("saved_model", "tflite", "onnx")
_KERAS_FORMAT = {"saved_model": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}
_SUFFIX = {"tflite": ".tflite", "onnx": ".onnx"}
MODEL_FILE = "model.keras"


class ExportError(Exception):
    """A request export cannot carry out; the message says what to change (exit 2)."""


def check_request(run_dir: Path, fmt: str, out: Path, force: bool = False) -> Path:
    """The run's saved model file, once the request is known to make sense; `ExportError`
    otherwise. Imports nothing heavy, so a mistake is reported before TensorFlow loads."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir} is not a folder: give the run folder `speck train` wrote")
    model_file = run_dir / MODEL_FILE
    if not model_file.is_file():
        raise ExportError(
            f"{run_dir} has no {MODEL_FILE}: export takes a run folder of a finished "
            "`speck train` run (finish it with `speck train SPEC --out DIR --resume`)"
        )
    suffix = _SUFFIX.get(fmt)
    if suffix is not None and out.suffix.lower() != suffix:
        raise ExportError(f"a {fmt} model is a {suffix} file: name --out like {out.stem}{suffix}")
    if out.exists() or out.is_symlink():
        if not force:
            raise ExportError(f"{out} exists; pass --force to overwrite it")
        if fmt == "saved_model" and not out.is_dir():
            raise ExportError(f"{out} is a file; a SavedModel is a folder: choose another --out")
        if fmt != "saved_model" and out.is_dir():
            raise ExportError(f"{out} is a folder; a {fmt} model is a file: choose another --out")
    if fmt == "onnx":
        _check_onnx_converter()
    return model_file


def _check_onnx_converter() -> None:
    missing = [m for m in ("tf2onnx", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ExportError(
            f"ONNX export needs {' and '.join(missing)}, which {verb} not installed: "
            'in the speck checkout, `pip install -e ".[onnx]"` (a tf2onnx that supports the '
            "installed TensorFlow; saved_model and tflite need nothing more)"
        )


def _call_once(model: object, keras: object) -> None:
    """Keras' ONNX exporter takes only a model that has been called; a loaded one has not."""
    inputs = [
        keras.ops.zeros([1 if d is None else d for d in t.shape], dtype=t.dtype)  # type: ignore[attr-defined]
        for t in model.inputs  # type: ignore[attr-defined]
    ]
    model(inputs[0] if len(inputs) == 1 else inputs, training=False)  # type: ignore[operator]


def export_run(run_dir: str | Path, fmt: str, out: str | Path, force: bool = False) -> Path:
    """Export the Keras model of `run_dir` (its `model.keras`) to `out` in format `fmt`;
    returns `out`. `ExportError` for a request that cannot be carried out."""
    run_dir, out = Path(run_dir), Path(out)
    model_file = check_request(run_dir, fmt, out, force)
    from speck.backends.build import keras_module
    from speck.fileio import atomic_folder, atomic_path

    keras = keras_module()
    try:
        model = keras.models.load_model(model_file, compile=False)
    except Exception as exc:  # a damaged file, or a custom layer not importable here
        raise ExportError(f"cannot load {model_file}: {type(exc).__name__}: {exc}") from None
    if fmt == "saved_model":
        with atomic_folder(out, replace=force) as tmp:
            model.export(str(tmp), format=_KERAS_FORMAT[fmt], verbose=False)
    else:
        if fmt == "onnx":
            _call_once(model, keras)
        try:
            with atomic_path(out) as tmp:
                model.export(str(tmp), format=_KERAS_FORMAT[fmt], verbose=False)
        except ImportError as exc:  # the converter library cannot load with this TensorFlow
            raise ExportError(
                f"the {fmt} converter could not load: {exc} (install a tf2onnx that supports "
                "the installed TensorFlow, or export saved_model or tflite)"
            ) from None
    return out
