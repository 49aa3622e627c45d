"""The names the spec format gives a meaning of its own, each in one place for every stage.

Validation checks them, resolve and the IR carry them, the back ends act on them: the callback
arguments that are paths Keras writes or reads, speck's own callback argument, the wrapper layers
and the operation-node prefix. Plain constants: importing this module costs nothing.
"""

from __future__ import annotations

OP_PREFIX = "ops."
"""A node whose type starts with this is a `keras.ops` call, not a layer: `ops.add` is what
`x + y` or `keras.ops.add(x, y)` makes in a functional model (an operation node, no weights)."""

WRAPPED_LAYERS = ("Bidirectional", "TimeDistributed")
"""The layers that wrap another layer, given as a layer argument."""

WRAPPED_LAYER_ARGS = ("layer", "backward_layer")
"""The arguments of a wrapper that hold the layer it wraps (a `KerasObject` of category
`layers` in the IR)."""

OUTPUT_PATH_ARGS = {
    "BackupAndRestore": "backup_dir",
    "CSVLogger": "filename",
    "ModelCheckpoint": "filepath",
    "OrbaxCheckpoint": "directory",
    "TensorBoard": "log_dir",
}
"""The callback arguments that name a file or folder Keras writes (or deletes), by callback:
each stays inside the run folder, where relative paths are placed (validation, the run folder,
the renderer and the emitted program all read this)."""

PATH_ARGS = frozenset(OUTPUT_PATH_ARGS.values())
"""Those arguments' names."""

INPUT_PATH_ARGS = {
    "IntegerLookup": "vocabulary",
    "StringLookup": "vocabulary",
    "TextVectorization": "vocabulary",
}
"""The layer arguments that may name a file Keras reads (a vocabulary file, one token a line),
by layer: a relative path starts at the spec's folder, as data paths do."""

CHECKPOINT_EVERY = "every_epochs"
"""speck's own ModelCheckpoint argument: save every N epochs (Keras 3 has no `period`). A
Keras 2 spec's `period` is renamed to it; the script gets `save_freq=N * steps_per_epoch`."""

BACKUP_DIR = "backup"
"""The folder, inside the run folder, where a run keeps the state `--resume` continues from
when the spec has no BackupAndRestore of its own (`TrainingPlan.backup_dir`)."""
