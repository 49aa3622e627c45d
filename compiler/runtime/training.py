"""The training run: data -> model -> fit -> evaluate -> a run folder with the model and plots.

`train` is the one orchestrating function. `speck train` calls it with the spec's model, compile
step and callbacks; `speck emit` copies this module's functions into each generated script,
which calls it with generated code for the same three. So both train alike: same seeding, same
tf.data pipeline, same callbacks added for the run folder, same files written.

The run folder it fills (`out_dir`):

    model.keras           the trained model (Keras 3 format)
    history.csv           one row per epoch (0-based, as Keras counts): loss, metrics, val_*
    metrics.json          final train/validation/test metrics, timings, library versions
    history.png           loss and metrics per epoch, train vs validation
    reconstructions.png   image-to-image models: inputs, outputs and targets side by side
    confusion_matrix.png  classifiers: true vs predicted class (one panel per classifier output)
    backup/               while training only: the state `resume=True` continues from

Every function is top-level, keeps no state, and gets its data from its arguments. Writes go
through `speck.runtime.files`, so nothing in the folder is ever half-written.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .data import make_dataset, prepare_data, row_count
from .files import (
    save_figure_atomically,
    save_model_atomically,
    write_json_atomically,
    write_text_atomically,
)

BACKUP_DIR = "backup"
HISTORY_FILE = "history.csv"
FIGURE_IMAGES = 10


def train(
    build_model: Callable[[], Any],
    compile_model: Callable[[Any], None],
    make_callbacks: Callable[[Path, int], list[Any]],
    data: dict[str, Any],
    settings: dict[str, Any],
    out_dir: str | Path,
    resume: bool = False,
) -> dict[str, Any]:
    """Train a model end to end and fill `out_dir`; returns what `metrics.json` holds.

    `settings` is plain data:
      name, seed (None: unseeded), epochs, batch_size, shuffle, validation_freq,
      steps_per_epoch (None: the whole training split), distribute (default, mirrored,
      multi_worker_mirrored or tpu), and optionally
      verbose (Keras' progress output, default "auto"), task (classify, regress, reconstruct
      or denoise: which figure to draw), base_dir (where relative data paths start),
      jit_compile (None: Keras' choice) and steps_per_execution (default 1).
    `resume=True` continues from the last completed epoch saved in the run folder's backup;
    without it any old backup is removed and training starts from the first epoch.

    The metrics: `final` train/validation/test results of `model.evaluate` with the final
    weights; `epochs` (in all), `epochs_this_run`, `resumed_from_epoch`; `samples` per split;
    `wall_time_s` (data to plots), `fit_time_s`; `samples_per_second` over the training steps
    of every epoch after the first (which also traces the model; the first if it is the only
    one), validation excluded; `parameters`; `files` and `plots` (paths in the run folder);
    `versions` of the libraries; and for classifiers the `confusion_matrix` the figure shows.
    A model with several outputs also gets `outputs`: each output's own loss and metrics per
    split (Keras logs them as `<output>_<metric>` in `final`), and its `confusion_matrix` is a
    dict by output name, of the outputs whose targets are classes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    seed = settings.get("seed")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    splits = prepare_data(data, seed, settings.get("base_dir", "."))

    strategy = make_strategy(settings.get("distribute", "default"))
    with strategy.scope():
        model = build_model()
        compile_model(model)
        tune_model(model, settings)

    batch_size = settings["batch_size"]
    steps_per_epoch = settings.get("steps_per_epoch")
    cache, buffer = data.get("cache", True), data.get("shuffle_buffer")
    train_data = make_dataset(
        splits.x_train, splits.y_train, batch_size, settings["shuffle"], seed, buffer, cache
    )
    if steps_per_epoch:
        train_data = train_data.repeat()
    val_data = None
    if splits.x_val is not None:
        val_data = make_dataset(splits.x_val, splits.y_val, batch_size, cache=cache)
    n_train = row_count(splits.x_train)
    steps = steps_per_epoch or math.ceil(n_train / batch_size)

    callbacks = list(make_callbacks(out_dir, steps))
    callbacks += run_folder_callbacks(out_dir, callbacks, resume)
    backup = backup_dir_of(callbacks)
    if not resume and backup is not None and backup.exists():
        shutil.rmtree(backup)
    initial_epoch = completed_epochs(backup) if resume and backup is not None else 0
    if resume:
        where = f"after epoch {initial_epoch}" if initial_epoch else "from the first epoch"
        print(f"resuming {settings.get('name', model.name)} {where} ({out_dir})")
    align_checkpoints(callbacks, initial_epoch, steps)
    timings: dict[str, list[float]] = {"epoch": [], "train": []}
    callbacks.append(epoch_timer(timings))

    history = model.fit(
        train_data,
        epochs=settings["epochs"],
        shuffle=False,  # the tf.data pipeline shuffles (settings["shuffle"])
        steps_per_epoch=steps_per_epoch,
        validation_data=val_data,
        validation_freq=settings.get("validation_freq", 1),
        callbacks=callbacks,
        verbose=progress_verbosity(settings.get("verbose", "auto")),
    )
    rows = tidy_history(out_dir / HISTORY_FILE)

    results = {
        "train": evaluate(model, splits.x_train, splits.y_train, batch_size),
        "validation": evaluate(model, splits.x_val, splits.y_val, batch_size),
        "test": evaluate(model, splits.x_test, splits.y_test, batch_size),
    }
    save_model_atomically(model, out_dir / "model.keras")
    figures = {"history": plot_history(rows, out_dir / "history.png", settings.get("name", ""))}
    matrices: dict[str, np.ndarray] = {}
    several = len(model.outputs) > 1
    if is_image_to_image(model):
        figures["reconstructions"] = plot_reconstructions_of(model, splits, out_dir)
    else:
        matrices = confusion_matrices_of(model, splits, batch_size, settings.get("task"))
    if matrices:
        title = f"{settings.get('name', model.name)}: {figure_split(splits)[0]} split"
        figures["confusion_matrix"] = plot_confusion_matrix(
            matrices if several else next(iter(matrices.values())),
            out_dir / "confusion_matrix.png",
            title,
        )

    samples_per_epoch = steps * batch_size if steps_per_epoch else n_train
    train_times = timings["train"][1:] or timings["train"]
    metrics = {
        "name": settings.get("name", model.name),
        "epochs": len(history.epoch) + initial_epoch,
        "epochs_this_run": len(history.epoch),
        "resumed_from_epoch": initial_epoch if resume else None,
        "final": {k: v for k, v in results.items() if v is not None},
        "samples": {
            "train": n_train,
            "validation": None if splits.x_val is None else row_count(splits.x_val),
            "test": None if splits.x_test is None else row_count(splits.x_test),
        },
        "wall_time_s": round(time.perf_counter() - started, 3),
        "fit_time_s": round(sum(timings["epoch"]), 3),
        "samples_per_second": (
            round(samples_per_epoch * len(train_times) / sum(train_times), 1)
            if train_times and sum(train_times) > 0
            else None
        ),
        "parameters": int(model.count_params()),
        "files": run_files(out_dir, callbacks),
        "plots": {k: v.name for k, v in figures.items() if v is not None},
        "versions": library_versions(),
    }
    if several:
        metrics["outputs"] = metrics_by_output(output_names(model), metrics["final"])
    if matrices:
        listed = {name: matrix.tolist() for name, matrix in matrices.items()}
        metrics["confusion_matrix"] = listed if several else next(iter(listed.values()))
    write_json_atomically(out_dir / "metrics.json", metrics)
    return metrics


# --- the model and the strategy ---------------------------------------------------------------


def progress_verbosity(verbose: Any) -> Any:
    """Keras' progress bar on a terminal; one line per epoch when the output is a file or
    pipe (where a bar's redraws would pile up), unless the spec chose."""
    if verbose == "auto" and not sys.stdout.isatty():
        return 2
    return verbose


def make_strategy(name: str) -> Any:
    """The `tf.distribute` strategy a spec names; `default` is TensorFlow's default strategy."""
    if name in (None, "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown distribution strategy {name!r}")


def tune_model(model: Any, settings: dict[str, Any]) -> None:
    """Apply `jit_compile` and `steps_per_execution` from the settings to a compiled model
    (both are read when Keras makes its train function, on the first `fit`)."""
    if settings.get("jit_compile") is not None:
        model.jit_compile = bool(settings["jit_compile"])
    if settings.get("steps_per_execution"):
        model.steps_per_execution = int(settings["steps_per_execution"])


# --- callbacks for the run folder -------------------------------------------------------------


def run_folder_callbacks(out_dir: Path, callbacks: list[Any], resume: bool) -> list[Any]:
    """The callbacks every run adds after the spec's own: the epoch log `history.csv` and
    (unless the spec has its own) a `BackupAndRestore` in `out_dir/backup`, last, so that an
    epoch is logged before it counts as done."""
    added: list[Any] = [keras.callbacks.CSVLogger(str(out_dir / HISTORY_FILE), append=resume)]
    if not any(isinstance(cb, keras.callbacks.BackupAndRestore) for cb in callbacks):
        added.append(keras.callbacks.BackupAndRestore(str(out_dir / BACKUP_DIR)))
    return added


def backup_dir_of(callbacks: list[Any]) -> Path | None:
    """The folder of the run's `BackupAndRestore` callback, if it has one."""
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.BackupAndRestore):
            return Path(cb.backup_dir)
    return None


