"""Back end 1, build: the resolved graph -> a live `keras.Model`.

TensorFlow/Keras is imported lazily here, inside the functions, so that the validation path
stays free of it. The emitted script builds the very same model (a test holds `get_config()`
of both equal), so every naming and wiring convention below has its twin in `speck.emit`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from speck.catalog.lookup import KERAS_NAMESPACES
from speck.front.names import OP_PREFIX
from speck.ir.graph import KerasObject, ModelGraph, Ref, TrainingPlan

POSITIONAL_INPUT_LAYERS = frozenset({"MultiHeadAttention", "GroupedQueryAttention"})
"""Layers called as `layer(query, value, ...)` rather than on a list of tensors."""

INSTALL_HINT = 'this command needs TensorFlow: in the speck checkout, pip install -e ".[tf]"'
"""speck is installed from its repository; its `tf` extra brings TensorFlow, Keras, NumPy,
matplotlib, scikit-learn and KerasTuner (a bare `pip install speck` would fetch another project)."""


class MissingTensorFlow(RuntimeError):
    """TensorFlow/Keras is not installed; the message says how to install it."""


def keras_module() -> ModuleType:
    """Keras on TensorFlow, imported with the cycle collector paused: the import makes millions
    of objects, and collecting among them as they appear costs about a third of its CPU time
    (about 1.5 s here). What the import made is then left out of later collections: modules
    live as long as the process."""
    from speck.backends.run.tf_logs import quiet_start_up
    from speck.memory import collector_paused

    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    try:
        with collector_paused(freeze=True), quiet_start_up():  # no TensorFlow C++ chatter
            import keras
            import tensorflow  # noqa: F401  (Keras runs on the TensorFlow backend)
    except ImportError as exc:
        raise MissingTensorFlow(f"{INSTALL_HINT} ({exc})") from None
    return keras


def require_numpy() -> None:
    """NumPy, which the checks of data files read arrays with before TensorFlow loads, comes
    with the same extra: without it, say how to install that (not a missing-module error)."""
    try:
        import numpy  # noqa: F401
    except ImportError as exc:
        raise MissingTensorFlow(f"{INSTALL_HINT} ({exc})") from None


class CustomLayerError(ValueError):
    """A custom layer cannot be used; `name` is its type name in the spec's `custom_layers`."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class CustomLayersNotAllowed(CustomLayerError):
    """The model uses custom layers and the caller did not allow importing them."""


ALLOW_FLAG = "--allow-custom-layers"


def not_allowed(custom: Mapping[str, str]) -> CustomLayersNotAllowed:
    listed = ", ".join(f"{name} from {path.split(':')[0]}" for name, path in custom.items())
    return CustomLayersNotAllowed(
        next(iter(custom)),
        f"this spec uses custom layers ({listed}); speck imports their code only when "
        f"told to: pass {ALLOW_FLAG} to speck build, train or emit",
    )


def import_custom_layers(custom: Mapping[str, str]) -> dict[str, type]:
    """Import each custom layer (`module.path:ClassName`) and check that it is a Keras layer.

    This runs the modules' code: call it only where the user opted in (`--allow-custom-layers`).
    Raises `CustomLayerError` naming the layer that cannot be used.
    """
    keras = keras_module()
    classes: dict[str, type] = {}
    for name, path in custom.items():
        module_name, _, class_name = path.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise CustomLayerError(
                name,
                f"cannot import {module_name!r} for the custom layer {name}: {exc} "
                "(install it, or put its folder on PYTHONPATH)",
            ) from None
        except Exception as exc:
            raise CustomLayerError(
                name, f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
            ) from None
        cls = getattr(module, class_name, None)
        if cls is None:
            raise CustomLayerError(name, f"the module {module_name!r} has no {class_name!r}")
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            raise CustomLayerError(
                name,
                f"{path} is not a Keras layer class (a subclass of keras.layers.Layer). "
                f"Received: {cls!r}",
            )
        classes[name] = cls
    return classes


def keras_namespace(category: str) -> ModuleType:
    module: Any = keras_module()
    for part in KERAS_NAMESPACES[category].split(".")[1:]:
        module = getattr(module, part)
    return module


def make_object(obj: KerasObject) -> Any:
    """Instantiate a `KerasObject`; an alias stays the string Keras resolves itself."""
    if obj.alias is not None:
        return obj.alias
    cls = getattr(keras_namespace(obj.category), str(obj.class_name))
    return cls(**make_args(obj.args))


def make_args(args: dict[str, Any]) -> dict[str, Any]:
    return {k: make_object(v) if isinstance(v, KerasObject) else v for k, v in args.items()}


def build_model(graph: ModelGraph, allow_custom_layers: bool = False, features: Any = None) -> Any:
    """The Keras model the graph describes: Sequential or functional, layers named as in it.

    A graph with custom layers raises `CustomLayersNotAllowed` unless `allow_custom_layers`,
    which imports them (`import_custom_layers`). With `features` (the adapted
    `keras.utils.FeatureSpace` of a table's typed columns) the (Sequential) model takes the raw
    columns and starts from their encoding, as an emitted program's `build_model` does."""
    keras = keras_module()
    if graph.precision != "float32":  # the layers keep the policy they were made under
        policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy(graph.precision)
        try:
            unmixed = dataclasses.replace(graph, precision="float32")
            return build_model(unmixed, allow_custom_layers, features)
        finally:
            keras.config.set_dtype_policy(policy)  # speck may build other models in this process
    custom: dict[str, type] = {}
    if graph.custom_layers:
        if not allow_custom_layers:
            raise not_allowed(graph.custom_layers)
        custom = import_custom_layers(graph.custom_layers)
    return _build(graph, graph.name, custom, features)


