"""Back end 1, build: the resolved graph -> a live `keras.Model`.

TensorFlow/Keras is imported lazily here, inside the functions, so that the validation path
stays free of it. The emitted script builds the very same model (a test holds `get_config()`
of both equal), so every naming and wiring convention below has its twin in `speck.emit`.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from speck.graph import KerasObject, ModelGraph, Ref, TrainingPlan

KERAS_MODULES = {
    "layers": "layers",
    "optimizers": "optimizers",
    "schedules": "optimizers.schedules",
    "losses": "losses",
    "metrics": "metrics",
    "activations": "activations",
    "initializers": "initializers",
    "regularizers": "regularizers",
    "constraints": "constraints",
    "callbacks": "callbacks",
}
"""Where each catalog category lives under `keras.`."""

POSITIONAL_INPUT_LAYERS = frozenset({"MultiHeadAttention", "GroupedQueryAttention"})
"""Layers called as `layer(query, value, ...)` rather than on a list of tensors."""

INSTALL_HINT = 'this command needs TensorFlow: pip install "speck[tf]"'


class MissingTensorFlow(RuntimeError):
    """TensorFlow/Keras is not installed; the message says how to install it."""


def keras_module() -> ModuleType:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out
    try:
        import keras
        import tensorflow  # noqa: F401  (Keras runs on the TensorFlow backend)
    except ImportError as exc:
        raise MissingTensorFlow(f"{INSTALL_HINT} ({exc})") from None
    return keras


def keras_namespace(category: str) -> ModuleType:
    module: Any = keras_module()
    for part in KERAS_MODULES[category].split("."):
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


def build_model(graph: ModelGraph) -> Any:
    """The Keras model the graph describes: Sequential or functional, layers named as in it."""
    keras = keras_module()
    if graph.style == "sequential":
        (inp,) = graph.inputs
        stack = [keras.Input(shape=inp.shape, dtype=inp.dtype, name=inp.name)]
        stack += [make_layer(node.kind, node.args, node.name) for node in graph.layers]
        return keras.Sequential(stack, name=graph.name)

    tensors: dict[str, Any] = {
        node.name: keras.Input(shape=node.shape, dtype=node.dtype, name=node.name)
        for node in graph.inputs
    }
    layer_objects: dict[str, Any] = {}
    for node in graph.layers:
        if node.shares is not None:
            layer = layer_objects[node.shares]
        else:
            layer = make_layer(node.kind, node.args, node.name)
            layer_objects[node.name] = layer
        inputs = [pick(tensors, ref) for ref in node.inputs]
        if node.kind in POSITIONAL_INPUT_LAYERS:
            tensors[node.name] = layer(*inputs)
        else:
            tensors[node.name] = layer(inputs[0] if len(inputs) == 1 else inputs)
    ins = [tensors[n.name] for n in graph.inputs]
    outs = [pick(tensors, ref) for ref in graph.outputs]
    return keras.Model(
        inputs=ins[0] if len(ins) == 1 else ins,
        outputs=outs[0] if len(outs) == 1 else outs,
        name=graph.name,
    )


def make_layer(kind: str, args: dict[str, Any], name: str) -> Any:
    cls = getattr(keras_namespace("layers"), kind)
    return cls(**make_args(args), name=name)


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


def summary_text(model: Any) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line), line_length=90)
    return "\n".join(lines)
