"""Back end 4, tune: a spec's search spaces searched with KerasTuner, into a run folder.

Each trial trains the way `speck train` does: the data comes from the spec's own program (the
one `speck emit` prints; its `load_data` runs once, its `make_dataset` makes every trial's
datasets), and the trial's model is the candidate spec (every space replaced by the trial's
values) validated and resolved by the pipeline, then built and compiled by `speck.build`.
The spec's callbacks that write no files (EarlyStopping, TerminateOnNaN, ...) take part in
every trial; those that write files (TensorBoard, ModelCheckpoint, CSVLogger, BackupAndRestore)
are left to `speck train` of the winner.

The run folder follows `speck.backends.run.folder`'s rules and holds `search/` (KerasTuner's state,
which `resume` continues), `trials.csv`, `trials.png`, `best.yaml` (the spec's own text with the
winning values in place of the spaces) and `best.keras` (the best trial's model at its best epoch).
KerasTuner's distributed mode (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`,
`KERASTUNER_ORACLE_PORT`) works as KerasTuner has it: the chief keeps the oracle and writes the
results; each worker runs trials into the chief's run folder, which must exist already. TensorFlow
and KerasTuner are imported only here, only when a search runs.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speck.backends.run.folder import LOCK, MARKER, SPEC_FILE, RunFolder, RunFolderError
from speck.backends.run.train import attribute_data_errors, check_trainable, load_program
from speck.diagnostics import Diagnostic, SpecError
from speck.search import Search, Space, best_text, default_objective, describe

SEARCH_DIR = "search"
TRIALS_CSV = "trials.csv"
TRIALS_PNG = "trials.png"
BEST_MODEL = "best.keras"
FILE_CALLBACKS = frozenset({"TensorBoard", "ModelCheckpoint", "CSVLogger", "BackupAndRestore"})
"""Callbacks that write files: trials leave them out (the winner's `speck train` has them)."""
TUNERS = ("random", "bayesian", "hyperband")


class TuneError(ValueError):
    """The search cannot run as asked (the message says why)."""


@dataclass
class TuneResult:
    out_dir: Path
    role: str
    objective: str
    direction: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    best_score: float | None = None
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)


def role() -> str:
    """`alone`, or KerasTuner's distributed role from its environment: `chief` or `worker`."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "alone"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def best_name(search: Search) -> str:
    return "best" + (Path(search.loaded.file).suffix or ".yaml")


def run_folder(search: Search, out_dir: Path) -> RunFolder:
    outputs = [SPEC_FILE, TRIALS_CSV, TRIALS_PNG, best_name(search), BEST_MODEL, SEARCH_DIR]
    return RunFolder(out_dir, SEARCH_DIR, [*outputs, LOCK, MARKER])


def search_text(search: Search) -> str:
    """What the run folder keeps as `spec.yaml`: the searched spec, spaces and overrides in."""
    from speck.front import write as spec_text

    header = [f"{search.loaded.file}: the spec this search searched (with --set applied)."]
    return spec_text.spec_text(search.loaded.data, header)


def objective_of(search: Search, resolved: Any) -> tuple[str, str]:
    """The objective's name and direction (`min`/`max`); `SpecError` at `tune.objective`
    when the direction cannot be told from the name."""
    from keras_tuner.src.engine.metrics_tracking import infer_metric_direction

    settings = resolved.spec.tune
    name = (settings.objective if settings else None) or default_objective(resolved)
    direction = settings.direction if settings else None
    if direction is None:
        direction = infer_metric_direction(name)
    if direction is None:
        where = search.loaded.source.locate(("tune", "objective"))
        message = f"cannot tell whether {name!r} is better low or high"
        raise SpecError([Diagnostic(message, ("tune", "objective"), where, "add direction: max")])
    return name, direction


def declare(hp: Any, space: Space) -> Any:
    """The space as KerasTuner's hyperparameter, named after its spec path; its value."""
    if space.kind == "choice":
        return hp.Choice(space.name, list(space.values))
    if space.kind == "boolean":
        return hp.Boolean(space.name)
    if space.kind == "optional":
        return hp.Boolean(space.name, default=True)
    low, high = space.values
    if space.kind == "int":
        return hp.Int(space.name, low, high, step=space.step, sampling=space.sampling)
    return hp.Float(space.name, low, high, step=space.step, sampling=space.sampling)