def _build(graph: ModelGraph, name: str, custom: Mapping[str, type], features: Any = None) -> Any:
    """The model of `graph`, named `name` (a sub-model is named after the node using it);
    `features` as `build_model` takes them."""
    keras = keras_module()

    def make(node: Any) -> Any:
        sub = graph.submodels.get(node.kind)
        if sub is not None:
            return _build(sub, node.name, custom)
        return make_layer(node.kind, node.args, node.name, custom)

    if graph.style == "sequential":
        (inp,) = graph.inputs
        stack = (
            []
            if features is not None
            else [keras.Input(shape=inp.shape, dtype=inp.dtype, name=inp.name)]
        )
        stack += [make(node) for node in graph.layers]
        if features is not None:
            stacked = keras.Sequential(stack, name=f"{name}_layers")
            encoded = stacked(features.get_encoded_features())
            return keras.Model(dict(features.get_inputs()), encoded, name=name)
        return keras.Sequential(stack, name=name)

    tensors: dict[str, Any] = {
        node.name: keras.Input(shape=node.shape, dtype=node.dtype, name=node.name)
        for node in graph.inputs
    }
    layer_objects: dict[str, Any] = {}
    for node in graph.layers:
        if node.kind.startswith(OP_PREFIX):
            inputs = [pick(tensors, ref) for ref in node.inputs]
            tensors[node.name] = make_op(node.kind, node.args, node.name)(*inputs)
            continue
        if node.shares is not None:
            layer = layer_objects[node.shares]
        else:
            layer = make(node)
            layer_objects[node.name] = layer
        inputs = [pick(tensors, ref) for ref in node.inputs]
        if node.kind in POSITIONAL_INPUT_LAYERS:
            tensors[node.name] = layer(*inputs)
        else:
            tensors[node.name] = layer(inputs[0] if len(inputs) == 1 else inputs)
    ins = [tensors[n.name] for n in graph.inputs]
    outs = [pick(tensors, ref) for ref in graph.outputs]
    outputs: Any = outs[0] if len(outs) == 1 else outs
    if graph.output_keys is not None:
        outputs = dict(zip(graph.output_keys, outs, strict=True))
    return keras.Model(inputs=ins[0] if len(ins) == 1 else ins, outputs=outputs, name=name)


def make_layer(
    kind: str, args: dict[str, Any], name: str, custom: Mapping[str, type] | None = None
) -> Any:
    """The layer `kind(**args, name=name)`: a Keras layer, or one of the imported `custom`."""
    if custom and kind in custom:
        return custom[kind](**args, name=name)
    cls = getattr(keras_namespace("layers"), kind)
    return cls(**make_args(args), name=name)


def make_op(kind: str, args: dict[str, Any], name: str) -> Any:
    """The operation behind `keras.ops.<fn>` (`ops.add` -> `keras.src.ops.numpy.Add`), named,
    as Keras itself makes it again from a saved config: `Add(name="add_4")`."""
    from speck.catalog.lookup import load_catalog

    target = load_catalog().op_class(kind.removeprefix(OP_PREFIX))
    if target is None or not target[0].startswith("keras.src.ops."):
        raise ValueError(f"{kind} is not an operation of keras.ops")
    module, cls = target
    return getattr(importlib.import_module(module), cls)(**make_args(args), name=name)


def pick(tensors: dict[str, Any], ref: Ref) -> Any:
    value = tensors[ref.node]
    return value if ref.index is None else value[ref.index]


def compile_model(model: Any, plan: TrainingPlan) -> None:
    """`model.compile` with the plan's optimizer, loss(es), metrics and loss weights."""
    if not plan.compiled:
        return
    model.compile(**compile_args(plan))


def compile_args(plan: TrainingPlan) -> dict[str, Any]:
    def many(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: many(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return [make_object(v) for v in value]
        return make_object(value)

    args: dict[str, Any] = {
        "optimizer": make_object(plan.optimizer or KerasObject("optimizers", alias="adam"))
    }
    args["loss"] = many(plan.loss)
    if plan.metrics:
        args["metrics"] = many(plan.metrics)
    if plan.loss_weights is not None:
        weights = plan.loss_weights
        args["loss_weights"] = list(weights) if isinstance(weights, tuple) else dict(weights)
    return args


SUMMARY_COLUMNS = 200
"""Room for Keras' summary table at its own default width (88 to 120 columns)."""


def summary_text(model: Any) -> str:
    """Keras' model summary as text, whole: Keras draws it with rich, which takes its width from
    `COLUMNS` or the terminal and cuts the table at 80 columns when the output is piped."""
    lines: list[str] = []
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(SUMMARY_COLUMNS)
    try:
        model.summary(print_fn=lambda line, *a, **k: lines.append(line))
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(lines)
