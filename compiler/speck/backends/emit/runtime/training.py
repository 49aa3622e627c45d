"""Small training and run-folder functions that emitted programs call.

`speck emit` writes each spec's program as straight-line code (`load_data`, `build_model`,
`compile_model`, `make_callbacks`, `run`, `main`) and copies from here only the functions that
code calls; `speck train` runs that very program. The run folder a program fills:

    model.keras           the trained model (Keras 3 format)
    history.csv           one row per epoch, counted from 1 as the log: loss, metrics, val_*
    metrics.json          final-weights metrics per split, timings, library versions
    reconstructions.png   image-to-image tasks: inputs, outputs and targets side by side
    confusion_matrix.png  classifiers: true vs predicted class (one panel per classifier output)
    backup/               until the run is finished: the state `--resume` continues from (the
                          model, optimizer and epoch; callbacks-N.npz or .json: the counters
                          of the callbacks that watch a metric after epoch N)

Every function is top-level and keeps no state. TensorFlow, Keras and matplotlib are imported
inside the functions that need them, so that a program answers `--help` without them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .files import write_atomically


def tpu_strategy() -> Any:
    """A `tf.distribute.TPUStrategy` on the TPU this machine is attached to."""
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def keep_callback_states(callbacks: list[Any], backup: Path, epoch: int) -> list[Any]:
    """`callbacks` with what their last, BackupAndRestore, leaves out of an exact resume: the
    counters and best weights of those watching a metric (a JSON text each, its weights beside
    it) after each epoch N in callbacks-N.npz, and no more training once EarlyStopping stopped."""
    import keras

    watching = [cb for cb in callbacks if hasattr(cb, "monitor_op")]
    names = ("wait", "best", "cooldown_counter", "best_epoch", "stopped_epoch")

    def save(done: int, logs: Any) -> None:
        arrays = {}
        for i, cb in enumerate(watching):
            state = {k: v for k, v in vars(cb).items() if k in names}
            arrays[str(i)] = json.dumps(state)  # Python numbers (Keras' logs), None or infinity
            arrays |= {f"{i}.{j}": w for j, w in enumerate(vars(cb).get("best_weights") or [])}
        backup.mkdir(parents=True, exist_ok=True)
        write_atomically(backup / f"callbacks-{done + 1}.npz", lambda tmp: np.savez(tmp, **arrays))
        # epoch `done`'s stays: a run killed before the backup's save resumes from it
        (backup / f"callbacks-{done - 1}.npz").unlink(missing_ok=True)

    def restore(logs: Any) -> None:
        if (path := backup / f"callbacks-{epoch}.npz").exists():
            with np.load(path) as saved:
                for i, cb in enumerate(watching):
                    vars(cb).update(json.loads(str(saved[str(i)])))
                    if weights := [saved[k] for k in saved.files if k.startswith(f"{i}.")]:
                        cb.best_weights = weights  # EarlyStopping's
        if any(vars(cb).get("stopped_epoch") for cb in watching):  # it trains no further
            restorer.model._initial_epoch = restorer.params["epochs"]  # as BackupAndRestore does

    restorer = keras.callbacks.LambdaCallback(on_train_begin=restore)
    *others, last = callbacks  # BackupAndRestore, which make_callbacks puts last
    return [*others, keras.callbacks.LambdaCallback(on_epoch_end=save), last, restorer]


def keep_counters(callbacks: list[Any], backup: Path, epoch: int) -> list[Any]:
    """`callbacks` with what their last, BackupAndRestore, leaves out of an exact resume: the
    counters of those watching a metric, after each epoch N in callbacks-N.json."""
    from keras.callbacks import LambdaCallback

    watching = [cb for cb in callbacks if hasattr(cb, "monitor_op")]
    names = ("wait", "best", "cooldown_counter")

    def save(done: int, logs: Any) -> None:
        text = json.dumps([{k: v for k, v in vars(cb).items() if k in names} for cb in watching])
        backup.mkdir(parents=True, exist_ok=True)
        path = backup / f"callbacks-{done + 1}.json"
        write_atomically(path, lambda tmp: Path(tmp).write_text(text))
        # epoch `done`'s stays: a run killed before the backup's save resumes from it
        (backup / f"callbacks-{done - 1}.json").unlink(missing_ok=True)

    def restore(logs: Any) -> None:
        if (path := backup / f"callbacks-{epoch}.json").exists():
            for cb, state in zip(watching, json.loads(path.read_text()), strict=True):
                vars(cb).update(state)

    *rest, last = callbacks  # BackupAndRestore, which make_callbacks puts last
    return [*rest, LambdaCallback(on_epoch_end=save), last, LambdaCallback(on_train_begin=restore)]


def epoch_timer(seconds: list[float]) -> Any:
    """A callback that appends the seconds of each epoch's training steps (no validation)."""
    import keras

    marks: list[float] = []

    def end(epoch: int, logs: Any = None) -> None:
        seconds.append(marks[-1] - marks[0])
        marks.clear()

    return keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs=None: marks.append(time.perf_counter()),
        on_train_batch_end=lambda batch, logs=None: marks.append(time.perf_counter()),
        on_epoch_end=end,
    )


