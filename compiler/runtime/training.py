"""Small training and run-folder functions that emitted programs call.

`speck emit` writes each spec's program as straight-line code (`load_data`, `build_model`,
`compile_model`, `make_callbacks`, `run`, `main`) and copies from here only the functions that
code calls; `speck train` runs that very program. The run folder a program fills:

    model.keras           the trained model (Keras 3 format)
    history.csv           one row per epoch (0-based, as Keras counts): loss, metrics, val_*
    metrics.json          final-weights metrics per split, timings, library versions
    reconstructions.png   image-to-image tasks: inputs, outputs and targets side by side
    confusion_matrix.png  classifiers: true vs predicted class (one panel per classifier output)
    backup/               until the run is finished: the state `--resume` continues from

Every function is top-level and keeps no state. TensorFlow, Keras and matplotlib are imported
inside the functions that need them, so that a program answers `--help` without them.
"""

from __future__ import annotations

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


def plot_reconstructions(inputs: Any, outputs: Any, targets: Any, path: Path) -> Path:
    """Rows of inputs, the model's outputs and targets, as the tutorial's reconstructions (one
    channel shown grey, values clipped to [0, 1])."""
    from matplotlib.figure import Figure

    rows = [("input", inputs), ("output", outputs), ("target", targets)]
    count = len(inputs)
    figure = Figure(figsize=(2 * count, 2.1 * len(rows)), layout="constrained")
    axes = figure.subplots(len(rows), count, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for i in range(count):
            image = np.clip(images[i][..., 0] if images[i].shape[-1] == 1 else images[i], 0, 1)
            axes[r, i].imshow(image, cmap="gray", vmin=0, vmax=1)
            axes[r, i].set(xticks=[], yticks=[])
        axes[r, 0].set_ylabel(label, fontsize=14)
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