def completed_epochs(backup_dir: Path) -> int:
    """How many epochs a backup says were completed (0 when there is none)."""
    metadata = backup_dir / "training_metadata.json"
    if not metadata.exists():
        return 0
    return int(json.loads(metadata.read_text())["epoch"])


def align_checkpoints(callbacks: list[Any], initial_epoch: int, steps_per_epoch: int) -> None:
    """A resumed run counts batches from its first epoch; make a `ModelCheckpoint` that saves
    every N batches (speck's `every_epochs`) count as if it had run from epoch one, so that it
    saves after the same epochs as an uninterrupted run."""
    if not initial_epoch:
        return
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.ModelCheckpoint) and isinstance(cb.save_freq, int):
            cb._batches_seen_since_last_saving = (initial_epoch * steps_per_epoch) % cb.save_freq


def epoch_timer(timings: dict[str, list[float]]) -> Any:
    """A callback that appends each epoch's seconds to `timings["epoch"]` and the seconds of
    its training steps alone (no validation) to `timings["train"]`."""
    marks: dict[str, float] = {}

    def begin(epoch: int, logs: dict[str, Any] | None = None) -> None:
        marks["begin"] = marks["last"] = time.perf_counter()

    def batch_end(batch: int, logs: dict[str, Any] | None = None) -> None:
        marks["last"] = time.perf_counter()

    def end(epoch: int, logs: dict[str, Any] | None = None) -> None:
        timings["epoch"].append(time.perf_counter() - marks["begin"])
        timings["train"].append(marks["last"] - marks["begin"])

    return keras.callbacks.LambdaCallback(
        on_epoch_begin=begin, on_train_batch_end=batch_end, on_epoch_end=end
    )


