"""Stage 3, resolve: a typed spec -> the model graph and training plan both back ends read.

Every layer gets an explicit name (the spec's, or Keras' style: `conv2d`, `conv2d_1`), its
inputs become explicit references, Keras objects given as data become `KerasObject`s, and the
wiring is checked: unknown or duplicate names, cycles, shared layers, unused nodes.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speck.catalog.lookup import load_catalog, suggest
from speck.diagnostics import Diagnostic, Location, SpecError, SpecPath, did_you_mean, has_errors
from speck.front.format import FunctionalModel, LayerSpec, SequentialModel, Spec
from speck.front.format.model import parse_reference
from speck.front.validate import ACTIVATION_ARGS, WRAPPED_LAYER_ARGS, ValidatedSpec, object_category
from speck.ir.graph import (
    OP_PREFIX,
    InputNode,
    KerasObject,
    LayerNode,
    ModelGraph,
    Ref,
    TrainingPlan,
)
from speck.ir.lower import lower_data


@dataclass
class ResolvedSpec:
    validated: ValidatedSpec
    graph: ModelGraph
    plan: TrainingPlan
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def spec(self) -> Spec:
        return self.validated.spec

    @property
    def file(self) -> str:
        return self.validated.loaded.file


def snake_case(name: str) -> str:
    """Keras' default layer naming: `Conv2D` -> `conv2d`, `MaxPooling2D` -> `max_pooling2d`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def resolve(validated: ValidatedSpec) -> ResolvedSpec:
    resolver = _Resolver(validated)
    graph = resolver.graph()
    plan = resolver.plan(graph)
    if has_errors(resolver.out):
        raise SpecError([*validated.diagnostics, *resolver.out])
    return ResolvedSpec(validated, graph, plan, [*validated.diagnostics, *resolver.out])


def to_keras_object(category: str, value: Any) -> KerasObject:
    """A spec's `name` or `{ClassName: {arguments}}` as a `KerasObject` (nested ones too)."""
    catalog = load_catalog()
    if isinstance(value, str):
        if catalog.get(category, value) is not None and not catalog.is_alias(category, value):
            return KerasObject(category, class_name=value)
        return KerasObject(category, alias=value)
    ((name, args),) = value.items()
    converted = {k: convert_arg(category, k, v) for k, v in (args or {}).items()}
    return KerasObject(category, class_name=str(name), args=converted)


def convert_arg(category: str, name: str, value: Any) -> Any:
    """A nested Keras object given as data becomes a `KerasObject`; other values stay as given."""
    if value is None:
        return None
    sub = object_category(name)
    if sub is not None and isinstance(value, dict):
        return to_keras_object(sub, value)
    if category == "layers" and name in WRAPPED_LAYER_ARGS and isinstance(value, dict):
        return to_keras_object("layers", value)
    if name in ACTIVATION_ARGS and isinstance(value, dict):
        return to_keras_object("layers", value)  # an activation layer: {LeakyReLU: {...}}
    if name == "learning_rate" and isinstance(value, dict):
        return to_keras_object("schedules", value)
    return value


