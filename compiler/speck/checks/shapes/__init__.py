"""Static shape inference over the model graph, without TensorFlow.

`speck validate` runs this package to find the layers Keras would reject (a pooling window
larger than its input, a `Reshape` to an impossible size, a `Concatenate` of mismatched
tensors) and to count parameters, in milliseconds and without importing TensorFlow, Keras or
NumPy.

Each rule mirrors the Keras 3 layer's `compute_output_shape` and `build` (weights it creates),
so the shapes and parameter counts here are those `keras.layers.<Kind>(**args)` gives when called
on symbolic inputs. Shapes never include the batch dimension; `None` is an unknown size. Where a
rule's error text names a Keras axis (`axis`, `dims`), that index counts the batch dimension, as
Keras does. A few rules are stricter than Keras' symbolic pass where Keras would only fail once
data flows (`Attention` with mismatched query and key sizes, `MultiHeadAttention` with query and
value of different rank, `Resizing`/`CenterCrop` on non-image inputs); the docstrings of those
rules say so.

The rules live beside their families, one module per folder of Keras' `keras/src/layers/`
(`core`, `activations`, `convolutional`, `pooling`, `reshaping`, `merging`, `normalization`,
`preprocessing`, `regularization`, `rnn`, `attention`), plus `applications` for the layers
Keras' applications keep unexported. Each rule is registered by the `@rule("Kind", ...)`
decorator above it, so a new layer's shape is one function in its family's module. `base` holds
the registry, the argument readers and the dimension helpers; `model` walks a whole graph.
"""

from __future__ import annotations

# Importing each family registers its rules.
from speck.checks.shapes import (  # noqa: F401
    activations,
    applications,
    attention,
    convolutional,
    core,
    merging,
    normalization,
    pooling,
    preprocessing,
    regularization,
    reshaping,
    rnn,
)
from speck.checks.shapes.base import (
    LayerShapes,
    ShapeError,
    format_shape,
    infer_layer,
    supported_kinds,
)
from speck.checks.shapes.model import NodeShape, ShapeProblem, infer_graph, total_params

__all__ = [
    "LayerShapes",
    "NodeShape",
    "ShapeError",
    "ShapeProblem",
    "format_shape",
    "infer_graph",
    "infer_layer",
    "supported_kinds",
    "total_params",
]