class Candidates:
    """The resolved candidate spec of each set of values, made once."""

    def __init__(self, search: Search) -> None:
        self.search = search
        self.made: dict[tuple[Any, ...], Any] = {}

    def values(self, hp_values: dict[str, Any]) -> dict[str, Any]:
        return {s.name: hp_values[s.name] for s in self.search.spaces if s.name in hp_values}

    def resolved(self, values: dict[str, Any]) -> Any:
        from keras_tuner.errors import FailedTrialError

        from speck.checks.training import check
        from speck.front.validate import validate
        from speck.ir.resolve import resolve

        key = tuple(repr(values.get(s.name)) for s in self.search.spaces)
        if key not in self.made:
            try:
                resolved = resolve(validate(self.search.candidate(values)))
                problems = [d for d in check(resolved)[1] if d.severity == "error"]
                if problems:
                    raise SpecError(problems)
                self.made[key] = resolved
            except SpecError as exc:
                lines = "; ".join(d.format() for d in exc.errors)
                raise FailedTrialError(
                    f"the candidate {describe(values)} is invalid: {lines}"
                ) from None
        return self.made[key]


def make_hypermodel(search: Search, first: Any, program: Any, splits: Any) -> Any:
    """A KerasTuner `HyperModel` whose `build` is the candidate's model and `fit` trains it on
    the program's data with the candidate's batch size and epochs."""
    import keras
    import keras_tuner

    from speck.backends.build import build_model, compile_model, make_object

    candidates = Candidates(search)
    data = first.plan.data
    order = list(data.splits)
    seed = first.plan.seed

    def arrays(split: str) -> tuple[Any, Any]:
        return splits[order.index(split)]

    class SpecHyperModel(keras_tuner.HyperModel):
        def build(self, hp: Any) -> Any:
            values = {space.name: declare(hp, space) for space in search.spaces}
            resolved = candidates.resolved(values)
            if seed is not None:
                keras.utils.set_random_seed(seed)
            model = build_model(resolved.graph, allow_custom_layers=True)
            compile_model(model, resolved.plan)
            return model

        def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            plan = candidates.resolved(candidates.values(hp.values)).plan
            x, y = arrays("train")
            options: dict[str, Any] = {"cache": data.cache}
            if plan.shuffle:
                options.update(shuffle=True, seed=seed, shuffle_buffer=data.shuffle_buffer)
            train = program.make_dataset(x, y, plan.batch_size, **options)
            fit: dict[str, Any] = {
                "epochs": kwargs.get("epochs", plan.epochs),
                "initial_epoch": kwargs.get("initial_epoch", 0),
                "verbose": 0,
                "shuffle": False,
            }
            if plan.steps_per_epoch:
                train = train.repeat()
                fit["steps_per_epoch"] = plan.steps_per_epoch
            if data.validate_on is not None:
                x_val, y_val = arrays(data.validate_on)
                fit["validation_data"] = program.make_dataset(x_val, y_val, plan.batch_size)
                fit["validation_freq"] = plan.validation_freq
            own = [make_object(cb) for cb in plan.callbacks if cb.class_name not in FILE_CALLBACKS]
            started = time.perf_counter()
            history = model.fit(train, callbacks=[*kwargs.get("callbacks", []), *own], **fit)
            seconds = time.perf_counter() - started
            return best_epoch(history.history, self.objective) | {
                "epochs": float(len(history.epoch)),
                "seconds": seconds,
            }

    return SpecHyperModel()


def best_epoch(history: dict[str, list[float]], objective: Any) -> dict[str, float]:
    """The logs of the epoch with the best objective (KerasTuner's `History` reading)."""
    values = history.get(objective.name)
    if not values:
        known = ", ".join(sorted(history)) or "nothing"
        raise TuneError(f"training did not log {objective.name!r} (it logged {known})")
    pick = min if objective.direction == "min" else max
    epoch = pick(range(len(values)), key=lambda i: values[i])
    return {k: float(v[epoch]) for k, v in history.items() if len(v) > epoch}


def _quiet_failures() -> None:
    """KerasTuner prints a failed trial's whole traceback unless its DEBUG is off; speck shows
    the error (`last_error`) and keeps tracebacks for SPECK_DEBUG."""
    from keras_tuner.src import config

    config.DEBUG = bool(os.environ.get("SPECK_DEBUG"))


def make_tuner(
    kind: str,
    hypermodel: Any,
    objective: tuple[str, str],
    max_trials: int,
    executions: int,
    epochs: int,
    seed: int | None,
    out_dir: Path,
    overwrite: bool,
) -> Any:
    import keras_tuner

    _quiet_failures()
    common: dict[str, Any] = {
        "objective": keras_tuner.Objective(*objective),
        "executions_per_trial": executions,
        "seed": seed,
        "directory": str(out_dir),
        "project_name": SEARCH_DIR,
        "overwrite": overwrite,
    }
    hypermodel.objective = common["objective"]
    if kind == "hyperband":
        return _short_messages(keras_tuner.Hyperband)(
            hypermodel, max_epochs=max(epochs, 2), **common
        )
    cls = keras_tuner.BayesianOptimization if kind == "bayesian" else keras_tuner.RandomSearch
    return _short_messages(cls)(hypermodel, max_trials=max_trials, **common)


