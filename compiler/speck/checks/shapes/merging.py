"""Merging layers (keras/src/layers/merging): Add, Subtract, Multiply, Average, Maximum,
Minimum (and the keras.ops that broadcast alike), Concatenate, Dot."""

from __future__ import annotations

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    ShapeError,
    format_shape,
    need_inputs,
    rule,
    single,
)
from speck.ir.graph import Shape


def _broadcast(a: Args, s1: Shape, s2: Shape) -> Shape:
    """keras Merge._compute_elemwise_op_output_shape (right-aligned, 1 broadcasts)."""
    if len(s1) < len(s2):
        s1, s2 = s2, s1
    if not s2:
        return s1
    out: list[int | None] = list(s1[: -len(s2)])
    for i, j in zip(s1[-len(s2) :], s2, strict=True):
        if i is None or j is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise ShapeError(
                f"`{a.kind}` inputs have incompatible shapes: {format_shape(s1)} and "
                f"{format_shape(s2)} differ ({i} against {j}) and neither is 1. "
                f"Received: input shapes {format_shape(s1)}, {format_shape(s2)}",
                fix="make the inputs the same shape (a Dense or Reshape before one of them)",
            )
    return tuple(out)


@rule("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
# keras.ops on tensors broadcast like the layers
@rule("ops.add", "ops.subtract", "ops.multiply", "ops.divide", "ops.maximum", "ops.minimum")
def _elementwise(a: Args, inputs: list[Shape]) -> LayerShapes:
    if a.kind == "Subtract":
        need_inputs(a, inputs, 2, 2)
    else:
        need_inputs(a, inputs, 1)
    out = inputs[0]
    for shape in inputs[1:]:
        out = _broadcast(a, out, shape)
    return single(out)


@rule("Concatenate")
def _concatenate(a: Args, inputs: list[Shape]) -> LayerShapes:
    axis = a.get("axis", -1)
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ShapeError(f"`Concatenate` expects an integer axis. Received: axis={axis!r}", "axis")
    need_inputs(a, inputs, 1)
    fulls = [(None, *s) for s in inputs]
    reduced: list[tuple[int | None, ...]] = []
    for full in fulls:
        rank = len(full)
        if not -rank <= axis < rank:
            raise ShapeError(
                f"`Concatenate` axis {axis} is out of bounds for an input of rank {rank} "
                f"(batch included). Received: axis={axis}, input shape {format_shape(full[1:])}",
                arg="axis",
            )
        rest = list(full)
        del rest[axis]
        reduced.append(tuple(rest))
    if len({len(r) for r in reduced}) != 1 or any(
        len({r[i] for r in reduced} - {None}) > 1 for i in range(len(reduced[0]))
    ):
        shapes = ", ".join(format_shape(s) for s in inputs)
        raise ShapeError(
            "A `Concatenate` layer requires inputs with matching shapes except for the "
            f"concatenation axis (axis={axis}). Received: input shapes {shapes}",
            arg="axis" if "axis" in a.args and len({len(s) for s in inputs}) == 1 else None,
            fix=f"make the inputs agree on every axis except axis {axis}",
        )
    out = list(fulls[0])
    for full in fulls[1:]:
        if out[axis] is None or full[axis] is None:
            out[axis] = None
            break
        out[axis] += full[axis]  # type: ignore[operator]
    return single(tuple(out[1:]))


@rule("Dot")
def _dot(a: Args, inputs: list[Shape]) -> LayerShapes:
    axes = a.required("axes")
    if isinstance(axes, int) and not isinstance(axes, bool):
        pair = None
    elif (
        isinstance(axes, (list, tuple))
        and len(axes) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in axes)
    ):
        pair = (axes[0], axes[1])
    else:
        raise ShapeError(
            f"`Dot` expects `axes` to be an integer or two integers. Received: axes={axes!r}",
            arg="axes",
        )
    need_inputs(a, inputs, 2, 2)
    s1, s2 = [list((None, *s)) for s in inputs]
    if pair is None:
        pair = (axes % len(s1), axes % len(s2)) if axes < 0 else (axes, axes)
    for ax, s in zip(pair, (s1, s2), strict=True):
        if not -len(s) <= ax < len(s):
            raise ShapeError(
                f"`Dot` axis {ax} is out of bounds for an input of rank {len(s)} (batch "
                f"included). Received: axes={axes!r}",
                arg="axes",
            )
    if s1[pair[0]] != s2[pair[1]]:
        raise ShapeError(
            f"`Dot` needs equal sizes on the contracted axes: {s1[pair[0]]} (axis {pair[0]}) "
            f"!= {s2[pair[1]]} (axis {pair[1]}). Received: input shapes "
            f"{format_shape(inputs[0])}, {format_shape(inputs[1])}",
            arg="axes",
        )
    s1.pop(pair[0])
    s2.pop(pair[1])
    s2.pop(0)
    out = s1 + s2
    if len(out) == 1:
        out.append(1)
    return single(tuple(out[1:]))
