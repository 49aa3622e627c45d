"""speck as a library: the commands' behaviour as functions, for notebooks and other tools.

    import speck

    speck.validate("specs/digits_mlp.yaml")          # -> [Diagnostic, ...] (never raises)
    spec = speck.load("specs/digits_mlp.yaml")       # -> the resolved spec (graph + plan)
    model = speck.build("specs/digits_mlp.yaml")     # -> a compiled keras.Model
    text = speck.emit("specs/digits_mlp.yaml")       # -> what `speck emit` writes
    metrics = speck.train("specs/digits_mlp.yaml", out="runs/try", overrides=["fit.epochs=2"])
    speck.export("runs/try", "tflite", "runs/try/model.tflite")   # -> the path written
    outputs = speck.predict("runs/try", "new_rows.npy", out="predictions.csv")

Each function runs the same pipeline as its command (`speck.pipeline`, then `speck.build`,
`speck.emit` or `speck.train`). Input the command rejects with exit status 2 raises
`InvalidSpec`, whose `str()` is the text the command prints and whose `diagnostics` are the
problems; warnings (legacy spellings) go through Python's `warnings` as `SpecWarning`.
Overrides are the `--set` flags of `speck train`: `"key.path=value"` strings, the value YAML.
Nothing here imports TensorFlow until `build` or `train` runs (or `validate(deep=True)`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from speck.backends.export import ExportError
from speck.backends.predict import PredictError
from speck.backends.run.folder import RunFolderError
from speck.diagnostics import Diagnostic, SpecError

if TYPE_CHECKING:
    from speck.front.overrides import Override
    from speck.ir.resolve import ResolvedSpec

__all__ = [
    "ExportError",
    "InvalidSpec",
    "PredictError",
    "RunFolderError",
    "SpecWarning",
    "build",
    "emit",
    "export",
    "load",
    "predict",
    "train",
    "validate",
]

Overrides = Iterable[str] | str


class InvalidSpec(SpecError):
    """The spec (or an override) is invalid: what the commands report with exit status 2.

    `diagnostics` holds every problem (errors and warnings); `str()` is the text the command
    prints, one `file:line:column: error: key.path: message (suggestion)` line each.
    """

    def __init__(
        self,
        diagnostics: Iterable[Diagnostic],
        overrides: Sequence[Override] = (),
        text: str | None = None,
    ) -> None:
        from speck.front.overrides import format_diagnostic

        super().__init__(diagnostics)
        if text is None:
            text = "\n".join(format_diagnostic(d, list(overrides)) for d in self.diagnostics)
        self.args = (text,)


class SpecWarning(UserWarning):
    """A warning about a valid spec (a legacy spelling speck reads, a doubtful setting)."""


def validate(path: str | Path, *, deep: bool = False) -> list[Diagnostic]:
    """Every problem of a spec file (or of the spec files in a folder), as `speck validate`
    finds them; an empty list means valid. `deep=True` also builds the model with Keras."""
    from speck.pipeline import analyze, spec_files

    paths = spec_files([path])
    if not paths:
        raise _invalid(f"no spec files (*.yaml, *.yml, *.json) in {path}")
    analyses = [analyze(p) for p in paths]
    if deep:
        from speck.checks.deep import deep_check

        _keras()
        for a in analyses:
            if a.ok and a.resolved is not None:
                a.diagnostics += deep_check(a.resolved, a.shapes)
    return [d for a in analyses for d in a.diagnostics]


def load(path: str | Path, overrides: Overrides = ()) -> ResolvedSpec:
    """The resolved spec: `.spec` (typed, every default filled in), `.graph` (the model) and
    `.plan` (compile, fit, data). Raises `InvalidSpec` when the spec has errors."""
    return _load(path, overrides)


def _load(path: str | Path, overrides: Overrides) -> ResolvedSpec:
    """`load` for the functions here: a warning points at their caller's line."""
    from speck.pipeline import resolve_file

    parsed = _overrides(overrides)
    try:
        resolved = resolve_file(path, parsed)
    except SpecError as exc:
        raise InvalidSpec(exc.diagnostics, parsed) from None
    from speck.front.overrides import format_diagnostic

    for d in resolved.diagnostics:
        if d.severity != "error":
            warnings.warn(format_diagnostic(d, parsed), SpecWarning, stacklevel=3)
    return resolved


