"""Stage 4, check: static shapes and training checks over the resolved graph, without TensorFlow.

Shapes come from `speck.checks.shapes` (one rule per layer, Keras' semantics); the training checks
hold the data, compile and callback settings against the model: the data's shape against the inputs,
the targets against the outputs (a decoder whose output differs from its target), the loss against
the output (a 10-way softmax with binary cross-entropy, sparse against one-hot labels),
`from_logits` against the output activation, and each callback's `monitor` against the metrics the
compiled model will log. Every finding points at the spec line to change.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from speck.catalog.lookup import suggest
from speck.checks.shapes import NodeShape, format_shape, infer_graph
from speck.diagnostics import Diagnostic, SpecPath, did_you_mean
from speck.front.format.data import (
    CsvSource,
    ImagesSource,
    NpySource,
    NpzSource,
    TypedTable,
    known_source_shapes,
    named_inputs,
    named_targets,
)
from speck.ir.graph import KerasObject, LayerNode, ModelGraph, Shape, SpecFile, TrainingPlan
from speck.ir.resolve import ResolvedSpec, snake_case

__all__ = ["NodeShape", "check", "monitored_metrics"]

SPARSE_LOSSES = {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"}
CATEGORICAL_LOSSES = {"categorical_crossentropy", "CategoricalCrossentropy"}
BINARY_LOSSES = {"binary_crossentropy", "BinaryCrossentropy"}
CROSSENTROPY_LOSSES = SPARSE_LOSSES | CATEGORICAL_LOSSES | BINARY_LOSSES
PROBABILITY_ACTIVATIONS = {"softmax", "sigmoid"}
HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "accuracy", "f1", "iou", "r2")
MONITORING_CALLBACKS = ("EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint")
LR_SETTING_CALLBACKS = ("ReduceLROnPlateau", "LearningRateScheduler")


MAX_PARAMS = 10**10
"""More weights than speck builds: 40 GB as float32, several times that to train, which no
single accelerator holds (Keras allocates the weights as soon as a layer is built)."""
LARGE_PARAMS = 10**8
"""A model this large (400 MB of float32 weights) deserves a word before it is built."""
BYTES_PER_PARAM = 4
"""float32, Keras' default dtype."""


def check(resolved: ResolvedSpec) -> tuple[dict[str, NodeShape], list[Diagnostic]]:
    """Every node's static shape, and the problems found."""
    checker = _Checker(resolved)
    shapes = checker.shapes()
    checker.size(shapes)
    checker.training(shapes)
    adaptable_layers(checker, shapes)
    table_columns(checker)
    layer_files(checker)
    return shapes, checker.out


def format_bytes(n: int) -> str:
    """`n` bytes in the largest unit that keeps a number of at least 1 (decimal units)."""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} bytes"


def loss_name(obj: KerasObject) -> str:
    return obj.alias or obj.class_name or ""


def metric_log_names(obj: KerasObject) -> list[str]:
    """The names Keras logs a compiled metric under (`accuracy`, `auc`, `mae`, ...)."""
    if obj.alias is not None:
        return [obj.alias]
    name = obj.args.get("name")
    return [str(name)] if isinstance(name, str) else [snake_case(obj.class_name or "")]


def monitored_metrics(graph: ModelGraph, plan: TrainingPlan, validation: bool) -> list[str]:
    """What a callback may `monitor`: the loss and metrics Keras logs (`val_` with validation)."""
    names = ["loss"]
    outputs = graph.output_names
    if len(outputs) > 1:
        names += [f"{o}_loss" for o in outputs]
    metrics = plan.metrics
    if isinstance(metrics, dict):
        for out, items in metrics.items():
            for m in items:
                names += [f"{out}_{n}" for n in metric_log_names(m)]
    else:
        for m in metrics:
            logged = metric_log_names(m)
            names += [f"{o}_{n}" for o in outputs for n in logged] if len(outputs) > 1 else logged
    return names + ([f"val_{n}" for n in names] if validation else [])


