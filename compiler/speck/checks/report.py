"""Human-readable reports of a checked spec: the table `speck validate --shapes` prints."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from speck.checks.shapes import NodeShape, format_shape, total_params
from speck.ir.graph import ModelGraph


def shapes_table(file: str, graph: ModelGraph, shapes: dict[str, NodeShape]) -> str:
    """Every node's layer, static output shape(s) and parameter count, like Keras' summary."""
    table = Table(title=f"{file}: {graph.name} ({graph.style})", title_justify="left")
    table.add_column("node")
    table.add_column("layer")
    table.add_column("reads")
    table.add_column("output shape")
    table.add_column("params", justify="right")
    reads = {n.name: ", ".join(str(r) for r in n.inputs) for n in graph.layers}
    shares = {n.name: n.shares for n in graph.layers if n.shares}
    for name, node in shapes.items():
        if node.outputs is None:
            out = "?" if node.checked else "? (not checked)"
        else:
            out = ", ".join(format_shape(s) for s in node.outputs)
        params = "?" if node.params is None else f"{node.params:,}"
        if name in shares:
            params = f"(shares {shares[name]})"
        table.add_row(name, node.kind, reads.get(name, ""), out, params)
    total = total_params(shapes, graph)
    table.caption = f"total parameters: {'unknown' if total is None else f'{total:,}'}"
    table.caption_justify = "left"
    buffer = io.StringIO()
    Console(file=buffer, width=110, no_color=True).print(table)
    return buffer.getvalue().rstrip()
