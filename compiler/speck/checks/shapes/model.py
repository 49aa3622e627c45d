"""Shapes over a whole model graph: every node in order, with its errors and "not checked"
notes, sub-models on their own graphs, and the parameter count Keras reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from speck.checks.shapes.base import (
    INPUT_FREE_RULES,
    KERAS_CUSTOM_RULES,
    RULES,
    Args,
    LayerShapes,
    ShapeError,
    format_shape,
    infer_layer,
)
from speck.ir.graph import LayerNode, ModelGraph, Ref, Shape


@dataclass(frozen=True)
class NodeShape:
    """The inferred shapes of one graph node; `outputs` is None where they are unknown."""

    name: str
    kind: str
    outputs: tuple[Shape, ...] | None
    params: int | None
    checked: bool


@dataclass(frozen=True)
class ShapeProblem:
    """A shape error (or, with severity "note", a layer whose shapes were not checked)."""

    node: str
    arg: str | None
    message: str
    fix: str | None
    severity: Literal["error", "note"]


def _note(node: LayerNode) -> ShapeProblem:
    return ShapeProblem(
        node=node.name,
        arg=None,
        message=f"shape not checked: speck has no shape rule for `{node.kind}`; "
        "shapes after it are checked again where they do not depend on it",
        fix=None,
        severity="note",
    )


def _resolve_ref(ref: Ref, shapes: dict[str, NodeShape]) -> tuple[Shape | None, ShapeError | None]:
    source = shapes.get(ref.node)
    if source is None:
        return None, ShapeError(f"`{ref}` names no earlier node.")
    if source.outputs is None:
        return None, None
    if ref.index is None:
        if len(source.outputs) != 1:
            return None, ShapeError(
                f"`{ref.node}` has {len(source.outputs)} outputs; pick one. "
                f"Received: from {ref.node}",
                fix=f"write {ref.node}[0] (or another index below {len(source.outputs)})",
            )
        return source.outputs[0], None
    if not 0 <= ref.index < len(source.outputs):
        return None, ShapeError(
            f"`{ref.node}` has {len(source.outputs)} output"
            f"{'' if len(source.outputs) == 1 else 's'}. Received: from {ref}",
            fix=f"use an index below {len(source.outputs)}",
        )
    return source.outputs[ref.index], None


def _input_free(node: LayerNode) -> LayerShapes | None:
    """Outputs of a layer whose result does not depend on its (unknown) input shape."""
    found = INPUT_FREE_RULES.get(node.kind)
    return None if found is None else found(Args(node.kind, node.args))


def infer_graph(graph: ModelGraph) -> tuple[dict[str, NodeShape], list[ShapeProblem]]:
    """Infer every node's shapes in graph order, collecting errors and "not checked" notes.

    A layer without a rule gets a note and unknown outputs; layers reading unknown shapes get
    unknown outputs too (no further message), except where the output does not depend on the
    input (a `Reshape` with no -1). A layer that reuses another's weights (`shares`) must
    produce the same weight count on its own inputs.
    """
    shapes: dict[str, NodeShape] = {}
    problems: list[ShapeProblem] = []
    for inp in graph.inputs:
        shapes[inp.name] = NodeShape(inp.name, "Input", (tuple(inp.shape),), 0, True)
    for node in graph.layers:
        in_shapes: list[Shape] = []
        unknown = False
        error: ShapeError | None = None
        for ref in node.inputs:
            shape, err = _resolve_ref(ref, shapes)
            if err is not None:
                error = err
                break
            if shape is None:
                unknown = True
            else:
                in_shapes.append(shape)
        if error is not None:
            problems.append(ShapeProblem(node.name, error.arg, error.message, error.fix, "error"))
            shapes[node.name] = NodeShape(node.name, node.kind, None, None, True)
            continue
        sub = graph.submodels.get(node.kind)
        if sub is not None:  # a model used as a layer: its own graph, on its own inputs
            shapes[node.name] = _submodel_shapes(node.name, sub)
            continue
        known = KERAS_CUSTOM_RULES.get(graph.custom_layers.get(node.kind, ""))
        if known is not None and not unknown and len(in_shapes) == 1:
            result = known(node.args, in_shapes[0])
            shapes[node.name] = NodeShape(node.name, node.kind, result.outputs, result.params, True)
            continue
        if node.kind not in RULES:
            problems.append(_note(node))
            shapes[node.name] = NodeShape(node.name, node.kind, None, None, False)
            continue
        if unknown:
            free = _input_free(node)
            outputs = None if free is None else free.outputs
            shapes[node.name] = NodeShape(node.name, node.kind, outputs, None, True)
            continue
        try:
            result = infer_layer(node.kind, node.args, in_shapes)
        except ShapeError as err:
            problems.append(ShapeProblem(node.name, err.arg, err.message, err.fix, "error"))
            shapes[node.name] = NodeShape(node.name, node.kind, None, None, True)
            continue
        if result is None:  # a wrapper around a layer without a rule
            problems.append(_note(node))
            shapes[node.name] = NodeShape(node.name, node.kind, None, None, False)
            continue
        if node.shares is not None:
            owner = shapes.get(node.shares)
            if owner is not None and owner.params is not None and owner.params != result.params:
                problems.append(
                    ShapeProblem(
                        node.name,
                        None,
                        f"`{node.name}` reuses the weights of `{node.shares}`, but on these "
                        f"inputs it would need {result.params} weights, not "
                        f"{owner.params}. Received: input shapes "
                        f"{', '.join(format_shape(s) for s in in_shapes)}",
                        "give the shared layer inputs of the same feature size",
                        "error",
                    )
                )
                shapes[node.name] = NodeShape(node.name, node.kind, None, None, True)
                continue
        shapes[node.name] = NodeShape(node.name, node.kind, result.outputs, result.params, True)
    return shapes, problems


def _submodel_shapes(name: str, sub: ModelGraph) -> NodeShape:
    """A sub-model node's outputs and weights, inferred over the sub-model's own graph (its
    own problems are reported where it is defined)."""
    inner, _ = infer_graph(sub)
    outputs: list[Shape] = []
    for ref in sub.outputs:
        shape, error = _resolve_ref(ref, inner)
        if shape is None or error is not None:
            return NodeShape(name, sub.name, None, total_params(inner, sub), True)
        outputs.append(shape)
    return NodeShape(name, sub.name, tuple(outputs), total_params(inner, sub), True)


def total_params(shapes: dict[str, NodeShape], graph: ModelGraph) -> int | None:
    """The model's parameter count as Keras' `model.count_params()` gives it: shared layers
    counted once. None when any layer's count is unknown."""
    total = 0
    for node in graph.layers:
        if node.shares is not None:
            continue
        shape = shapes.get(node.name)
        if shape is None or shape.params is None:
            return None
        total += shape.params
    return total