class _Checker:
    def __init__(self, resolved: ResolvedSpec) -> None:
        self.resolved = resolved
        self.graph = resolved.graph
        self.plan = resolved.plan
        self.spec = resolved.spec
        self.source = resolved.validated.source
        self.out: list[Diagnostic] = []
        self.index = self._layer_indexes()

    def _layer_indexes(self) -> dict[str, int]:
        locations = {
            self.source.locate(("model", "layers", i)): i
            for i in range(len(self.spec.model.layers))
        }
        return {n.name: locations[n.location] for n in self.graph.layers if n.location in locations}

    def add(
        self,
        path: SpecPath,
        message: str,
        hint: str | None = None,
        severity: str = "error",
        at: str = "key",
    ) -> None:
        loc = self.source.locate(path, at)
        self.out.append(Diagnostic(message, path, loc, severity, hint))  # type: ignore[arg-type]

    def layer_path(self, node: str, arg: str | None = None) -> SpecPath:
        if node not in self.index:
            name = next((n for n in self.graph.inputs if n.name == node), None)
            if name is not None and self.graph.style == "functional":
                return ("model", "inputs", node)
            return ("model", "input")
        layer = next(n for n in self.graph.layers if n.name == node)
        path: SpecPath = ("model", "layers", self.index[node])
        if layer.shares is not None:
            return path
        return (*path, layer.kind, arg) if arg else (*path, layer.kind)

    # -- shapes ---------------------------------------------------------------------------

    def submodel_shapes(self) -> None:
        """Each sub-model's own shape problems, at its layers under `models:`."""
        for name, model in (self.spec.models or {}).items():
            sub = next((g for g in _all_submodels(self.graph) if g.name == name), None)
            if sub is None:
                continue
            index = {
                self.source.locate(("models", name, "layers", i)): i
                for i in range(len(model.layers))
            }
            where = {n.name: index.get(n.location) for n in sub.layers}
            _, problems = infer_graph(_wrapped_as_dicts(sub))
            for p in problems:
                i = where.get(p.node)
                node = next((n for n in sub.layers if n.name == p.node), None)
                if i is None or node is None:
                    continue
                path: SpecPath = ("models", name, "layers", i, node.kind)
                path = (*path, p.arg) if p.arg else path
                self.add(path, p.message, p.fix, p.severity, "value" if p.arg else "key")

    def shapes(self) -> dict[str, NodeShape]:
        self.submodel_shapes()
        shapes, problems = infer_graph(_wrapped_as_dicts(self.graph))
        for p in problems:
            path = self.layer_path(p.node, p.arg)
            at = "value" if p.arg else "key"
            if p.severity == "note":
                self.add(path, p.message, p.fix, "note")
            else:
                self.add(path, p.message, p.fix, "error", at)
        return shapes

    def size(self, shapes: dict[str, NodeShape]) -> None:
        """The weights must fit in a machine's memory: an error past `MAX_PARAMS`, a warning
        past `LARGE_PARAMS`, at the layer with the most of them."""
        counts = {
            n.name: shapes[n.name].params
            for n in self.graph.layers
            if n.shares is None and n.name in shapes and shapes[n.name].params is not None
        }
        total = sum(c for c in counts.values() if c is not None)
        if total <= LARGE_PARAMS:
            return
        biggest = max(counts, key=lambda name: counts[name] or 0)
        own = counts[biggest] or 0
        weights = f"{total:,} parameters ({format_bytes(total * BYTES_PER_PARAM)} as float32)"
        part = (
            f"; layer {biggest!r} alone has {own:,} ({format_bytes(own * BYTES_PER_PARAM)})"
            if own != total
            else f", all in layer {biggest!r}"
        )
        if total > MAX_PARAMS:
            self.add(
                self.layer_path(biggest),
                f"the model has {weights}{part}: past the {MAX_PARAMS:,} parameters "
                f"({format_bytes(MAX_PARAMS * BYTES_PER_PARAM)}) speck builds",
                "make the layer smaller: fewer units or filters, or a smaller input",
            )
        else:
            self.add(
                self.layer_path(biggest),
                f"the model has {weights}{part}",
                "training needs several times that in memory, for gradients and optimizer state",
                "warning",
            )

    def output_shape(self, shapes: dict[str, NodeShape], name: str) -> Shape | None:
        ref = self.graph.output_ref(name)
        node = shapes.get(ref.node) if ref is not None else None
        if node is None or node.outputs is None or ref is None:
            return None
        return node.outputs[ref.index or 0]

    # -- training -------------------------------------------------------------------------

    def training(self, shapes: dict[str, NodeShape]) -> None:
        self.data_names()
        self.data_against_model(shapes)
        self.losses(shapes)
        self.callbacks()

    def data_names(self) -> None:
        """Named input and target arrays must name the model's inputs and outputs, which is
        how Keras matches them."""
        data = self.spec.data
        if data is None:
            return
        under = ("npy",) if isinstance(data.source, NpySource) else ()
        model_names = {
            "x": ("inputs", [n.name for n in self.graph.inputs]),
            "y": ("outputs", list(self.graph.output_names)),
        }
        for key, names in (("x", named_inputs(data)), ("y", named_targets(data))):
            what, wanted = model_names[key]
            if names is None or sorted(names) == sorted(wanted):
                continue
            unknown = [n for n in names if n not in wanted]
            missing = [n for n in wanted if n not in names]
            problem = (
                f"names {unknown[0]!r}, which is not one of the model's {what}"
                if unknown
                else f"gives no array for the model's {what[:-1]} {missing[0]!r}"
            )
            hint = did_you_mean(suggest(unknown[0], missing or wanted)) if unknown else None
            self.add(
                ("data", "source", *under, key),
                f"the data's {key} {problem} ({', '.join(wanted)})",
                hint or f"map each of the model's {what} to an array: {', '.join(wanted)}",
            )

    def data_against_model(self, shapes: dict[str, NodeShape]) -> None:
        data = self.spec.data
        if data is None or len(self.graph.inputs) != 1:
            return
        facts = known_source_shapes(data)
        inp = self.graph.inputs[0]
        if facts.x_shape is not None and tuple(facts.x_shape) != tuple(inp.shape):
            fix = (
                f"set the input to {list(facts.x_shape)}, or reshape the data to {list(inp.shape)}"
            )
            if isinstance(data.source, ImagesSource):
                fix = _image_fix(data.source, tuple(inp.shape), list(facts.x_shape))
            self.add(
                self.layer_path(inp.name),
                f"the data gives inputs of shape {format_shape(tuple(facts.x_shape))} "
                f"but the model expects {format_shape(inp.shape)}",
                fix,
            )
        if len(self.graph.outputs) != 1:
            return
        out_name = self.graph.outputs[0].node
        out_shape = self.output_shape(shapes, self.graph.output_names[0])
        if out_shape is None:
            return
        if facts.label_encoding == "inputs" and facts.x_shape is not None:
            target = tuple(facts.x_shape)
            if tuple(out_shape) != target:
                self.add(
                    self.layer_path(out_name),
                    f"the model's output {format_shape(out_shape)} differs from its target, the "
                    f"input image {format_shape(target)}",
                    "make the decoder end at the input's shape (check pooling/upsampling and the "
                    "last layer's filters)",
                )
        if facts.n_classes and facts.label_encoding in ("sparse", "one_hot") and out_shape:
            units = out_shape[-1]
            binary_ok = facts.n_classes == 2 and units == 1
            if units is not None and units != facts.n_classes and not binary_ok:
                self.add(
                    self.layer_path(out_name),
                    f"the data has {facts.n_classes} classes but the output has {units} units",
                    f"end with {facts.n_classes} units",
                )

    def losses(self, shapes: dict[str, NodeShape]) -> None:
        loss = self.plan.loss
        if loss is None:
            return
        per_output = loss if isinstance(loss, dict) else {o: loss for o in self.graph.output_names}
        facts = known_source_shapes(self.spec.data) if self.spec.data is not None else None
        for out, obj in per_output.items():
            path: SpecPath = (
                ("compile", "loss", out) if isinstance(loss, dict) else ("compile", "loss")
            )
            name = loss_name(obj)
            shape = self.output_shape(shapes, out)
            activation = self.output_activation(out)
            units = shape[-1] if shape else None
            if (
                name in BINARY_LOSSES
                and units is not None
                and units > 1
                and activation == "softmax"
            ):
                self.add(
                    path,
                    f"binary cross-entropy on a {units}-way softmax output {out!r}",
                    "use categorical_crossentropy (one-hot labels) or "
                    "sparse_categorical_crossentropy (integer labels)",
                    at="value",
                )
            if name in CATEGORICAL_LOSSES and units == 1:
                self.add(
                    path,
                    f"categorical cross-entropy on the single-unit output {out!r}",
                    "use binary_crossentropy",
                    at="value",
                )
            if facts is not None and len(per_output) == 1:
                if name in SPARSE_LOSSES and facts.label_encoding == "one_hot":
                    self.add(
                        path,
                        "sparse categorical cross-entropy expects integer labels, but the data "
                        "section one-hot encodes them",
                        did_you_mean("categorical_crossentropy"),
                        at="value",
                    )
                if name in CATEGORICAL_LOSSES and facts.label_encoding == "sparse":
                    self.add(
                        path,
                        "categorical cross-entropy expects one-hot labels, but the data gives "
                        "integer labels",
                        "use sparse_categorical_crossentropy, or add `one_hot: true` to data",
                        at="value",
                    )
            self.from_logits(path, obj, activation, out)

    def from_logits(
        self, path: SpecPath, obj: KerasObject, activation: str | None, out: str
    ) -> None:
        name = loss_name(obj)
        if name not in CROSSENTROPY_LOSSES:
            return
        logits = obj.args.get("from_logits") is True
        if logits and activation in PROBABILITY_ACTIVATIONS:
            self.add(
                (*path, name, "from_logits") if obj.class_name else path,
                f"from_logits is true but output {out!r} already applies {activation}",
                f"remove the {activation} activation, or set from_logits: false",
                "warning",
                at="value",
            )
        if not logits and activation in ("linear", None) and activation is not None:
            self.add(
                path,
                f"output {out!r} is linear (logits) but the loss expects probabilities",
                f"use {{{_class_of(name)}: {{from_logits: true}}}}, or end with softmax/sigmoid",
                "warning",
                at="value",
            )

    def output_activation(self, name: str) -> str | None:
        ref = self.graph.output_ref(name)
        target = ref.node if ref is not None else name
        node = next((n for n in self.graph.layers if n.name == target), None)
        while node is not None and node.shares is not None:
            node = next((n for n in self.graph.layers if n.name == node.shares), None)
        if node is None:
            return None
        if node.kind == "Activation":
            return str(node.args.get("activation"))
        if node.kind == "Softmax":
            return "softmax"
        if node.kind in ("Dense", "Conv1D", "Conv2D", "Conv3D", "EinsumDense"):
            act = node.args.get("activation")
            return "linear" if act in (None, "linear") else str(act)
        return None

    def callbacks(self) -> None:
        self.schedule_against_callbacks()
        validation = self.has_validation()
        logged = monitored_metrics(self.graph, self.plan, validation)
        for i, cb in enumerate(self.spec.callbacks):
            if not isinstance(cb, dict) or len(cb) != 1:
                continue
            ((kind, args),) = cb.items()
            if kind not in MONITORING_CALLBACKS or not isinstance(args, dict):
                continue
            default = "val_loss" if kind != "ModelCheckpoint" or validation else "loss"
            monitor = args.get("monitor", default)
            path: SpecPath = ("callbacks", i, kind, "monitor")
            if "monitor" not in args:
                path = ("callbacks", i, kind)
            if monitor not in logged:
                if monitor.startswith("val_") and monitor[4:] in logged:
                    # Without a data section the validation data is whoever calls fit's business.
                    self.add(
                        path,
                        f"{kind} monitors {monitor!r}, but there is no validation data",
                        f"monitor {monitor[4:]!r}, or add `validation:` to the data section",
                        "error" if self.spec.data is not None else "warning",
                        at="value",
                    )
                elif self.plan.compiled:
                    self.add(
                        path,
                        f"{kind} monitors {monitor!r}, which the compiled model does not log",
                        did_you_mean(suggest(monitor, logged)) or f"logged: {', '.join(logged)}",
                        at="value",
                    )
                continue
            mode = args.get("mode", "auto")
            wanted = "max" if any(w in monitor for w in HIGHER_IS_BETTER) else "min"
            if "loss" in monitor or "error" in monitor:
                wanted = "min"
            if mode in ("min", "max") and mode != wanted:
                self.add(
                    ("callbacks", i, kind, "mode"),
                    f"mode {mode!r} for {monitor!r}, which gets better as it gets "
                    f"{'larger' if wanted == 'max' else 'smaller'}",
                    f"use mode: {wanted} (or auto)",
                    at="value",
                )

    def schedule_against_callbacks(self) -> None:
        """Keras refuses to set a learning rate a schedule computes, mid-training."""
        optimizer = self.plan.optimizer
        if optimizer is None or not isinstance(optimizer.args.get("learning_rate"), KerasObject):
            return
        for i, cb in enumerate(self.plan.callbacks):
            if cb.class_name in LR_SETTING_CALLBACKS:
                self.add(
                    ("callbacks", i, cb.class_name),
                    f"{cb.class_name} sets the learning rate, but the optimizer's comes from a "
                    "schedule, which Keras does not let a callback change",
                    "drop the callback, or give the optimizer a plain learning_rate",
                )

    def has_validation(self) -> bool:
        data = self.spec.data
        if data is None:
            return False
        validation = getattr(data, "validation", None)
        return validation not in (None, "none")