def metrics_by_output(names: list[str], final: dict[str, Any]) -> dict[str, Any]:
    """Each output's metrics per split, from Keras' `<output>_<metric>` keys (longest name wins)."""
    outputs: dict[str, Any] = {name: {} for name in names}
    for split, values in final.items():
        for key, value in values.items():
            owner = max((n for n in names if key.startswith(f"{n}_")), key=len, default=None)
            if owner is not None:
                outputs[owner].setdefault(split, {})[key[len(owner) + 1 :]] = value
    return outputs


def plot_reconstructions(inputs: Any, outputs: Any, targets: Any, path: Path, title: str) -> None:
    """Inputs, the model's outputs and targets in rows, as the tutorial draws reconstructions."""
    from matplotlib.figure import Figure

    rows = {"input": inputs, "output": outputs, "target": targets}
    figure = Figure(figsize=(2 * len(inputs), 2.1 * len(rows)), layout="constrained")
    axes = figure.subplots(len(rows), len(inputs), squeeze=False)
    for row, (label, images) in zip(axes, rows.items(), strict=True):
        for ax, image in zip(row, images, strict=True):
            image = np.clip(image[..., 0] if image.shape[-1] == 1 else image, 0, 1)
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[])
        row[0].set_ylabel(label, fontsize=14)
    figure.suptitle(title, fontsize=16)
    write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, bbox_inches="tight"))


def plot_confusion_matrix(matrix: Any, path: Path, title: str, names: Any = None) -> None:
    """True (rows) against predicted class (columns, `names` if given), with the counts."""
    from matplotlib.figure import Figure

    size = max(4.0, 0.45 * len(matrix) + 2)
    figure = Figure(figsize=(size + 1, size), layout="constrained")
    ax = figure.subplots()
    figure.colorbar(ax.imshow(matrix, cmap="Blues"), ax=ax, shrink=0.8)
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set(xlabel="predicted class", ylabel="true class", title=f"accuracy {accuracy:.3f}")
    if len(matrix) <= 20:
        ticks = dict(ticks=range(len(matrix)), labels=names or range(len(matrix)))
        ax.set_xticks(**ticks), ax.set_yticks(**ticks)
        for (i, j), count in np.ndenumerate(matrix):
            color = "white" if count > matrix.max() / 2 else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    figure.suptitle(title)
    write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, bbox_inches="tight"))


def plot_confusion_matrices(matrices: dict[str, Any], path: Path, title: str) -> None:
    """A panel per classifier output: true (rows) against predicted class (columns)."""
    from matplotlib.figure import Figure

    sizes = [max(4.0, 0.45 * len(m) + 2) for m in matrices.values()]
    figure = Figure(figsize=(sum(sizes) + len(sizes), max(sizes)), layout="constrained")
    axes = figure.subplots(1, len(sizes), squeeze=False, width_ratios=sizes)[0]
    for ax, (output, counts) in zip(axes, matrices.items(), strict=True):
        figure.colorbar(ax.imshow(counts, cmap="Blues"), ax=ax, shrink=0.8)
        accuracy = f"accuracy {np.trace(counts) / max(1, counts.sum()):.3f}"
        ax.set(xlabel="predicted class", ylabel="true class", title=f"{output}: {accuracy}")
        if len(counts) <= 20:
            ax.set_xticks(range(len(counts))), ax.set_yticks(range(len(counts)))
            for (i, j), count in np.ndenumerate(counts):
                color = "white" if count > counts.max() / 2 else "black"
                ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    figure.suptitle(title)
    write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, bbox_inches="tight"))
