"""Back end 3, train: a resolved spec -> `speck.runtime.training.train` -> a filled run folder.

This module turns the resolved spec into what the shared training function takes: the settings
as plain data, `build_model`/`compile_model` from `speck.build`, and `make_callbacks` from the
plan's callbacks (relative paths placed in the run folder, `every_epochs` turned into Keras'
`save_freq`). The run folder is `runs/<spec name>/` by default; `speck.runfolder` holds its
rules (a finished run is never overwritten without `force`, an interrupted one is continued
with `resume`, speck deletes only what it created) and keeps the resolved spec with every
default filled in there as `spec.yaml`.
TensorFlow is imported only when training starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speck.graph import KerasObject, TrainingPlan
from speck.legacy import CHECKPOINT_EVERY
from speck.runfolder import (
    PATH_ARGS,
    check_callback_paths,
    inside,
    open_run_folder,
    plan_run_folder,
)


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


def settings_for(resolved: Any, base_dir: str | None = None) -> dict[str, Any]:
    """The plain-data settings `runtime.training.train` reads, from a resolved spec; `base_dir`
    (where relative data paths start) defaults to the spec's folder."""
    plan: TrainingPlan = resolved.plan
    spec = resolved.spec
    data = spec.data
    return {
        "name": spec.name,
        "seed": plan.seed,
        "epochs": plan.epochs,
        "batch_size": plan.batch_size,
        "shuffle": plan.shuffle,
        "validation_freq": plan.validation_freq,
        "steps_per_epoch": plan.steps_per_epoch,
        "distribute": plan.distribute,
        "verbose": spec.fit.verbose,
        "task": None if data is None else data.task_kind,
        "base_dir": str(Path(resolved.file).parent) if base_dir is None else base_dir,
    }


def callback_args(obj: KerasObject, out_dir: Path, steps_per_epoch: int) -> dict[str, Any]:
    """A callback's arguments for Keras: its paths in `out_dir` (`speck.runfolder.inside`
    raises `OutsideRunFolder` for one that is not), and speck's `every_epochs: N` on
    ModelCheckpoint as `save_freq=N * steps_per_epoch`."""
    args = dict(obj.args)
    for key in PATH_ARGS:
        if key in args:
            args[key] = str(inside(out_dir, args[key]))
    if obj.class_name == "ModelCheckpoint" and CHECKPOINT_EVERY in args:
        args["save_freq"] = int(args.pop(CHECKPOINT_EVERY)) * steps_per_epoch
    return args


def callbacks_maker(plan: TrainingPlan) -> Callable[[Path, int], list[Any]]:
    """`make_callbacks(out_dir, steps_per_epoch)` for the plan's callbacks."""
    from speck.build import make_object

    def make_callbacks(out_dir: Path, steps_per_epoch: int) -> list[Any]:
        made = []
        for cb in plan.callbacks:
            args = callback_args(cb, out_dir, steps_per_epoch)
            for key in PATH_ARGS:  # a file's or folder's parent folders, as Keras needs them
                if key in args:
                    Path(args[key]).parent.mkdir(parents=True, exist_ok=True)
            made.append(make_object(KerasObject(cb.category, cb.class_name, None, args)))
        return made

    return make_callbacks


def spec_text(resolved: Any) -> str:
    """The resolved spec with every default filled in, as YAML (`spec.yaml`)."""
    from speck import spec_text as text

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


def train_spec(
    resolved: Any,
    out_dir: Path | None = None,
    *,
    force: bool = False,
    resume: bool = False,
    allow_custom_layers: bool = False,
) -> RunResult:
    """Train a resolved spec into its run folder; returns the folder and the final metrics.

    Raises `RunFolderError` (the folder cannot be used; `speck.runfolder` has the rules),
    `SpecError` (a callback path outside the run folder), `NotTrainable` (no `data:` or
    `compile:` section) or `speck.build.CustomLayersNotAllowed` (the model uses custom layers
    and `allow_custom_layers` is false) before anything is written.
    """
    if resolved.graph.custom_layers and not allow_custom_layers:
        from speck.build import not_allowed

        raise not_allowed(resolved.graph.custom_layers)
    from speck.build import build_model, compile_model
    from speck.runtime.training import train

    check_trainable(resolved)
    out_dir = run_dir_for(resolved, out_dir)
    plan = resolved.plan
    check_callback_paths(resolved, out_dir)
    folder = plan_run_folder(plan, out_dir)
    with open_run_folder(folder, spec_text(resolved), force=force, resume=resume):
        metrics = train(
            lambda: build_model(resolved.graph, allow_custom_layers),
            lambda model: compile_model(model, plan),
            callbacks_maker(plan),
            plan.data,
            settings_for(resolved),
            out_dir,
            resume=resume,
        )
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
        shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
        lines.append(f"  {split:<10} {shown}")
    lines.append(f"run folder: {result.out_dir}/")
    for role, name in metrics["files"].items():
        lines.append(f"  {role:<12} {name}")
    if metrics["plots"]:
        lines.append(f"  {'plots':<12} {', '.join(metrics['plots'].values())}")
    return lines