def run_files(out_dir: Path, callbacks: list[Any]) -> dict[str, str]:
    """What a run leaves in its folder besides the plots, relative to it where it can."""
    files = {"model": "model.keras", "history": HISTORY_FILE, "metrics": "metrics.json"}
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.TensorBoard):
            files["tensorboard"] = str(cb.log_dir)
        elif isinstance(cb, keras.callbacks.ModelCheckpoint):
            files["checkpoints"] = str(cb.filepath)
        elif isinstance(cb, keras.callbacks.CSVLogger) and Path(cb.filename).name != HISTORY_FILE:
            files["csv_log"] = str(cb.filename)
    for role, path in files.items():
        if Path(path).is_absolute() and Path(path).is_relative_to(out_dir.absolute()):
            files[role] = str(Path(path).relative_to(out_dir.absolute()))
        elif Path(path).is_relative_to(out_dir):
            files[role] = str(Path(path).relative_to(out_dir))
    return files


def tidy_history(path: Path) -> list[dict[str, Any]]:
    """Read the epoch log, keep the last row of each epoch (a resumed run may have logged one
    twice), drop columns that are empty in every row, rewrite it atomically; return the rows
    with numbers as floats (None where a value is missing)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    by_epoch = {int(row["epoch"]): row for row in rows}
    ordered = [by_epoch[e] for e in sorted(by_epoch)]
    columns = [c for c in (rows[0].keys() if rows else []) if any(r[c] != "NA" for r in ordered)]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(ordered)
    write_text_atomically(path, text.getvalue())
    return [{c: parse_number(r[c]) for c in columns} for r in ordered]


def parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# --- results --------------------------------------------------------------------------------


def evaluate(model: Any, x: Any, y: Any, batch_size: int) -> dict[str, float] | None:
    """`model.evaluate` on one split as {metric: value}; None for an absent split."""
    if x is None:
        return None
    dataset = make_dataset(x, y, batch_size, cache=False)
    values = model.evaluate(dataset, verbose=0, return_dict=True)
    return {k: float(np.asarray(v)) for k, v in values.items()}


def figure_split(splits: Any) -> tuple[str, Any, Any]:
    """The split figures show: test if there is one, else validation, else training."""
    for name, x, y in (
        ("test", splits.x_test, splits.y_test),
        ("validation", splits.x_val, splits.y_val),
        ("train", splits.x_train, splits.y_train),
    ):
        if x is not None:
            return name, x, y
    return "train", splits.x_train, splits.y_train


def is_image_to_image(model: Any) -> bool:
    """One image input, one output of the same shape (an autoencoder, a denoiser)."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    shape_in, shape_out = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
    image = len(shape_in) == 2 or (len(shape_in) == 3 and shape_in[-1] in (1, 3, 4))
    return image and shape_in == shape_out


