"""Back end 3, train: a resolved spec -> the program `speck emit` prints -> a filled run folder.

`speck train` runs the very program the emitter writes: it renders the script's text, compiles it
under a file name registered with `linecache` (so tracebacks show its real lines), executes it as a
module and calls its `run`. There is no second training path to drift from the script. Around it,
`speck.backends.run.folder` applies the run folder's rules (`runs/<spec name>/` by default, a
finished run is never overwritten without `force`, an interrupted one is continued with `resume`,
speck deletes only what it created, one run at a time) and keeps the resolved spec with every
default filled in as `spec.yaml`; this module maps a failure while loading data, or data of a shape
the model cannot take, to the spec's `data.source` line. TensorFlow is imported only when training
starts.
"""

from __future__ import annotations

import linecache
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speck.backends.run import cluster
from speck.backends.run.folder import (
    check_callback_paths,
    check_run_folder,
    make_folder,
    open_run_folder,
    plan_run_folder,
)
from speck.diagnostics import Location


class DataError(ValueError):
    """Loading the spec's data failed, or gave arrays the model cannot take; `location` is
    where the spec names its source."""

    def __init__(self, message: str, location: Location | None) -> None:
        super().__init__(message)
        self.location = location


class NotTrainable(ValueError):
    """The spec lacks what training needs (a `data:` or `compile:` section)."""


@dataclass(frozen=True)
class RunResult:
    out_dir: Path
    metrics: dict[str, Any]


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    """`runs/<spec name>/`."""
    return Path(root) / name


def run_dir_for(resolved: Any, out_dir: str | Path | None = None) -> Path:
    """`out_dir` if given, else `runs/<spec name>/`."""
    return Path(out_dir) if out_dir is not None else default_run_dir(resolved.spec.name)


def spec_text(resolved: Any) -> str:
    """The resolved spec with every default filled in, as YAML (`spec.yaml`)."""
    from speck.front import write as text

    header = [f"{resolved.spec.name}: the spec this run trained, every default filled in."]
    return text.spec_text(resolved.spec.dump(), header)


def check_trainable(resolved: Any) -> None:
    """Raise `NotTrainable` unless the spec has a `data:` and a `compile:` section."""
    if resolved.plan.data is None:
        raise NotTrainable(
            f"{resolved.file}: the spec has no data: section, so there is nothing to train on "
            "(add one, e.g. data: {source: sklearn/digits})"
        )
    if not resolved.plan.compiled:
        raise NotTrainable(f"{resolved.file}: the spec has no compile: section (a loss to train)")


def check_data(resolved: Any) -> None:
    """Raise `SpecError` at the `data.source` line for data files that cannot be read safely
    (`speck.checks.data`); reads only what it needs, imports no TensorFlow."""
    from speck.checks.data import check_data_files
    from speck.diagnostics import SpecError

    problems = check_data_files(resolved)
    if problems:
        raise SpecError(problems)


def preflight(
    resolved: Any, out_dir: str | Path | None, *, force: bool, resume: bool, chief: bool = True
) -> Path:
    """Everything that can be refused before TensorFlow is imported, in the order a user would
    fix it; returns the run folder, made and writable. Raises `NotTrainable`, `SpecError`
    (callback paths outside the run folder, data files that cannot be read safely, at their
    lines), `BadOutputLocation` or `RunFolderError`. A cluster's other workers (`chief` false)
    leave the run folder to the chief."""
    check_trainable(resolved)
    run_dir = run_dir_for(resolved, out_dir)
    check_callback_paths(resolved, run_dir)
    from speck.backends.build import require_numpy

    require_numpy()  # the data checks read arrays
    check_data(resolved)
    if chief:
        folder = plan_run_folder(resolved.plan, run_dir)
        check_run_folder(folder, spec_text(resolved), force=force, resume=resume)
        make_folder(run_dir)
    return run_dir


def load_program(resolved: Any, allow_custom_layers: bool = False) -> types.ModuleType:
    """The spec's program, as `speck emit` writes it, executed as a module (not as `__main__`).

    Its source is registered with `linecache` under the name it would have beside the spec, so
    tracebacks through it show its lines; relative data paths start at the spec's folder."""
    from speck.backends.emit.program import emit_script

    spec_file = Path(resolved.file)
    text = emit_script(resolved, str(spec_file), spec_file.parent, allow_custom_layers)
    filename = str(spec_file.parent / f"{spec_file.stem}.speck-program.py")
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    module = types.ModuleType(f"speck_program_{resolved.plan.name}")
    module.__file__ = filename
    exec(compile(text, filename, "exec"), module.__dict__)
    return module


def keras_cache_hint(dataset: str | None) -> str:
    """Where a Keras dataset's files go on a machine without network ('' if not one)."""
    import os

    from speck.front.format.data import KERAS_CACHE_FILES

    if dataset not in KERAS_CACHE_FILES:
        return ""
    home = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    path = os.path.join(home, "datasets", KERAS_CACHE_FILES[dataset])
    return f" (without network, put the dataset at {path}; KERAS_HOME sets another cache folder)"


