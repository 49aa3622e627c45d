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
                          model, optimizer and epoch; callbacks-N.npz: the counters of the
                          callbacks that watch a metric after epoch N)

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
    """`callbacks` with their last, BackupAndRestore (model, optimizer, epoch), between one that
    saves what those watching a metric count and one that puts it back after `epoch` epochs."""
    import keras

    watching = [cb for cb in callbacks if hasattr(cb, "monitor_op")]
    names = ("wait", "best", "cooldown_counter", "best_epoch", "stopped_epoch")

    def save(done: int, logs: Any) -> None:  # callbacks-N.npz: their states after epoch N
        states = [{k: getattr(cb, k) for k in names if hasattr(cb, k)} for cb in watching]
        weights = [getattr(cb, "best_weights", None) or [] for cb in watching]
        text = json.dumps([states, [len(w) for w in weights]], default=float)
        arrays = [array for some in weights for array in some]
        backup.mkdir(parents=True, exist_ok=True)
        path = backup / f"callbacks-{done + 1}.npz"
        write_atomically(path, lambda tmp: np.savez(tmp, *arrays, states=text))
        # keep epoch `done`'s: a run killed before the backup's save resumes from it
        (backup / f"callbacks-{done - 1}.npz").unlink(missing_ok=True)

    def restore(logs: Any) -> None:
        if (path := backup / f"callbacks-{epoch}.npz").exists():
            with np.load(path) as saved:
                states, counts = json.loads(str(saved["states"]))
                weights = [saved[f"arr_{i}"] for i in range(sum(counts))]
            for cb, state, count in zip(watching, states, counts, strict=True):
                vars(cb).update(state)
                if count:  # EarlyStopping's best weights
                    cb.best_weights, weights = weights[:count], weights[count:]
        if any(getattr(cb, "stopped_epoch", 0) for cb in watching):  # it trains no further
            restorer.model._initial_epoch = restorer.params["epochs"]  # as BackupAndRestore does

    restorer = keras.callbacks.LambdaCallback(on_train_begin=restore)
    *others, last = callbacks  # BackupAndRestore, which make_callbacks puts last
    return [*others, keras.callbacks.LambdaCallback(on_epoch_end=save), last, restorer]


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


def plot_reconstructions(inputs: Any, outputs: Any, targets: Any, path: Path, title: str) -> Path:
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
    return write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, bbox_inches="tight"))


def plot_confusion_matrix(matrix: Any, path: Path, title: str, names: Any = None) -> Path:
    """True (rows) against predicted class (columns, `names` if given); dict: a panel each."""
    from matplotlib.figure import Figure

    panels = matrix if isinstance(matrix, dict) else {"": matrix}
    sizes = [max(4.0, 0.45 * len(m) + 2) for m in panels.values()]
    figure = Figure(figsize=(sum(sizes) + len(sizes), max(sizes)), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False, width_ratios=sizes)[0]
    for ax, (output, counts) in zip(axes, panels.items(), strict=True):
        figure.colorbar(ax.imshow(counts, cmap="Blues"), ax=ax, shrink=0.8)
        accuracy = f"accuracy {np.trace(counts) / max(1, counts.sum()):.3f}"
        label = f"{output}: {accuracy}" if output else accuracy
        ax.set(xlabel="predicted class", ylabel="true class", title=label)
        if len(counts) <= 20:
            ticks = dict(ticks=range(len(counts)), labels=names or range(len(counts)))
            ax.set_xticks(**ticks), ax.set_yticks(**ticks)
            for (i, j), count in np.ndenumerate(counts):
                color = "white" if count > counts.max() / 2 else "black"
                ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    figure.suptitle(title)
    return write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, bbox_inches="tight"))
