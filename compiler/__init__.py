"""speck: a declarative model-spec compiler for TensorFlow/Keras.

As a library (`speck.api`, documented there):

    speck.validate(path) -> list of diagnostics       speck.load(path) -> the resolved spec
    speck.build(path) -> compiled keras.Model          speck.emit(path) -> the script's text
    speck.train(path, out=..., overrides=[...]) -> metrics dict
    speck.export(run_dir, format, out) -> the path written (saved_model, tflite or onnx)
    speck.predict(run_dir, input, out=None) -> the model's outputs on new inputs, by name

Invalid input raises `speck.InvalidSpec`, whose `str()` is what the commands print.

The pipeline, one module per stage:

    load      spec file -> raw mapping with source positions        (speck.load)
    validate  raw mapping -> typed spec (pydantic) + diagnostics     (speck.validate, speck.spec)
    resolve   typed spec -> model graph IR + training plan          (speck.resolve, speck.graph,
              (the data section lowered to data steps)                speck.lower)
    check     static shapes and graph/training checks, no TF        (speck.shapes, speck.checks)
    build     graph -> live tf.keras model                          (speck.build)
    emit      IR -> the training program (Jinja2 + runtime helpers)  (speck.emit, speck.runtime)
    train     runs emit's program into a run folder                 (speck.train)
    export    run folder's model -> SavedModel, TFLite or ONNX      (speck.export)
    predict   run folder's model on new inputs, prepared as it was   (speck.predict)

The API's functions share their names with seven of these modules: as attributes of the
package, `speck.build` and its kin are the functions (import the modules by their full name,
`from speck.build import build_model`). Nothing imported by this package's top level pulls in
TensorFlow, and the API itself is imported on first use.
"""

from __future__ import annotations

import sys
from types import ModuleType
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


class _Package(ModuleType):
    """The import system binds each submodule it loads to an attribute of its package; for
    the modules named like an API function (`speck.build`, ...), the function keeps the name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
