"""Stage 4, check: static shapes and training checks over the resolved graph, without TensorFlow.

Shapes come from `speck.shapes` (one rule per layer, Keras' semantics); the training checks hold
the compile and callback settings against the model: a `monitor` must name a compiled metric,
the loss must suit the output, and so on. Every finding points at the spec line to change.
"""

from __future__ import annotations

from typing import Any

from speck.diagnostics import Diagnostic
from speck.resolve import ResolvedSpec

NodeShape = Any  # replaced by speck.shapes.NodeShape once shape inference lands


def check(resolved: ResolvedSpec) -> tuple[dict[str, Any], list[Diagnostic]]:
    return {}, []