def build(path: str | Path, overrides: Overrides = (), *, allow_custom_layers: bool = False) -> Any:
    """The compiled `keras.Model` of a spec, as `speck build` makes it.

    Custom layers (the spec's `custom_layers`) are imported, which runs their code, only with
    `allow_custom_layers=True`; otherwise such a spec raises `InvalidSpec`."""
    resolved = _load(path, overrides)
    check_custom_layers(resolved, allow_custom_layers)
    _keras()
    from speck.backends.build import CustomLayerError, build_model, compile_model

    try:
        model = build_model(resolved.graph, allow_custom_layers=allow_custom_layers)
    except CustomLayerError as exc:
        raise custom_layer_failed(resolved, exc) from None
    compile_model(model, resolved.plan)
    return model


def emit(
    path: str | Path, out: str | Path | None = None, *, allow_custom_layers: bool = False
) -> str:
    """The script `speck emit` writes for a spec, as text; nothing is written: the training
    program, or for a spec with search spaces the KerasTuner script that searches them.

    `out` is where the script is meant to go (default `generated/<spec stem>.py`, `"-"` for
    standard output): relative data paths in the script start from its folder."""
    from speck.backends.emit.program import script_for, target_of

    target = target_of(path, None if out is None else str(out))
    searched = _search_script(path, target)
    if searched is not None:
        return searched
    resolved = _load(path, ())
    check_custom_layers(resolved, allow_custom_layers, "emit")
    return script_for(resolved, path, target, allow_custom_layers)


def _search_script(path: str | Path, target: Path | None) -> str | None:
    """The KerasTuner script of a spec with search spaces, None for a spec without."""
    from speck.backends.emit.tuner import search_script_for

    try:
        found = search_script_for(path, Path.cwd() if target is None else target.parent)
    except SpecError as exc:
        raise InvalidSpec(exc.diagnostics) from None
    return None if found is None else found[0]


def train(
    path: str | Path,
    out: str | Path | None = None,
    overrides: Overrides = (),
    *,
    force: bool = False,
    resume: bool = False,
    allow_custom_layers: bool = False,
) -> dict[str, Any]:
    """Train a spec into its run folder (`out`, default `runs/<spec name>/`) as `speck train`
    does, and return its metrics (what `metrics.json` holds).

    A folder that already holds a run needs `force=True` (start over) or `resume=True`
    (continue an interrupted run); otherwise `RunFolderError` is raised before
    anything is written. A spec without `data:` or `compile:` raises `InvalidSpec`."""
    from speck.backends.run.train import DataError, NotTrainable, preflight, train_spec

    resolved = _load(path, overrides)
    check_custom_layers(resolved, allow_custom_layers)
    try:
        out_dir = preflight(resolved, out, force=force, resume=resume)
    except RunFolderError as exc:
        raise _in_python_words(exc) from None
    except NotTrainable as exc:
        raise _invalid(str(exc)) from None
    except SpecError as exc:
        raise InvalidSpec(exc.diagnostics) from None
    _keras()
    from speck.backends.build import CustomLayerError, import_custom_layers

    try:
        if allow_custom_layers:  # before the run folder is touched
            import_custom_layers(resolved.graph.custom_layers)
        result = train_spec(
            resolved, out_dir, force=force, resume=resume, allow_custom_layers=allow_custom_layers
        )
    except RunFolderError as exc:
        raise _in_python_words(exc) from None
    except CustomLayerError as exc:
        raise custom_layer_failed(resolved, exc) from None
    except DataError as exc:
        raise InvalidSpec([Diagnostic(str(exc), ("data", "source"), exc.location)]) from None
    return result.metrics


