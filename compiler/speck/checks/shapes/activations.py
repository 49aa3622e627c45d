"""Activation layers (keras/src/layers/activations): Activation, Softmax, ReLU, LeakyReLU,
ELU keep their input's shape; PReLU learns one slope per non-shared input position."""

from __future__ import annotations

import math

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    ShapeError,
    format_shape,
    one_input,
    rule,
    single,
)
from speck.ir.graph import Shape


@rule("Activation", "Softmax", "ReLU", "LeakyReLU", "ELU")
def _same_shape(a: Args, inputs: list[Shape]) -> LayerShapes:
    """Apply an activation elementwise: the input's shape, no weights."""
    return single(one_input(a, inputs))


@rule("PReLU")
def _prelu(a: Args, inputs: list[Shape]) -> LayerShapes:
    x = one_input(a, inputs)
    shared = a.get("shared_axes")
    if shared is None:
        shared_axes: list[int] = []
    elif isinstance(shared, (list, tuple)):
        shared_axes = list(shared)
    else:
        shared_axes = [shared]
    dims: list[int | None] = list(x)
    for axis in shared_axes:
        if not isinstance(axis, int) or not 1 <= axis <= len(x):
            raise ShapeError(
                f"`PReLU`: shared axis {axis!r} is out of range for input shape "
                f"{format_shape(x)}. Received: shared_axes={shared!r}",
                arg="shared_axes",
            )
        dims[axis - 1] = 1
    if any(d is None for d in dims):
        raise ShapeError(
            "`PReLU` needs every non-shared dimension of its input to be known to create its "
            f"weights. Received: input shape {format_shape(x)}",
            arg="shared_axes",
            fix="share the unknown axes with `shared_axes`",
        )
    return single(x, math.prod(d for d in dims if d is not None))