class _Resolver:
    def __init__(self, validated: ValidatedSpec) -> None:
        self.validated = validated
        self.spec = validated.spec
        self.source = validated.source
        self.out: list[Diagnostic] = []
        self.unknown_refs = False
        self.root: SpecPath = ("model",)
        """Where the model being resolved is: `model`, or `models.<name>` for a sub-model."""
        self.submodels: dict[str, ModelGraph] = {}
        """The sub-models the model being resolved may use, by name."""

    def loc(self, path: SpecPath, prefer: str = "key") -> Location:
        return self.source.locate(path, prefer)

    def error(self, path: SpecPath, message: str, hint: str | None = None, at: str = "key") -> None:
        self.out.append(Diagnostic(message, path, self.loc(path, at), suggestion=hint))

    def warn(self, path: SpecPath, message: str, hint: str | None = None) -> None:
        self.out.append(Diagnostic(message, path, self.loc(path), "warning", hint))

    # -- the model graph --------------------------------------------------------------------

    def graph(self) -> ModelGraph:
        """The model's graph, with the sub-models (`models:`) it and they use, each resolved
        once, in the order written (a sub-model may use those written before it)."""
        submodels: dict[str, ModelGraph] = {}
        for name, sub in (self.spec.models or {}).items():
            self.root, self.submodels = ("models", name), dict(submodels)
            submodels[name] = self.model_graph(sub, name)
        self.root, self.submodels = ("model",), submodels
        graph = self.model_graph(self.spec.model, self.spec.name)
        used = {n.kind for g in (graph, *submodels.values()) for n in g.layers}
        for name in self.spec.custom_layers or {}:
            if name not in used:
                self.warn(
                    ("custom_layers", name),
                    f"custom layer {name!r} is declared but no layer uses it",
                    "use it as a layer type, or remove it",
                )
        for name in submodels:
            if name not in used:
                self.warn(
                    ("models", name),
                    f"model {name!r} is defined but no layer uses it",
                    f"use it as a layer type (`- {name}: {{}}`), or remove it",
                )
        return graph

    def model_graph(self, model: SequentialModel | FunctionalModel, name: str) -> ModelGraph:
        if isinstance(model, SequentialModel):
            columns = _typed_columns(self.spec.data)
            if model.input is None and columns is not None:
                shape = (len(columns),)  # statically: at least one value per column
                dtype = "float32"
            elif model.input is None:
                self.error(
                    self.root,
                    "a Sequential model needs its input shape to be built",
                    "add `input: [...]` (the shape without the batch dimension)",
                )
                shape: tuple[int | None, ...] = ()
                dtype = "float32"
            else:
                shape, dtype = tuple(model.input.shape), model.input.dtype
            inputs = (InputNode(model.input_name, shape, dtype, self.loc((*self.root, "input"))),)
        else:
            inputs = tuple(
                InputNode(
                    name, tuple(spec.shape), spec.dtype, self.loc((*self.root, "inputs", name))
                )
                for name, spec in model.inputs.items()
            )
        names = self.names(inputs, model.layers)
        layers = self.layers(model, inputs, names)
        layers = self.ordered(layers, {i.name for i in inputs})
        keys: tuple[str, ...] | None = None
        if isinstance(model, SequentialModel):
            outputs: tuple[Ref, ...] = (Ref(layers[-1].name),) if layers else ()
        else:
            named = (
                model.outputs if isinstance(model.outputs, dict) else dict(enumerate(model.outputs))
            )
            outputs = tuple(
                self.ref(o, (*self.root, "outputs", key), names) for key, o in named.items()
            )
            if isinstance(model.outputs, dict):
                keys = tuple(model.outputs)
            if not self.unknown_refs:  # else every node past a typo would "reach no output"
                self.unused(inputs, layers, outputs, model)
        custom = self.custom_layers(layers)
        kinds = {n.kind for n in layers}
        submodels = {k: g for k, g in self.submodels.items() if k in kinds}
        for sub in submodels.values():
            custom.update(sub.custom_layers)
        precision = self.spec.precision if self.root == ("model",) else "float32"
        if precision != "float32":
            layers = float32_outputs(layers, outputs)
        return ModelGraph(
            name, _style(model), inputs, tuple(layers), outputs, custom, keys, submodels, precision
        )

    def custom_layers(self, layers: list[LayerNode]) -> dict[str, str]:
        """The declared custom layers that these layers use."""
        declared = self.spec.custom_layers or {}
        used = {node.kind for node in layers}
        return {name: path for name, path in declared.items() if name in used}

    def names(self, inputs: tuple[InputNode, ...], specs: list[LayerSpec]) -> list[str]:
        taken: dict[str, SpecPath] = {}
        for node in inputs:
            taken[node.name] = (*self.root, "inputs", node.name)
        for i, layer in enumerate(specs):
            if layer.name is None:
                continue
            path = (*self.root, "layers", i, "name")
            if layer.name in taken:
                self.error(
                    path,
                    f"duplicate node name {layer.name!r}",
                    "give each node its own name",
                    at="value",
                )
            taken[layer.name] = path
        names = []
        counts: dict[str, int] = {}
        for layer in specs:
            if layer.name is not None:
                names.append(layer.name)
                continue
            base = snake_case(layer.kind) or "layer"
            while True:
                n = counts.get(base, 0)
                counts[base] = n + 1
                candidate = base if n == 0 else f"{base}_{n}"
                if candidate not in taken:
                    break
            taken[candidate] = ()
            names.append(candidate)
        return names

    def ref(self, text: str, path: SpecPath, known: dict[str, None]) -> Ref:
        """`known` holds the model's node names as keys (a dict: one lookup per reference)."""
        name, index = parse_reference(text)
        if name not in known:
            nodes = list(known)
            hint = did_you_mean(suggest(name, nodes)) or f"nodes are: {', '.join(nodes)}"
            if path[-1] == 0 and path not in self.source.values:
                path = path[:-1]  # `from: x` written as one name, not a list
            self.out.append(
                Diagnostic(
                    f"{name!r} is not a node of this model",
                    path,
                    self.loc(path, prefer="value"),
                    suggestion=hint,
                )
            )
            self.unknown_refs = True
        return Ref(name, index)

    def layers(
        self,
        model: SequentialModel | FunctionalModel,
        inputs: tuple[InputNode, ...],
        names: list[str],
    ) -> list[LayerNode]:
        known = dict.fromkeys([*(n.name for n in inputs), *names])
        by_name: dict[str, LayerNode] = {}
        out = []
        previous = inputs[0].name
        for i, (layer, name) in enumerate(zip(model.layers, names, strict=True)):
            path: SpecPath = (*self.root, "layers", i)
            if isinstance(model, SequentialModel):
                if layer.from_ is not None:
                    self.error(
                        (*path, "from"),
                        "a Sequential layer reads the one before it",
                        "remove `from`, or write a functional model (inputs/outputs)",
                    )
                refs: tuple[Ref, ...] = (Ref(previous),)
            elif layer.from_ is None:
                refs = (Ref(previous),) if len(inputs) == 1 or i > 0 else ()
                if not refs:
                    self.error(
                        path,
                        "with several inputs, the first layer must say what it reads",
                        f"add `from: {inputs[0].name}`",
                    )
            else:
                refs = tuple(
                    self.ref(r, (*path, "from", j), known) for j, r in enumerate(layer.from_)
                )
            kind, args, shares = layer.kind, layer.args, None
            if kind.startswith(OP_PREFIX) and isinstance(model, SequentialModel):
                self.error(
                    (*path, kind),
                    f"{kind} is an operation on tensors, not a layer a Sequential model can hold",
                    "write a functional model (inputs/outputs) and say what it reads in `from`",
                )
            if layer.shares is not None:
                shared = by_name.get(layer.shares)
                if shared is None:
                    hint = did_you_mean(suggest(layer.shares, list(by_name)))
                    self.error(
                        (*path, "shares"),
                        f"{layer.shares!r} is not an earlier layer",
                        hint,
                        at="value",
                    )
                else:
                    kind, shares = shared.kind, shared.shares or shared.name
                    node = LayerNode(name, kind, dict(shared.args), refs, shares, self.loc(path))
                    by_name[name] = node
                    out.append(node)
                    previous = name
                    continue
            if kind in (self.spec.models or {}) and kind not in self.submodels:
                self.error(
                    (*path, kind),
                    f"model {kind!r} is not defined before this point",
                    "define it earlier under `models:` (a model cannot contain itself)",
                )
            if kind in (self.spec.custom_layers or {}) or kind in self.submodels:
                args = dict(args)  # plain values, passed as written
            else:
                args = {k: convert_arg("layers", k, v) for k, v in args.items()}
            if kind in ("Bidirectional", "TimeDistributed") and isinstance(
                args.get("layer"), KerasObject
            ):
                args = {**args, "layer": named_inner(args["layer"], name)}
            node = LayerNode(name, kind, args, refs, None, self.loc(path))
            by_name[name] = node
            out.append(node)
            previous = name
        return out

    def ordered(self, layers: list[LayerNode], inputs: set[str]) -> list[LayerNode]:
        """Layers in an order where each comes after what it reads; a cycle is an error."""
        by_name = {n.name: n for n in layers}
        done: set[str] = set(inputs)
        order: list[LayerNode] = []
        visiting: list[str] = []

        def visit(node: LayerNode) -> None:
            if node.name in done:
                return
            if node.name in visiting:
                cycle = " -> ".join([*visiting[visiting.index(node.name) :], node.name])
                self.error(
                    self._layer_path(node, layers),
                    f"the layers form a cycle: {cycle}",
                    "a layer can only read layers that do not read it",
                )
                return
            visiting.append(node.name)
            for ref in node.inputs:
                if ref.node in by_name:
                    visit(by_name[ref.node])
            visiting.pop()
            done.add(node.name)
            order.append(node)

        for node in layers:
            visit(node)
        return order

    def _layer_path(self, node: LayerNode, layers: list[LayerNode]) -> SpecPath:
        return (*self.root, "layers", [n.name for n in layers].index(node.name))

    def unused(
        self,
        inputs: tuple[InputNode, ...],
        layers: list[LayerNode],
        outputs: tuple[Ref, ...],
        model: FunctionalModel,
    ) -> None:
        by_name = {n.name: n for n in layers}
        reached: set[str] = set()
        stack = [r.node for r in outputs]
        while stack:
            name = stack.pop()
            if name in reached:
                continue
            reached.add(name)
            if name in by_name:
                # Only what a node reads: a layer that shares another's weights does not use
                # the other's output, nor the inputs that other node was called on.
                stack += [r.node for r in by_name[name].inputs]
        for node in inputs:
            if node.name not in reached:
                self.error(
                    (*self.root, "inputs", node.name),
                    f"input {node.name!r} does not reach any output",
                    "read it from a layer, or remove it",
                )
        by_location = {n.location: n.name for n in layers}
        for i in range(len(model.layers)):
            name = by_location.get(self.loc((*self.root, "layers", i)))
            if name and name not in reached:
                self.warn(
                    (*self.root, "layers", i),
                    f"layer {name!r} does not reach any output",
                    "read it from a later layer, list it in `outputs`, or remove it",
                )

    # -- the training plan --------------------------------------------------------------------

    def plan(self, graph: ModelGraph) -> TrainingPlan:
        spec = self.spec
        c = spec.compile
        optimizer = loss = None
        metrics: Any = ()
        weights: Any = None
        if c is not None:
            optimizer = to_keras_object("optimizers", c.optimizer)
            loss = self.per_output("losses", c.loss, graph)
            if isinstance(c.metrics, dict):
                metrics = {
                    k: tuple(to_keras_object("metrics", m) for m in v) for k, v in c.metrics.items()
                }
            else:
                metrics = tuple(to_keras_object("metrics", m) for m in c.metrics)
            weights = tuple(c.loss_weights) if isinstance(c.loss_weights, list) else c.loss_weights
        data = None
        if spec.data is not None:
            data = lower_data(
                spec.data,
                data_dir=str(Path(self.validated.loaded.file).parent),
                output_names=graph.output_names,
                loss=loss,
                input_shape=graph.inputs[0].shape if len(graph.inputs) == 1 else None,
                location=self.loc(("data", "source")),
            )
        callbacks = tuple(_callback(cb) for cb in spec.callbacks)
        return TrainingPlan(
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            loss_weights=weights,
            epochs=spec.fit.epochs,
            batch_size=spec.fit.batch_size,
            shuffle=spec.fit.shuffle,
            validation_freq=spec.fit.validation_freq,
            steps_per_epoch=spec.fit.steps_per_epoch,
            callbacks=callbacks,
            data=data,
            seed=spec.seed,
            distribute=spec.distribute,
            name=spec.name,
            description=spec.description,
            verbose=spec.fit.verbose,
            backup_dir=backup_dir_of(callbacks),
            saved_submodels=tuple(
                n.name for n in graph.layers if n.kind in graph.submodels and n.shares is None
            ),
            spec_file=self.validated.loaded.file,
            spec_sha256=self.validated.loaded.sha256,
        )

    def per_output(self, category: str, value: Any, graph: ModelGraph) -> Any:
        if isinstance(value, dict) and set(value) <= set(graph.output_names) and value:
            return {k: to_keras_object(category, v) for k, v in value.items()}
        return to_keras_object(category, value)