def output_names(model: Any) -> list[str]:
    """The names Keras matches targets to: a functional model's `output_names`; a Sequential
    model has one output, named after its last layer."""
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    return [model.layers[-1].name if model.layers else model.name]


def by_output(model: Any, values: Any) -> dict[str, Any]:
    """Targets or predictions by model output name: a dict's entries, a list's in output
    order, or the one array of a one-output model (None: nothing)."""
    names = output_names(model)
    if values is None:
        return {}
    if isinstance(values, dict):
        return {name: values[name] for name in names if name in values}
    if len(names) == 1:
        return {names[0]: values}
    return dict(zip(names, values, strict=True))


def is_class_targets(y: Any, task: str | None) -> bool:
    """Targets of a classification task that are classes: ids, one-hot rows, or 0/1 values."""
    if task not in (None, "classify") or y is None:
        return False
    y = np.asarray(y)
    zero_or_one = bool(np.all((y == 0) | (y == 1)))
    if y.ndim == 2 and y.shape[1] > 1:
        return zero_or_one
    single = y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)
    return single and (np.issubdtype(y.dtype, np.integer) or zero_or_one)


def class_ids(values: Any) -> np.ndarray:
    """Class ids from one-hot rows or scores (argmax), one sigmoid unit (> 0.5), or ids."""
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] > 1:
        return values.argmax(axis=1)
    values = values.reshape(-1)
    if np.issubdtype(values.dtype, np.floating) and values.min() >= 0 and values.max() <= 1:
        return (values > 0.5).astype(np.int64)
    return values.astype(np.int64)


def confusion_matrices_of(
    model: Any, splits: Any, batch_size: int, task: str | None
) -> dict[str, np.ndarray]:
    """Counts of (true class, predicted class) on the figure split, for each model output
    whose targets are classes (`is_class_targets`), by output name."""
    _, x, y = figure_split(splits)
    targets = {k: v for k, v in by_output(model, y).items() if is_class_targets(v, task)}
    if not targets:
        return {}
    predicted = model.predict(make_dataset(x, None, batch_size, cache=False), verbose=0)
    scores = by_output(model, predicted)
    return {name: confusion_matrix(true, scores[name]) for name, true in targets.items()}