def _short_messages(cls: type) -> type:
    """The tuner class, reporting a failed trial by its error, not the whole traceback."""

    class Tuner(cls):  # type: ignore[misc, valid-type]
        def on_trial_end(self, trial: Any) -> None:
            if trial.message:
                trial.message = last_error(trial.message)
                print(f"trial {trial.trial_id} failed: {trial.message}", flush=True)
            super().on_trial_end(trial)

    Tuner.__name__ = cls.__name__
    return Tuner


def last_error(text: str, lines: int = 6) -> str:
    """The exception at the end of a traceback: from its `SomeError: ...` line, a few lines."""
    rows = text.rstrip().splitlines()
    starts = [
        i for i, row in enumerate(rows) if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b", row)
    ]
    shown = "\n".join(rows[starts[-1] if starts else -1 :][:lines])
    return re.sub(r"^[\w.]*FailedTrialError: ", "", shown)


def tune_search(
    search: Search,
    first: Any,
    out_dir: Path,
    *,
    tuner: str | None = None,
    max_trials: int | None = None,
    resume: bool = False,
    force: bool = False,
    verbose: int = 1,
) -> TuneResult:
    """Run the search of `search` (whose first candidate resolved to `first`) into `out_dir`.

    Raises `RunFolderError` when the folder cannot be used, `SpecError` (an objective without a
    direction), `NotTrainable` or `DataError` (the data cannot be loaded)."""
    from speck.backends.run.folder import check_location, open_run_folder, read_marker

    check_trainable(first)
    settings = first.spec.tune
    kind = tuner or (settings.tuner if settings else "random")
    if kind not in TUNERS:
        raise TuneError(f"--tuner is one of {', '.join(TUNERS)}; received {kind!r}")
    trials = max_trials or (settings.max_trials if settings else 10)
    executions = settings.executions_per_trial if settings else 1
    objective = objective_of(search, first)
    where = role()
    check_location(out_dir)
    if where == "worker" and read_marker(out_dir) is None:
        raise RunFolderError(
            f"{out_dir} is not a search's run folder yet; start the chief first (it makes the "
            "folder), then the workers with the same --out"
        )
    program = load_program(first, allow_custom_layers=True)
    load = first.plan.data.steps[0]
    attribute_data_errors(
        program, first.plan.data.location, load.args["name"] if load.op == "keras" else None
    )
    splits = None if where == "chief" else program.load_data()  # once, before any trial
    hypermodel = make_hypermodel(search, first, program, splits)
    result = TuneResult(out_dir, where, objective[0], objective[1])
    started = time.perf_counter()

    def run() -> None:
        searcher = make_tuner(
            kind,
            hypermodel,
            objective,
            trials,
            executions,
            first.plan.epochs,
            first.plan.seed,
            out_dir,
            overwrite=not resume and where != "worker",
        )
        try:
            searcher.search(verbose=verbose)
        except RuntimeError as exc:  # KerasTuner stops after consecutive failed trials
            if where != "worker":
                write_results(search, searcher, result)
            raise TuneError(
                f"the search stopped: {exc} (trials.csv has each trial's status)"
            ) from None
        result.seconds = time.perf_counter() - started
        if where != "worker":
            write_results(search, searcher, result)

    if where == "worker":
        run()
    else:
        folder = run_folder(search, out_dir)
        if (out_dir / BEST_MODEL).exists() and not (force or resume):
            raise RunFolderError(
                f"{out_dir} already holds a finished search ({BEST_MODEL}); pass --force to "
                "search again, or --out to search into another folder"
            )
        with open_run_folder(folder, search_text(search), force=force, resume=resume):
            run()
    return result


def trial_rows(search: Search, oracle: Any, objective: str) -> list[dict[str, Any]]:
    """One row a trial, in the order they were made: values, objective, epochs, time."""
    rows = []
    for trial_id in sorted(oracle.trials, key=_trial_number):
        trial = oracle.trials[trial_id]
        values = trial.hyperparameters.values
        row: dict[str, Any] = {"trial": trial_id, "status": str(trial.status)}
        row |= {s.name: values.get(s.name) for s in search.spaces}
        metrics = trial.metrics
        for name in (objective, "epochs", "seconds"):
            row[name] = metrics.get_best_value(name) if metrics.exists(name) else None
        if row["epochs"] is not None:
            row["epochs"] = round(row["epochs"])
        if row["seconds"] is not None:
            row["seconds"] = round(row["seconds"], 2)
        row["error"] = last_error(trial.message) if trial.message else ""
        rows.append(row)
    return rows


def _trial_number(trial_id: str) -> tuple[int, str]:
    digits = "".join(ch for ch in trial_id if ch.isdigit())
    return (int(digits) if digits else 0, trial_id)