def _class_of(loss: str) -> str:
    return "".join(part.capitalize() for part in loss.split("_")) if "_" in loss else loss


def _all_submodels(graph: ModelGraph) -> list[ModelGraph]:
    found = []
    for sub in graph.submodels.values():
        found += [sub, *_all_submodels(sub)]
    return found


def _wrapped_as_dicts(graph: ModelGraph) -> ModelGraph:
    """Shape rules read a wrapped layer (Bidirectional's `layer`) as {"kind", "args"}."""

    def plain(value: object) -> object:
        if isinstance(value, KerasObject) and value.category == "layers":
            args = {k: plain(v) for k, v in value.args.items()}
            return {"kind": value.class_name, "args": args}
        return value

    layers = tuple(replace(n, args={k: plain(v) for k, v in n.args.items()}) for n in graph.layers)
    submodels = {k: _wrapped_as_dicts(g) for k, g in graph.submodels.items()}
    return replace(graph, layers=layers, submodels=submodels)


def _image_fix(source: ImagesSource, wanted: tuple[int | None, ...], given: list[int]) -> str:
    """How an image folder's examples come to fit a model input of shape `wanted`: the
    folder's images are resized to `image_size` with the channels of `color_mode`."""
    modes = {1: "grayscale", 3: "rgb", 4: "rgba"}
    if len(wanted) != 3 or None in wanted or wanted[2] not in modes:
        return f"the folder gives images of shape {given}; set the model's input to {given}"
    height, width, channels = wanted
    fix = [] if [height, width] == list(source.image_size) else [f"image_size: [{height}, {width}]"]
    if modes[channels] != source.color_mode:  # type: ignore[index]
        fix.append(f"color_mode: {modes[channels]}")  # type: ignore[index]
    return f"write {' and '.join(fix)} in data.source, or set the model's input to {given}"


