"""speck: a declarative model-spec compiler for TensorFlow/Keras.

As a library (`speck.api`, documented there):

    speck.validate(path) -> list of diagnostics       speck.load(path) -> the resolved spec
    speck.build(path) -> compiled keras.Model          speck.emit(path) -> the script's text
    speck.train(path, out=..., overrides=[...]) -> metrics dict
    speck.export(run_dir, format, out) -> the path written (saved_model, tflite or onnx)
    speck.predict(run_dir, input, out=None) -> the model's outputs on new inputs, by name

Invalid input raises `speck.InvalidSpec`, whose `str()` is what the commands print.

The pipeline, one folder per stage (`compiler/speck/<stage>/`):

    spec file
      | front/      load (YAML/JSON + positions) -> legacy -> overrides -> validate (format/)
      v             -> a typed spec; write: a spec back to YAML
    typed spec
      | ir/         resolve -> graph (ModelGraph + TrainingPlan); lower: data: -> data steps
      v
    the IR ------- checks/      static shapes (shapes/, by Keras family), training, data files
      |
      +--> backends/build       a live keras.Model
      +--> backends/emit/       the training program (program, data, render, templates/,
      |                         runtime/), and the KerasTuner script (tuner)
      +--> backends/run/        `speck train`: runs emit's program into its run folder
      +--> backends/tune, export, predict
    importers/keras: a .keras file -> a spec;  catalog/: what Keras can be asked for

`pipeline` chains front, ir and checks for the commands (`cli`, `entry`) and the API (`api`),
and `search` checks each corner of a spec's `{tune: ...}` spaces through it; `diagnostics` is
how every stage reports a problem at its line, `devices` what this machine computes fast.
Nothing imported by this package's top level pulls in TensorFlow, and the API itself is
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from speck.api import (
        ExportError,
        InvalidSpec,
        PredictError,
        RunFolderError,
        SpecWarning,
        build,
        emit,
        export,
        load,
        predict,
        train,
        validate,
    )

__all__ = [
    "ExportError",
    "InvalidSpec",
    "PredictError",
    "RunFolderError",
    "SpecWarning",
    "__version__",
    "build",
    "emit",
    "export",
    "load",
    "predict",
    "train",
    "validate",
]

_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from speck import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'speck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
