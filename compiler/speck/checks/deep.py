"""`speck validate --deep`: build each model with Keras and hold the static answers to it.

Static checking is exact for the layers it has rules for; `--deep` asks Keras itself, so a
spec that passes here will build. It reports where Keras disagrees with the static shapes or
parameter count (which would be a speck bug) and any error Keras raises while building.
"""

from __future__ import annotations

from speck.backends.build import build_model
from speck.checks.shapes import NodeShape, format_shape, total_params
from speck.diagnostics import Diagnostic, Location
from speck.ir.resolve import ResolvedSpec


def deep_check(resolved: ResolvedSpec, shapes: dict[str, NodeShape] | None) -> list[Diagnostic]:
    where = Location(resolved.file, 1, 1)
    if resolved.graph.custom_layers:
        message = "not built with Keras: custom layers run only under --allow-custom-layers"
        return [Diagnostic(message, ("custom_layers",), where, "note")]
    try:
        model = build_model(resolved.graph)
    except Exception as exc:  # Keras' own message is the answer here
        message = " ".join(str(exc).split())
        return [Diagnostic(f"Keras cannot build this model: {message}", ("model",), where)]
    out: list[Diagnostic] = []
    if shapes is None:
        return out
    for node in resolved.graph.layers:
        static = shapes.get(node.name)
        if static is None or static.outputs is None:
            continue
        layer = model.get_layer(node.shares or node.name)
        outputs = _keras_outputs(model, node.name)
        if outputs is not None and outputs != [tuple(s) for s in static.outputs]:
            shown = ", ".join(format_shape(s) for s in static.outputs)
            out.append(
                Diagnostic(
                    f"static shapes {shown} differ from Keras' {outputs}",
                    ("model", "layers"),
                    node.location or where,
                    "warning",
                )
            )
        if node.shares is None and static.params not in (None, layer.count_params()):
            out.append(
                Diagnostic(
                    f"static parameter count {static.params} differs from Keras' "
                    f"{layer.count_params()}",
                    ("model", "layers"),
                    node.location or where,
                    "warning",
                )
            )
    total = total_params(shapes, resolved.graph)
    if total is not None and total != model.count_params():
        out.append(
            Diagnostic(
                f"static total {total:,} parameters differs from Keras' {model.count_params():,}",
                ("model",),
                where,
                "warning",
            )
        )
    return out


def _keras_outputs(model: object, name: str) -> list[tuple[int | None, ...]] | None:
    """Batchless output shapes of the node Keras made for `name` (its first call)."""
    try:
        layer = model.get_layer(name)  # type: ignore[attr-defined]
    except ValueError:
        return None
    output = layer.output
    tensors = output if isinstance(output, list | tuple) else [output]
    return [tuple(t.shape[1:]) for t in tensors]
