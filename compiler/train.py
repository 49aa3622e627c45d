"""Back end 3, train: a resolved spec -> the program `speck emit` prints -> a filled run folder.

`speck train` runs the very program the emitter writes: it renders the script's text, compiles
it under a file name registered with `linecache` (so tracebacks show its real lines), executes
it as a module and calls its `run`. There is no second training path to drift from the script.
Around it, this module owns the run folder's rules (`runs/<spec name>/` by default, a finished
run is never overwritten without `force`, an interrupted one is continued with `resume`, the
resolved spec with every default filled in is kept as `spec.yaml`) and maps a failure while
loading data, or data of a shape the model cannot take, to the spec's `data.source` line.
TensorFlow is imported only when training starts.
"""

from __future__ import annotations

import linecache
import shutil
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from speck.graph import KerasObject, Location, TrainingPlan
from speck.legacy import CHECKPOINT_EVERY

PATH_ARGS = ("log_dir", "filepath", "filename", "backup_dir")
"""Callback arguments that name a file or folder; relative ones go under the run folder."""

SPEC_FILE = "spec.yaml"
BACKUP_DIR = "backup"
FINISHED_MARKERS = ("metrics.json", "model.keras")
"""Files whose presence means a run folder holds a finished (or saved) run."""
RUN_ARTIFACTS = (
    SPEC_FILE,
    "model.keras",
    "history.csv",
    "metrics.json",
    "history.png",
    "reconstructions.png",
    "confusion_matrix.png",
)
"""What `--force` removes from an old run folder before training again (logs and checkpoints
stay; the new run's callbacks write over them)."""


class RunFolderError(RuntimeError):
    """The run folder cannot be used as asked; the message says what to do instead."""


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


def callback_args(obj: KerasObject, out_dir: Path, steps_per_epoch: int) -> dict[str, Any]:
    """A callback's arguments for Keras: relative paths under `out_dir`, and speck's
    `every_epochs: N` on ModelCheckpoint as `save_freq=N * steps_per_epoch`."""
    args = dict(obj.args)
    for key in PATH_ARGS:
        value = args.get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            args[key] = str(out_dir / value)
    if obj.class_name == "ModelCheckpoint" and CHECKPOINT_EVERY in args:
        args["save_freq"] = int(args.pop(CHECKPOINT_EVERY)) * steps_per_epoch
    return args


def spec_text(resolved: Any) -> str:
    """The resolved spec with every default filled in, as YAML (`spec.yaml`)."""
    from speck import spec_text as text

    header = [f"{resolved.spec.name}: the spec this run trained, every default filled in."]
    return text.spec_text(resolved.spec.dump(), header)


def backup_dir_for(plan: TrainingPlan, out_dir: Path) -> Path:
    """Where the run keeps its resumable state: the spec's own BackupAndRestore folder (under
    the run folder if relative), else `out_dir/backup`."""
    for cb in plan.callbacks:
        if cb.class_name == "BackupAndRestore" and isinstance(cb.args.get("backup_dir"), str):
            return Path(callback_args(cb, out_dir, 1)["backup_dir"])
    return out_dir / BACKUP_DIR


def check_run_dir(
    out_dir: Path, text: str, *, force: bool, resume: bool, backup: Path | None = None
) -> None:
    """Raise `RunFolderError` unless `out_dir` may be used as asked; changes nothing.

    A folder with a finished run (`metrics.json` or `model.keras`) needs `force`; one with an
    interrupted run (a backup) needs `resume` or `force`; `resume` needs the same spec as the
    run it continues (`text`, the new `spec.yaml`), except for the number of epochs.
    `backup` is where an interrupted run keeps its state (default `out_dir/backup`).
    """
    if force and resume:
        raise RunFolderError("--force starts over and --resume continues; pass one of them")
    finished = [m for m in FINISHED_MARKERS if (out_dir / m).exists()]
    backup = backup if backup is not None else out_dir / BACKUP_DIR
    interrupted = backup.exists()
    if resume:
        if finished and not interrupted:
            raise RunFolderError(
                f"{out_dir} holds a finished run ({finished[0]}); there is nothing to resume "
                "(pass --force to train it again)"
            )
        old = out_dir / SPEC_FILE
        if old.exists() and _without_epochs(old.read_text()) != _without_epochs(text):
            raise RunFolderError(
                f"the spec differs from the one the run in {out_dir} started with "
                f"({old}); resume it with that spec, or pass --force to start over"
            )
    elif force:
        return
    elif finished:
        raise RunFolderError(
            f"{out_dir} already holds a run ({finished[0]}); pass --force to overwrite it, "
            "or --out to train into another folder"
        )
    elif interrupted:
        raise RunFolderError(
            f"{out_dir} holds an interrupted run; pass --resume to continue it "
            "or --force to start over"
        )