def attribute_data_errors(
    program: types.ModuleType, location: Location | None, hint_for: str | None = None
) -> None:
    """Make the program's `load_data` raise `DataError` at the spec's source, and check the arrays
    it gives against the model's inputs before `fit` sees them (`build_model` runs after it)."""
    load_data, build_model = program.load_data, program.build_model
    loaded: dict[str, Any] = {}

    def checked_load(*args: Any) -> Any:
        try:
            loaded["splits"] = load_data(*args)
        except Exception as exc:
            message = f"loading the data failed: {type(exc).__name__}: {exc}"
            raise DataError(message + keras_cache_hint(hint_for), location) from exc
        return loaded["splits"]

    def checked_build(*args: Any) -> Any:
        model = build_model(*args)
        if "splits" in loaded:  # `(x, y), ...` by split, or one split's `(x, y)` alone
            splits = loaded["splits"]
            train = splits[0] if isinstance(splits[0], tuple) else splits
            check_input_shapes(model, train[0], location)
        return model

    program.load_data, program.build_model = checked_load, checked_build


def check_input_shapes(model: Any, x: Any, location: Location | None) -> None:
    """Raise `DataError` unless every input array has the shape its model input takes."""
    arrays = (
        x if isinstance(x, dict) else {model.inputs[0].name: x} if len(model.inputs) == 1 else {}
    )
    by_name = {tensor.name: tensor for tensor in model.inputs}
    for name, array in arrays.items():
        tensor = by_name.get(name, model.inputs[0] if len(model.inputs) == 1 else None)
        if tensor is None:
            continue
        wanted = tuple(tensor.shape[1:])
        shape = tuple(getattr(array, "shape", ())[1:])
        if len(shape) + 1 == len(wanted) and wanted[-1] == 1:  # Keras adds the last axis
            shape = (*shape, 1)
        fits = len(wanted) == len(shape) and all(
            w in (None, s) for w, s in zip(wanted, shape, strict=False)
        )
        if not fits:
            shown = "(None, " + ", ".join(map(str, wanted)) + ")"
            raise DataError(
                f"the data's examples have shape {tuple(getattr(array, 'shape', ()))}, but the "
                f"model's input {name!r} takes {shown}",
                location,
            )


def train_spec(
    resolved: Any,
    out_dir: Path | None = None,
    *,
    force: bool = False,
    resume: bool = False,
    allow_custom_layers: bool = False,
) -> RunResult:
    """Train a resolved spec into its run folder by running its program; returns the folder and
    the final metrics.

    Raises `RunFolderError` (the folder cannot be used; `speck.backends.run.folder` has the rules),
    `SpecError` (a callback path outside the run folder), `NotTrainable` (no `data:` or `compile:`
    section) or `speck.backends.build.CustomLayersNotAllowed` (the model uses custom layers and
    `allow_custom_layers` is false) before anything is written, and `DataError` when the data cannot
    be loaded or does not fit the model.
    """
    if resolved.graph.custom_layers and not allow_custom_layers:
        from speck.backends.build import not_allowed

        raise not_allowed(resolved.graph.custom_layers)
    check_trainable(resolved)
    out_dir = run_dir_for(resolved, out_dir)
    plan = resolved.plan
    check_callback_paths(resolved, out_dir)
    folder = plan_run_folder(plan, out_dir)
    program = load_program(resolved, allow_custom_layers)
    load = plan.data.steps[0]
    keras_name = load.args["name"] if load.op == "keras" else None
    attribute_data_errors(program, plan.data.location, keras_name)
    if not cluster.role().chief:  # a cluster's other workers write only to folders of their own
        return RunResult(out_dir, program.run(out_dir, resume=resume))
    with open_run_folder(folder, spec_text(resolved), force=force, resume=resume):
        metrics = program.run(out_dir, resume=resume)
    return RunResult(out_dir, metrics)


def summary_lines(result: RunResult) -> list[str]:
    """A short report of a finished run: final metrics per split and where the files are."""
    metrics = result.metrics
    epochs, resumed = metrics["epochs"], metrics.get("resumed_from_epoch")
    if resumed is None:
        done = f"{epochs} epoch{'s' * (epochs != 1)}"
    else:  # only the epochs this run trained took its time
        more = epochs - resumed
        done = (
            f"{more} more epoch{'s' * (more != 1)} ({epochs} in all, resumed after epoch {resumed})"
        )
    lines = [f"trained {metrics['name']}: {done} in {metrics['wall_time_s']:.1f} s"]
    if metrics.get("samples_per_second"):
        lines[0] += f" ({metrics['samples_per_second']:,.0f} samples/s)"
    for split, values in metrics["final"].items():
        if split == metrics.get("validated_on") == "test":
            split = "test (validation)"
        shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
        lines.append(f"  {split:<10} {shown}")
    lines.append(f"run folder: {result.out_dir}/")
    files = {"model": "model.keras", "history": "history.csv", "metrics": "metrics.json"}
    for role, name in {**files, **metrics.get("files", {})}.items():
        lines.append(f"  {role:<12} {name}")
    if metrics["plots"]:
        lines.append(f"  {'plots':<12} {', '.join(metrics['plots'].values())}")
    return lines