def export(run_dir: str | Path, format: str, out: str | Path, *, force: bool = False) -> Path:
    """Export a finished run's model (`run_dir/model.keras`) as `speck export` does: `format`
    is `"saved_model"` (a folder), `"tflite"` (a `.tflite` file) or `"onnx"` (a `.onnx` file,
    with `tf2onnx` installed). Returns `out`. A request that cannot be carried out (no
    `model.keras`, `out` exists without `force=True`, no ONNX converter) raises `ExportError`
    before TensorFlow is imported."""
    from speck.backends.export import export_run

    try:
        return export_run(run_dir, format, out, force=force)
    except ExportError as exc:
        raise _in_python_words(exc) from None


def predict(
    run_dir: str | Path, input: str | Path, out: str | Path | None = None, *, force: bool = False
) -> dict[str, Any]:
    """The model of a finished run (`run_dir/model.keras`) on new inputs, as `speck predict`
    runs it: `input` is a .npy, .npz or .csv file or a folder of images, prepared with the
    run's own steps (reshape, scale, standardize with the training statistics). Returns the
    raw outputs by output name; `out` (.npy, .npz or .csv) also writes them, never over an
    existing file without `force=True`. Raises `PredictError` for a request that cannot be
    carried out (no model.keras, inputs of the wrong shape, an unknown suffix)."""
    from speck.backends.predict import predict_run

    try:
        return predict_run(run_dir, input, out, force=force)
    except PredictError as exc:
        raise _in_python_words(exc) from None


_FLAGS = {"--force": "force=True", "--resume": "resume=True", "--out": "out="}
E = TypeVar("E", bound=Exception)


def _in_python_words(exc: E) -> E:
    """The commands' messages name their flags (`pass --force to overwrite it`); from Python
    the same advice names the keyword arguments (`pass force=True ...`)."""
    exc.args = tuple(
        re.sub(r"--(force|resume|out)\b", lambda m: _FLAGS[m.group(0)], a)
        if isinstance(a, str)
        else a
        for a in exc.args
    )
    return exc


# --- shared with the commands ----------------------------------------------------------------


def check_custom_layers(resolved: ResolvedSpec, allowed: bool, what: str = "build") -> None:
    """Raise `InvalidSpec` at the spec's `custom_layers` line unless the model uses no custom
    layers or the caller allowed importing them."""
    from speck.backends.build import not_allowed

    custom = resolved.graph.custom_layers
    if not custom or allowed:
        return
    where = resolved.validated.source.locate(("custom_layers",))
    message = str(not_allowed(custom))
    if what == "emit":
        message += " (the script imports them)"
    raise InvalidSpec([Diagnostic(message, ("custom_layers",), where)])


def custom_layer_failed(resolved: ResolvedSpec, exc: Exception) -> InvalidSpec:
    """A custom layer could not be imported or is not a Keras layer: where the spec names it."""
    name = getattr(exc, "name", None)
    path = ("custom_layers", name) if name else ("custom_layers",)
    where = resolved.validated.source.locate(path)
    return InvalidSpec([Diagnostic(str(exc), path, where)])


def _invalid(message: str) -> InvalidSpec:
    """A problem that has no place in the spec file: printed as `error: message`."""
    return InvalidSpec([Diagnostic(message)], text=f"error: {message}")


def _overrides(overrides: Overrides) -> list[Override]:
    from speck.front.overrides import OverrideError, parse_override

    flags = [overrides] if isinstance(overrides, str) else list(overrides)
    try:
        return [parse_override(flag) for flag in flags]
    except OverrideError as exc:
        raise InvalidSpec(
            [Diagnostic(exc.message, _path_of(exc.flag))], text=f"error: {exc}"
        ) from None


def _path_of(flag: str) -> tuple[str | int, ...]:
    from speck.front.overrides import parse_path

    try:
        return parse_path(flag.partition("=")[0])
    except ValueError:
        return ()


def _keras() -> None:
    """Import TensorFlow/Keras or raise `speck.backends.build.MissingTensorFlow` saying how to
    install."""
    from speck.backends.build import keras_module

    keras_module()