def prepare_run_dir(
    out_dir: Path, text: str, *, force: bool, resume: bool, backup: Path | None = None
) -> None:
    """Check the folder (`check_run_dir`), clear an old run's files for `force`, and write
    `spec.yaml` (the resolved spec `text`)."""
    from speck.runtime.files import write_text_atomically

    check_run_dir(out_dir, text, force=force, resume=resume, backup=backup)
    if force:
        for name in RUN_ARTIFACTS:
            (out_dir / name).unlink(missing_ok=True)
        shutil.rmtree(backup if backup is not None else out_dir / BACKUP_DIR, ignore_errors=True)
    write_text_atomically(out_dir / SPEC_FILE, text)


def _without_epochs(text: str) -> Any:
    data = yaml.safe_load(text) or {}
    if isinstance(data.get("fit"), dict):
        data["fit"].pop("epochs", None)
    return data


def check_trainable(resolved: Any) -> None:
    """Raise `NotTrainable` unless the spec has a `data:` and a `compile:` section."""
    if resolved.plan.data is None:
        raise NotTrainable(
            f"{resolved.file}: the spec has no data: section, so there is nothing to train on "
            "(add one, e.g. data: {source: sklearn/digits})"
        )
    if not resolved.plan.compiled:
        raise NotTrainable(f"{resolved.file}: the spec has no compile: section (a loss to train)")


def load_program(resolved: Any, allow_custom_layers: bool = False) -> types.ModuleType:
    """The spec's program, as `speck emit` writes it, executed as a module (not as `__main__`).

    Its source is registered with `linecache` under the name it would have beside the spec, so
    tracebacks through it show its lines; relative data paths start at the spec's folder."""
    from speck.emit import emit_script

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

    from speck.runtime.data import KERAS_FILES

    if dataset not in KERAS_FILES:
        return ""
    home = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    path = os.path.join(home, "datasets", KERAS_FILES[dataset])
    return f" (without network, put the dataset at {path}; KERAS_HOME sets another cache folder)"


def attribute_data_errors(
    program: types.ModuleType, location: Location | None, hint_for: str | None = None
) -> None:
    """Make the program's `load_data` raise `DataError` at the spec's source, and check the arrays
    it gives against the model's inputs before `fit` sees them (`build_model` runs after it)."""
    load_data, build_model = program.load_data, program.build_model
    loaded: dict[str, Any] = {}

    def checked_load() -> Any:
        try:
            loaded["splits"] = load_data()
        except Exception as exc:
            message = f"loading the data failed: {type(exc).__name__}: {exc}"
            raise DataError(message + keras_cache_hint(hint_for), location) from exc
        return loaded["splits"]

    def checked_build() -> Any:
        model = build_model()
        if "splits" in loaded:
            check_input_shapes(model, loaded["splits"][0][0], location)
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

    Raises `RunFolderError` (the folder cannot be used), `NotTrainable` (no `data:` or
    `compile:` section) or `speck.build.CustomLayersNotAllowed` (the model uses custom layers
    and `allow_custom_layers` is false) before anything is written, and `DataError` when the
    data cannot be loaded or does not fit the model.
    """
    if resolved.graph.custom_layers and not allow_custom_layers:
        from speck.build import not_allowed

        raise not_allowed(resolved.graph.custom_layers)
    check_trainable(resolved)
    out_dir = run_dir_for(resolved, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = resolved.plan
    backup = backup_dir_for(plan, out_dir)
    prepare_run_dir(out_dir, spec_text(resolved), force=force, resume=resume, backup=backup)
    program = load_program(resolved, allow_custom_layers)
    load = plan.data.steps[0]
    keras_name = load.args["name"] if load.op == "keras" else None
    attribute_data_errors(program, plan.data.location, keras_name)
    metrics = program.run(out_dir, resume=resume)
    return RunResult(out_dir, metrics)


def summary_lines(result: RunResult) -> list[str]:
    """A short report of a finished run: final metrics per split and where the files are."""
    metrics = result.metrics
    lines = [
        f"trained {metrics['name']}: {metrics['epochs']} epochs in {metrics['wall_time_s']:.1f} s"
    ]
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
