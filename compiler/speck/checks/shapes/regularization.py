"""Regularization layers (keras/src/layers/regularization): dropout and noise keep their
input's shape; SpatialDropout1D/2D/3D also want the rank their spatial axes imply."""

from __future__ import annotations

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    expect_rank,
    one_input,
    rule,
    single,
)
from speck.ir.graph import Shape


@rule("Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization")
def _same_shape(a: Args, inputs: list[Shape]) -> LayerShapes:
    """Dropout and noise keep their input's shape; no weights."""
    return single(one_input(a, inputs))


@rule("SpatialDropout1D", rank=1)
@rule("SpatialDropout2D", rank=2)
@rule("SpatialDropout3D", rank=3)
def _spatial_dropout(a: Args, inputs: list[Shape], *, rank: int) -> LayerShapes:
    x = one_input(a, inputs)
    expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
    return single(x)
