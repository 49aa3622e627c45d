"""The resolved model graph: the one intermediate representation both back ends read.

`speck.ir.resolve` turns a validated spec into a `ModelGraph` (layers with explicit names, Keras-3
argument spellings and explicit wiring) and a `TrainingPlan` (compile, fit, callbacks, and the
data section lowered to a `DataPlan`: an ordered list of `DataStep`s and what the run does with
the splits they make).
`speck.build` makes a live Keras model from it, `speck.emit` renders a script from it, and
`speck.checks.shapes` infers static shapes over it. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal

OP_PREFIX = "ops."
"""A node whose type starts with this is a `keras.ops` call, not a layer: `ops.add` is what
`x + y` or `keras.ops.add(x, y)` makes in a functional model (an operation node, no weights)."""

Shape = tuple[int | None, ...]
"""A tensor shape without the batch dimension; `None` is an unknown size."""

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


@dataclass(frozen=True, slots=True)
class Location:
    """Where something came from in a spec file (1-based line and column). Slotted: a loaded
    spec keeps one for every key and value it holds (over 100,000 for a 10,000-layer model),
    and without a `__dict__` each takes a sixth of the memory."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class KerasObject:
    """A Keras object given as data: an optimizer, loss, metric, initializer, callback, ...

    `category` is the catalog category (`optimizers`, `losses`, `schedules`, ...). Exactly one
    of two forms: `alias` is a string Keras accepts by itself (`"adam"`, `"he_normal"`), or
    `class_name` with `args` is a class to construct (`SGD(learning_rate=0.02)`). Argument
    values may themselves be `KerasObject`s (a learning-rate schedule inside an optimizer).
    """

    category: str
    class_name: str | None = None
    alias: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ref:
    """A reference to a node's output: `node`, or `node[index]` for multi-output layers."""

    node: str
    index: int | None = None

    def __str__(self) -> str:
        return self.node if self.index is None else f"{self.node}[{self.index}]"


@dataclass(frozen=True)
class InputNode:
    name: str
    shape: Shape
    dtype: str = "float32"
    location: Location | None = None


@dataclass(frozen=True)
class LayerNode:
    """One layer call. `kind` is the Keras class name, `args` its explicit constructor arguments
    in spec order (Keras 3 names; nested objects as `KerasObject`). `shares` names an earlier
    layer node whose layer object (and weights) this call reuses; then `kind`/`args` repeat it."""

    name: str
    kind: str
    args: dict[str, Any]
    inputs: tuple[Ref, ...]
    shares: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class ModelGraph:
    """A whole model: Sequential (`inputs` has one node, layers form a chain) or functional."""

    name: str
    style: Literal["sequential", "functional"]
    inputs: tuple[InputNode, ...]
    layers: tuple[LayerNode, ...]
    outputs: tuple[Ref, ...]
    custom_layers: dict[str, str] = field(default_factory=dict)
    """The spec's own layer classes that its layers use: type name -> `module.path:ClassName`.
    Back ends import them only when the user allows it (`--allow-custom-layers`)."""
    output_keys: tuple[str, ...] | None = None
    """The outputs' names when they are a mapping (`keras.Model(..., outputs={"priority": p})`),
    one per entry of `outputs`; None when they are a list."""
    submodels: dict[str, ModelGraph] = field(default_factory=dict)
    """Models used as layers (`models:` in the spec), by the layer type that names them. A
    layer node of such a type is a copy of that model named after the node (its weights its
    own); `shares` reuses one."""
    precision: str = "float32"
    """The Keras dtype policy the layers are made under (`mixed_float16`, `mixed_bfloat16`);
    under a mixed one the output layers carry `dtype="float32"` in their args already."""

    def node(self, name: str) -> InputNode | LayerNode:
        return self._nodes[name]

    @functools.cached_property
    def _nodes(self) -> dict[str, InputNode | LayerNode]:
        return {n.name: n for n in (*self.inputs, *self.layers)}

    @property
    def output_names(self) -> tuple[str, ...]:
        """The names compile and the data match outputs by: the mapping's keys, or the nodes."""
        if self.output_keys is not None:
            return self.output_keys
        return tuple(r.node for r in self.outputs)

    def output_ref(self, name: str) -> Ref | None:
        """The output called `name` (an output name as `output_names` gives it)."""
        return dict(zip(self.output_names, self.outputs, strict=True)).get(name)


@dataclass(frozen=True)
class DataStep:
    """One step of the data section, in the order the run takes them: `op` names it (`load`,
    `keep`, `scale`, `split`, `noise`, ...), `args` are its plain-data arguments. Which arrays a
    step touches (`x`, `y_test`, ...) is decided here, once, so back ends only write it out."""

    op: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataPlan:
    """The data section as a program: steps that leave arrays `x`, `y`, `x_val`, `y_val`,
    `x_test`, `y_test`, and what the run does with the splits they make.

    `splits` are the splits there are, of `train`, `validation` and `test`; `validate_on` is the
    one `fit` validates on (`test` when the spec says `validation: test`), None for none.
    `figure` is the one figure the task draws: `reconstructions` (image to image),
    `confusion_matrix` (the outputs in `class_outputs` predict classes) or None. `data_dir`
    is where relative data paths start (the spec's folder), None when no file is read.
    `location` is where the spec names the source, for errors raised while loading."""

    steps: tuple[DataStep, ...]
    splits: tuple[str, ...]
    validate_on: str | None
    task: str
    figure: str | None
    class_outputs: tuple[tuple[str, str], ...] = ()
    """The outputs a confusion matrix counts, with how their targets name classes: `sparse`
    ids, `one_hot` rows, `binary` 0/1 (`binary_logits`: scores are logits)."""
    data_dir: str | None = None
    cache: bool = True
    shuffle_buffer: int | None = None
    location: Location | None = None
    extras: tuple[str, ...] = ()
    """What `load_data()` returns after the splits: `features` (the `keras.utils.FeatureSpace`
    of typed columns, adapted on the training split, which the model starts with) and
    `class_names` (the label's classes in id order, as the file gives them)."""


@dataclass(frozen=True)
class TrainingPlan:
    """Everything besides the model that training needs, resolved from the spec."""

    optimizer: KerasObject | None
    loss: KerasObject | dict[str, KerasObject] | None
    metrics: tuple[KerasObject, ...] | dict[str, tuple[KerasObject, ...]] = ()
    loss_weights: dict[str, float] | tuple[float, ...] | None = None
    epochs: int = 1
    batch_size: int = 32
    shuffle: bool = True
    validation_freq: int = 1
    steps_per_epoch: int | None = None
    callbacks: tuple[KerasObject, ...] = ()
    data: DataPlan | None = None
    seed: int | None = None
    distribute: str = "default"
    name: str = "model"
    description: str | None = None
    verbose: str | int = "auto"
    backup_dir: str = "backup"
    """The run's resumable state, relative to the run folder: the spec's own BackupAndRestore
    folder, or `backup` (which the run adds)."""
    saved_submodels: tuple[str, ...] = ()
    """The model's parts made from `models:`, by node name: a run saves each on its own as
    `<node>.keras` beside `model.keras`, usable without the whole model."""
    spec_file: str = ""
    spec_sha256: str = ""

    @property
    def compiled(self) -> bool:
        return self.loss is not None
