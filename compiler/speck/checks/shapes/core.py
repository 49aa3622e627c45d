"""Core layers (keras/src/layers/core): Dense, Embedding, Identity, Masking."""

from __future__ import annotations

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    ShapeError,
    format_shape,
    known_dim,
    one_input,
    rule,
    single,
)
from speck.ir.graph import Shape


@rule("Identity", "Masking")
def _same_shape(a: Args, inputs: list[Shape]) -> LayerShapes:
    """Keep their input's shape; no weights."""
    return single(one_input(a, inputs))


@rule("Dense")
def _dense(a: Args, inputs: list[Shape]) -> LayerShapes:
    units = a.positive_int("units")
    x = one_input(a, inputs)
    if len(x) < 1:
        raise ShapeError(
            "Input 0 of layer `Dense` is incompatible with the layer: expected min_ndim=2, "
            f"found ndim=1. Received: input shape {format_shape(x)}",
            fix="add a Reshape or Embedding before it",
        )
    features = known_dim(a, x, -1, "last dimension")
    params = features * units + (units if a.flag("use_bias", True) else 0)
    return single((*x[:-1], units), params)


@rule("Embedding")
def _embedding(a: Args, inputs: list[Shape]) -> LayerShapes:
    input_dim = a.positive_int("input_dim")
    output_dim = a.positive_int("output_dim")
    x = one_input(a, inputs)
    return single((*x, output_dim), input_dim * output_dim)
