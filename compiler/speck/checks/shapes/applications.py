"""Layers that Keras' applications define without exporting them (keras/src/applications),
ruled by their import path: a spec names them under `custom_layers`."""

from __future__ import annotations

from typing import Any

from speck.checks.shapes.base import LayerShapes, custom_rule, single
from speck.ir.graph import Shape


@custom_rule("keras.src.applications.convnext:LayerScale")
def _layer_scale(args: dict[str, Any], shape: Shape) -> LayerShapes:
    """ConvNeXt's `LayerScale`: the input times a learned vector of `projection_dim` values."""
    dim = args.get("projection_dim")
    return single(shape, dim if isinstance(dim, int) and not isinstance(dim, bool) else 0)