ADAPTED_STATE = {
    "Normalization": ("mean", "mean and variance"),
    "StringLookup": ("vocabulary", "vocabulary"),
    "IntegerLookup": ("vocabulary", "vocabulary"),
    "TextVectorization": ("vocabulary", "vocabulary"),
    "Discretization": ("bin_boundaries", "bin_boundaries"),
}
"""Preprocessing layers that learn state from data (`adapt`), by the argument that gives them
that state instead, and how a message names it."""

SAMPLE_ROWS = 50
"""How many rows of a CSV file `validate` reads to check its columns' kinds."""

NUMERIC_KINDS = ("float", "integer")


def _cell_kind(text: str) -> str:
    try:
        float(text)
    except ValueError:
        return "text"
    return "number"


def _sample_csv(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]] | None:
    """The header and the first `SAMPLE_ROWS` rows of a readable CSV file, else None (the
    pre-flight check and the loader say what is wrong with it)."""
    import csv
    import itertools
    import stat

    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(itertools.islice(csv.reader(f, delimiter=delimiter), SAMPLE_ROWS + 1))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    if any(re.search(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]", cell) for row in rows for cell in row):
        return None  # binary bytes: not a CSV file
    return (rows[0], rows[1:]) if rows else None


def table_columns(self: _Checker) -> None:
    """A CSV source's columns against the spec: typed columns feed a model without its own
    input; a column read as numbers holds numbers in the file's first rows (header and
    `SAMPLE_ROWS` rows read, no more)."""
    data = self.spec.data
    if data is None or not isinstance(data.source, TypedTable):
        return
    source, root = data.source, ("data", "source")
    typed = source.typed_columns
    model = self.spec.model
    if typed is not None and (
        getattr(model, "input", None) is not None or self.graph.style != "sequential"
    ):
        where = ("model", "input") if self.graph.style == "sequential" else ("model",)
        self.add(
            where,
            "the data's typed columns are the model's input: the model starts from their "
            "encoding (a FeatureSpace), whose width the vocabularies decide",
            "write a Sequential model without `input:`",
        )
    if not isinstance(source, CsvSource):
        if typed is not None:  # an npz table
            _npz_columns(self, source, typed)
        return
    sample = _sample_csv(Path(self.resolved.file).parent / source.csv, source.delimiter)
    if sample is None:
        return
    header, rows = sample
    if source.label is not None and source.label not in header:
        return  # the pre-flight check names the missing label column
    index = {name: i for i, name in reversed(list(enumerate(header)))}

    def first_text(name: str) -> tuple[str, int] | None:
        for line, row in enumerate(rows, start=2):
            cell = row[index[name]].strip() if index[name] < len(row) else ""
            if cell not in ("", "nan", "NaN") and _cell_kind(cell) == "text":
                return cell, line
        return None

    if typed is None:
        names = source.features or [n for n in header if n != source.label]
        for name in names:
            found = first_text(name) if name in index else None
            if found:
                self.add(
                    (*root, "csv"),
                    f"column {name!r} holds text ({found[0]!r} on line {found[1]}), but the "
                    "features of a CSV source without `columns` are numbers",
                    f"declare the table's columns, e.g. columns: {{{name}: string_categorical}}"
                    " (or text)",
                )
                return
        return
    for name, (kind, _) in typed.items():
        path = (*root, "columns", name)
        if name not in index:
            close = did_you_mean(suggest(name, header))
            shown = ", ".join(header[:10]) + (", ..." if len(header) > 10 else "")
            self.add(path, f"{source.csv} has no column {name!r}; its columns are {shown}", close)
            continue
        found = first_text(name) if kind.startswith(NUMERIC_KINDS) else None
        if found:
            self.add(
                path,
                f"column {name!r} holds text ({found[0]!r} on line {found[1]}), but {kind} "
                "reads numbers",
                "declare it string_categorical (a category) or text (words)",
                at="value",
            )


def _npz_columns(self: _Checker, source: NpzSource, typed: dict[str, Any]) -> None:
    """An npz table's arrays, by their headers alone: each column there, one value a row, and
    numbers where its kind reads numbers (a file that is not there is the pre-flight's)."""
    from speck.checks.data import DataFileProblem, check_npz, check_npz_column

    path = Path(self.resolved.file).parent / source.npz
    if not path.is_file():
        return
    label = [source.label_column] if source.label_column else []
    try:
        check_npz(str(path), [*typed, *label])
        for name, (kind, _) in typed.items():
            check_npz_column(str(path), name, kind)
    except DataFileProblem as exc:
        self.add(exc.at or ("data", "source", "npz"), str(exc), exc.suggestion)


def layer_files(self: _Checker) -> None:
    """A file a layer argument names (a vocabulary file) is there to read, from the spec's
    folder; speck only reads it (Keras does, when the layer is made)."""
    for node in self.graph.layers:
        for arg, value in node.args.items():
            if isinstance(value, SpecFile) and not os.path.isfile(value):
                self.add(
                    self.layer_path(node.name, arg),
                    f"there is no file {value.relative!r} (from the spec's folder: {value})",
                    "paths are relative to the spec file's folder; name a vocabulary file, one "
                    "token a line",
                    at="value",
                )


def adaptable_layers(self: _Checker, shapes: dict[str, NodeShape]) -> None:
    """A preprocessing layer in the model that learns from data is adapted (`adapt: true`) or
    given its state in the spec when the spec trains: un-adapted it passes values through
    (Normalization) or fails. A spec without data (an architecture, say one `speck import`
    wrote, whose state comes with the weights) is not trained by speck, so not refused."""
    for name, model in (self.spec.models or {}).items():
        for i, layer in enumerate(model.layers):
            if layer.adapt:
                self.add(
                    ("models", name, "layers", i, "adapt"),
                    "only the layers of `model:` are adapted: the program adapts a layer on "
                    "the training split's inputs, which a part under `models:` does not read",
                    "move the layer into `model:`, reading a model input, or give it its state",
                )
    names = {i: name for name, i in self.index.items()}
    nodes = {n.name: n for n in self.graph.layers}
    for i, layer in enumerate(self.spec.model.layers):
        node = nodes.get(names.get(i, "")) if layer.adapt else None
        if node is not None:
            adapt_entry(self, node, i, shapes)
    if self.plan.data is None:
        return
    for node in self.graph.layers:
        state = ADAPTED_STATE.get(node.kind)
        if state is None or node.shares is not None or node.adapt or state[0] in node.args:
            continue
        fix = f"give it its {state[1]} in the spec"
        if _adapt_problem(self, node, state) is None:
            fix = f"write `adapt: true` beside it to learn it from the training split, or {fix}"
        else:
            fix += ", or declare the column in data.source.columns, which FeatureSpace adapts"
        self.add(
            self.layer_path(node.name),
            f"{node.kind} learns its {state[1]} from data, but nothing adapts it: un-adapted it "
            "would do nothing or fail",
            fix,
        )


def _adapt_problem(
    self: _Checker, node: LayerNode, state: tuple[str, str]
) -> tuple[str, str] | None:
    """Why the program cannot adapt `node` on the training split's inputs, and the fix; or None."""
    if state[0] in node.args or (node.kind == "Normalization" and "variance" in node.args):
        given = "mean and variance" if node.kind == "Normalization" else state[0]
        return (
            f"{node.kind} is given its {given} in the spec; adapting would replace it",
            f"remove `adapt`, or its {given}",
        )
    if node.kind == "Discretization" and node.args.get("num_bins") is None:
        return (
            "Discretization learns the boundaries of `num_bins` bins; it has no num_bins",
            "give num_bins: N, or bin_boundaries without `adapt`",
        )
    data = self.spec.data
    if data is not None and isinstance(data.source, CsvSource) and data.source.typed_columns:
        return (
            "the model starts from the table's encoded columns (a FeatureSpace, adapted on the "
            "training split itself), not from an input the program can adapt a layer on",
            "declare the column's kind in data.source.columns instead",
        )
    inputs = [n.name for n in self.graph.inputs]
    reads = node.inputs[0] if len(node.inputs) == 1 else None
    if reads is None or reads.index is not None or reads.node not in inputs:
        first = "make it the first layer" if self.graph.style == "sequential" else None
        return (
            "an adapted layer learns from the data the model is given, so it reads a model "
            f"input directly; this one reads {', '.join(str(r) for r in node.inputs)}",
            first or f"read a model input (from: {inputs[0]}), or give it its {state[1]}",
        )
    return None


def adapt_entry(self: _Checker, node: LayerNode, index: int, shapes: dict[str, NodeShape]) -> None:
    """`adapt: true` on the model's layer `index`: one the program can adapt on the training
    split, whose output the layers after it can be built on before it adapts."""
    state = ADAPTED_STATE.get(node.kind)
    layer, path = self.spec.model.layers[index], ("model", "layers", index)
    where = (*path, "adapt")
    if layer.shares is not None:
        self.add(
            where,
            f"this entry reuses the layer of {layer.shares!r}, which is adapted (or not) where "
            "it is made",
            f"remove `adapt` here, and write it on {layer.shares!r}",
        )
        return
    if state is None:
        self.add(
            where,
            f"{node.kind} learns nothing from data; `adapt` is for {', '.join(ADAPTED_STATE)}",
            "remove `adapt`",
        )
        return
    problem = _adapt_problem(self, node, state)
    if problem is not None:
        self.add(where, *problem)
        return
    if self.plan.data is None:
        self.add(
            where,
            "the spec has no `data:` section, so nothing adapts the layer; `speck build` makes "
            "it un-adapted",
            "add a data section to train it, or remove `adapt`",
            "warning",
        )
    if self.spec.tune is not None:
        self.add(
            where,
            "`speck tune` does not adapt layers yet: its trials would train this one un-adapted",
            "tune a copy of the spec whose layer is given its state, or remove `tune`",
        )
    out = shapes.get(node.name)
    readers = [n.name for n in self.graph.layers if any(r.node == node.name for r in n.inputs)]
    encoded = node.args.get("output_mode", "int") != "int"  # an int output's width is known
    if out is not None and out.outputs and None in out.outputs[0][-1:] and readers and encoded:
        self.add(
            (*path, node.kind),
            f"the width of {node.kind}'s {node.args.get('output_mode')} output is the size "
            "of the vocabulary adapt learns, but the model is built before it adapts: "
            f"{readers[0]!r} cannot be built on an unknown width",
            "give max_tokens: N and pad_to_max_tokens: true (the width is then N)",
        )