def backup_dir_of(callbacks: tuple[KerasObject, ...]) -> str:
    """Where the run keeps the state it resumes from: the spec's own BackupAndRestore folder,
    else `backup` (the run then adds one), relative to the run folder."""
    for cb in callbacks:
        if cb.class_name == "BackupAndRestore" and isinstance(cb.args.get("backup_dir"), str):
            return str(cb.args["backup_dir"])
    return "backup"


def float32_outputs(layers: list[LayerNode], outputs: tuple[Ref, ...]) -> list[LayerNode]:
    """Under mixed precision, the layers that give the model's outputs compute in float32, as
    Keras recommends (a softmax or loss in 16 bits loses precision), unless the spec set a
    dtype; a layer that shares another's weights takes the other's dtype."""
    named = {ref.node for ref in outputs}
    return [
        dataclasses.replace(node, args={**node.args, "dtype": "float32"})
        if node.name in named and node.shares is None and "dtype" not in node.args
        else node
        for node in layers
    ]


def _callback(value: Any) -> KerasObject:
    if isinstance(value, str):
        return KerasObject("callbacks", class_name=value)
    return to_keras_object("callbacks", value)


def named_inner(inner: KerasObject, outer: str) -> KerasObject:
    """Wrapped layers get a fixed name too, so that every build names them alike."""
    if "name" in inner.args:
        return inner
    name = f"{outer}_{snake_case(inner.class_name or 'layer')}"
    return KerasObject(inner.category, inner.class_name, None, {**inner.args, "name": name})


def _style(model: SequentialModel | FunctionalModel) -> Any:
    return "sequential" if isinstance(model, SequentialModel) else "functional"


def _typed_columns(data: Any) -> dict[str, Any] | None:
    """The typed columns of a CSV source (its `FeatureSpace` features), if it has them."""
    from speck.front.format.data import CsvSource

    source = getattr(data, "source", None)
    return source.typed_columns if isinstance(source, CsvSource) else None