def confusion_matrix(y: Any, scores: Any) -> np.ndarray:
    """Counts of (true class, predicted class) from targets and the model's outputs."""
    true = class_ids(y)
    predicted = class_ids(scores)
    n = int(max(true.max(), predicted.max()) + 1)
    if np.asarray(scores).ndim == 2 and np.asarray(scores).shape[1] > 1:
        n = max(n, int(np.asarray(scores).shape[1]))
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def metrics_by_output(
    names: list[str], final: dict[str, dict[str, float]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Each output's own loss and metrics per split, from the `<output>_<metric>` values Keras
    logs for a model with several outputs (a key goes to the longest output name it starts
    with, so that `a_b_loss` is `a_b`'s loss, not `a`'s `b_loss`)."""
    outputs: dict[str, dict[str, dict[str, float]]] = {name: {} for name in names}
    for split, values in final.items():
        for key, value in values.items():
            owners = [name for name in names if key.startswith(f"{name}_")]
            if owners:
                owner = max(owners, key=len)
                outputs[owner].setdefault(split, {})[key[len(owner) + 1 :]] = value
    return outputs


def plot_reconstructions_of(model: Any, splits: Any, out_dir: Path) -> Path:
    """`reconstructions.png`: the first examples of the figure split, the model's outputs for
    them and their targets."""
    _, x, y = figure_split(splits)
    count = min(FIGURE_IMAGES, len(x))
    outputs = model.predict(x[:count], verbose=0)
    targets = None if y is None else y[:count]
    return plot_reconstructions(x[:count], outputs, targets, out_dir / "reconstructions.png")


def plot_history(rows: list[dict[str, Any]], path: Path, title: str = "") -> Path | None:
    """Loss and each metric per epoch, training against validation, one panel each."""
    from matplotlib.figure import Figure

    if not rows:
        return None
    names = [k for k in rows[0] if k != "epoch" and not k.startswith("val_")]
    names.sort(key=lambda k: (k != "loss", k in ("learning_rate", "lr")))  # loss first, lr last
    if not names:
        return None
    epochs = [int(r["epoch"]) + 1 for r in rows]
    figure = Figure(figsize=(4.5 * len(names), 3.6), layout="constrained")
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for ax, key in zip(axes, names, strict=True):
        ax.plot(epochs, [r[key] for r in rows], marker="o", label="train")
        val = [(e, r.get(f"val_{key}")) for e, r in zip(epochs, rows, strict=True)]
        val = [(e, v) for e, v in val if v is not None]
        if val:
            ax.plot(*zip(*val, strict=True), marker="o", label="validation")
            ax.legend()
        if key in ("learning_rate", "lr"):
            ax.set_yscale("log")
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return save_figure_atomically(figure, path)


def as_image(array: Any) -> np.ndarray:
    """An example as something `imshow` shows: values in [0, 1] (stretched if they are not),
    one channel squeezed to grey."""
    image = np.asarray(array, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    low, high = float(image.min()), float(image.max())
    if low < 0 or high > 1:
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image


def plot_reconstructions(inputs: Any, outputs: Any, targets: Any, path: Path) -> Path:
    """A row of inputs, a row of the model's outputs and (if given) a row of targets,
    like the tutorial's figure of noisy test images and their reconstructions."""
    from matplotlib.figure import Figure

    rows = [("input", inputs), ("output", outputs)]
    if targets is not None:
        rows.append(("target", targets))
    count = len(inputs)
    figure = Figure(figsize=(2 * count, 2.1 * len(rows)), layout="constrained")
    axes = figure.subplots(len(rows), count, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for i in range(count):
            ax = axes[r, i]
            ax.imshow(as_image(images[i]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=14)
    return save_figure_atomically(figure, path)


def plot_confusion_matrix(matrix: Any, path: Path, title: str = "") -> Path:
    """True class (rows) against predicted class (columns), counts written in the cells; for a
    dict of matrices by output name, one panel per output, side by side."""
    from matplotlib.figure import Figure

    panels = matrix if isinstance(matrix, dict) else {"": matrix}
    sizes = [max(4.0, 0.45 * len(m) + 2) for m in panels.values()]
    figure = Figure(figsize=(sum(sizes) + len(sizes), max(sizes)), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False, width_ratios=sizes)[0]
    for ax, (output, counts) in zip(axes, panels.items(), strict=True):
        n = len(counts)
        shown = ax.imshow(counts, cmap="Blues")
        figure.colorbar(shown, ax=ax, shrink=0.8)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        accuracy = np.trace(counts) / max(1, counts.sum())
        ax.set_title(f"{output}: accuracy {accuracy:.3f}" if output else f"accuracy {accuracy:.3f}")
        if n <= 20:
            ax.set_xticks(range(n))
            ax.set_yticks(range(n))
            threshold = counts.max() / 2
            for i in range(n):
                for j in range(n):
                    color = "white" if counts[i, j] > threshold else "black"
                    ax.text(
                        j, i, str(counts[i, j]), ha="center", va="center", color=color, fontsize=8
                    )
    if title:
        figure.suptitle(title)
    return save_figure_atomically(figure, path)


def library_versions() -> dict[str, str]:
    """Versions of what trained the model, for `metrics.json`."""
    import matplotlib

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
    }
