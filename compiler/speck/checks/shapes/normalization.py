"""Normalization layers (keras/src/layers/normalization): BatchNormalization,
LayerNormalization, GroupNormalization, UnitNormalization. (The adaptable `Normalization`
is a preprocessing layer in Keras, and lives in `preprocessing`.)"""

from __future__ import annotations

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    ShapeError,
    format_shape,
    full_axis,
    known_dim,
    one_input,
    rule,
    single,
)
from speck.ir.graph import Shape


@rule("UnitNormalization")
def _same_shape(a: Args, inputs: list[Shape]) -> LayerShapes:
    """Scales each vector to unit length: the input's shape, no weights."""
    return single(one_input(a, inputs))


@rule("BatchNormalization")
def _batch_norm(a: Args, inputs: list[Shape]) -> LayerShapes:
    axis = a.get("axis", -1)
    x = one_input(a, inputs)
    full = (None, *x)
    ax = full_axis(a, axis, len(full))
    if ax == 0:
        raise ShapeError(
            "`BatchNormalization` cannot normalize over the batch axis. Received: axis=0",
            arg="axis",
        )
    c = known_dim(a, x, ax - 1, f"axis {axis}")
    weights = (a.flag("scale", True) + a.flag("center", True) + 2) * c
    if a.flag("renorm", False):
        weights += 3 * c
    return single(x, weights)


@rule("LayerNormalization")
def _layer_norm(a: Args, inputs: list[Shape]) -> LayerShapes:
    axis = a.get("axis", -1)
    x = one_input(a, inputs)
    full = (None, *x)
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    count = int(a.flag("scale", True)) + int(a.flag("center", True))
    size = 1
    for ax in axes:
        idx = full_axis(a, ax, len(full))
        if count == 0:  # no weights, so any axis size will do
            continue
        if idx == 0:
            raise ShapeError(
                "`LayerNormalization` cannot take weights over the batch axis. "
                f"Received: axis={axis!r}",
                arg="axis",
            )
        size *= known_dim(a, x, idx - 1, f"axis {ax}")
    return single(x, count * size)


@rule("GroupNormalization")
def _group_norm(a: Args, inputs: list[Shape]) -> LayerShapes:
    groups = a.get("groups", 32)
    if not isinstance(groups, int) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
        raise ShapeError(
            "`GroupNormalization` expects `groups` to be a positive integer (or -1). "
            f"Received: groups={groups!r}",
            arg="groups",
        )
    axis = a.get("axis", -1)
    x = one_input(a, inputs)
    full = (None, *x)
    idx = full_axis(a, axis, len(full))
    if idx == 0:
        raise ShapeError("`GroupNormalization` cannot use the batch axis.", arg="axis")
    dim = known_dim(a, x, idx - 1, f"axis {axis}")
    g = dim if groups == -1 else groups
    if dim < g or dim % g:
        raise ShapeError(
            f"`GroupNormalization` needs the {dim} channels on axis {axis} to split evenly "
            f"into {g} groups. Received: groups={groups}, input shape {format_shape(x)}",
            arg="groups",
            fix="use a number of groups that divides the channel count",
        )
    count = int(a.flag("scale", True)) + int(a.flag("center", True))
    return single(x, count * dim)