def write_results(search: Search, searcher: Any, result: TuneResult) -> None:
    """trials.csv, trials.png, best.yaml and best.keras in the run folder."""
    from speck.fileio import save_model, write_text

    out_dir = result.out_dir
    rows = trial_rows(search, searcher.oracle, result.objective)
    result.trials = rows
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["trial"])
    writer.writeheader()
    writer.writerows(rows)
    write_text(out_dir / TRIALS_CSV, buffer.getvalue())
    result.files.append(TRIALS_CSV)
    done = [r for r in rows if r[result.objective] is not None]
    if not done:
        return
    plot_trials(search, done, result.objective, result.direction, out_dir / TRIALS_PNG)
    result.files.append(TRIALS_PNG)
    best_trial = searcher.oracle.get_best_trials(1)[0]
    values = {
        s.name: best_trial.hyperparameters.values[s.name]
        for s in search.spaces
        if s.name in best_trial.hyperparameters.values
    }
    result.best = values
    result.best_score = best_trial.score
    name = best_name(search)
    write_text(out_dir / name, best_text(search, values))
    result.files.append(name)
    with warnings.catch_warnings():  # the checkpoint's optimizer state is not needed
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = searcher.load_model(best_trial)
    if model.optimizer is not None and not model.optimizer.built:  # so best.keras loads quietly
        model.optimizer.build(model.trainable_variables)
    save_model(model, out_dir / BEST_MODEL)
    result.files.append(BEST_MODEL)


def importance(
    search: Search, rows: list[dict[str, Any]], objective: str
) -> list[tuple[str, float]]:
    """How much of the objective's variance each hyperparameter explains, most first: for a
    range, the squared correlation with its value (its logarithm under log sampling); for a
    choice or boolean, the share of variance between its values' groups (eta squared)."""
    import numpy as np

    y = np.array([r[objective] for r in rows], dtype=float)
    total = float(((y - y.mean()) ** 2).sum())
    out = []
    for space in search.spaces:
        column = [r[space.name] for r in rows]
        if total == 0 or len(set(map(repr, column))) < 2:
            out.append((space.name, 0.0))
            continue
        if space.kind in ("int", "float"):
            x = np.array(column, dtype=float)
            if space.sampling != "linear":
                x = np.log(x)
            share = float(np.corrcoef(x, y)[0, 1] ** 2) if x.std() > 0 else 0.0
        else:
            groups: dict[str, list[float]] = {}
            for value, score in zip(column, y, strict=True):
                groups.setdefault(repr(value), []).append(score)
            between = sum(len(g) * (np.mean(g) - y.mean()) ** 2 for g in groups.values())
            share = float(between / total)
        out.append((space.name, 0.0 if math.isnan(share) else share))
    return sorted(out, key=lambda item: -item[1])


def plot_trials(
    search: Search, rows: list[dict[str, Any]], objective: str, result_direction: str, path: Path
) -> None:
    """The objective by trial (with the best so far), and against the hyperparameter that
    explains most of it (`importance`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speck.fileio import atomic_path

    scores = [r[objective] for r in rows]
    numbers = [_trial_number(str(r["trial"]))[0] for r in rows]  # as trials.csv numbers them
    direction = result_direction
    best, so_far = [], None
    for s in scores:
        so_far = s if so_far is None else (min if direction == "min" else max)(so_far, s)
        best.append(so_far)
    name, share = importance(search, rows, objective)[0]
    space = next(s for s in search.spaces if s.name == name)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(numbers, scores, "o", label="trial")
    left.step(numbers, best, where="post", label="best so far")
    left.set(xlabel="trial", ylabel=objective, title=f"{objective} by trial")
    left.xaxis.get_major_locator().set_params(integer=True)
    left.legend()
    column = [r[name] for r in rows]
    if space.kind in ("int", "float"):
        right.plot(column, scores, "o")
        if space.sampling != "linear":
            right.set_xscale("log")
    else:
        labels = [repr(v) for v in space.values]
        right.plot([labels.index(repr(v)) for v in column], scores, "o")
        right.set_xticks(range(len(labels)), labels)
    title = f"the most telling: explains {share:.0%} of the variance"
    right.set(xlabel=name, ylabel=objective, title=title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def summary_lines(result: TuneResult) -> list[str]:
    if result.role == "worker":
        return [f"worker {os.environ.get('KERASTUNER_TUNER_ID', '')} done"]
    lines = [f"searched {len(result.trials)} trials in {result.seconds:.1f} s"]
    if result.best is not None:
        lines.append(f"best {result.objective} {result.best_score:.4g}:")
        lines += [f"  {name} = {value!r}" for name, value in result.best.items()]
    lines.append(f"run folder: {result.out_dir}/")
    lines += [f"  {name}" for name in result.files]
    return lines


__all__ = ["TuneError", "TuneResult", "summary_lines", "tune_search"]
