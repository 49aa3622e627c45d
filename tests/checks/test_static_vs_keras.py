"""Static shapes and parameter counts held to Keras: every spec in specs/, and drawn specs.

`speck validate` infers shapes without TensorFlow; here Keras builds the same models and every
node's output shapes and parameter count must agree, and a spec the static check rejects must be
one Keras refuses to build (and the other way round).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speck.checks.shapes import total_params
from speck.diagnostics import SpecError
from speck.front.load import load_text
from speck.front.validate import validate
from speck.ir.resolve import resolve
from speck.pipeline import Analysis, analyze

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.y*ml"))

keras = pytest.importorskip("keras")
from speck.backends.build import build_model  # noqa: E402  (after the Keras import check)

pytestmark = pytest.mark.tf


def keras_node_outputs(model: Any, name: str) -> list[tuple[int | None, ...]]:
    output = model.get_layer(name).output
    tensors = output if isinstance(output, list | tuple) else [output]
    return [tuple(t.shape[1:]) for t in tensors]


def assert_static_matches_keras(analysis: Analysis) -> None:
    assert analysis.resolved is not None and analysis.shapes is not None
    graph = analysis.resolved.graph
    model = build_model(graph)
    for node in graph.layers:
        static = analysis.shapes[node.name]
        assert static.checked and static.outputs is not None, node.name
        if node.shares is None:
            # A shared layer's `.output` is its first call's; later calls are checked by the
            # layers that read them.
            assert [tuple(s) for s in static.outputs] == keras_node_outputs(model, node.name)
            assert static.params == model.get_layer(node.name).count_params(), node.name
    assert total_params(analysis.shapes, graph) == model.count_params()


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_every_example_spec_matches_keras(spec: Path) -> None:
    analysis = analyze(spec)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    assert_static_matches_keras(analysis)


# -- drawn specs ----------------------------------------------------------------------------

small = st.integers(1, 6)


@st.composite
def layer_for(draw: st.DrawFn, rank: int) -> dict[str, Any]:
    """A layer plausible (not always valid) for an input of `rank` (batch excluded)."""
    options = ["Dense", "Dropout", "BatchNormalization", "Flatten", "LayerNormalization"]
    if rank == 2:
        options += ["Conv1D", "MaxPooling1D", "GlobalAveragePooling1D", "UpSampling1D", "LSTM"]
    if rank == 3:
        options += [
            "Conv2D",
            "MaxPooling2D",
            "AveragePooling2D",
            "UpSampling2D",
            "GlobalMaxPooling2D",
            "Cropping2D",
            "ZeroPadding2D",
            "SeparableConv2D",
        ]
    kind = draw(st.sampled_from(options))
    args: dict[str, Any] = {}
    if kind == "Dense":
        args = {"units": draw(small)}
    elif kind == "Dropout":
        args = {"rate": draw(st.sampled_from([0.0, 0.25, 0.5]))}
    elif kind in ("Conv1D", "Conv2D", "SeparableConv2D"):
        args = {"filters": draw(small), "kernel_size": draw(st.integers(1, 4))}
        args["padding"] = draw(st.sampled_from(["valid", "same"]))
        args["strides"] = draw(st.integers(1, 2))
    elif kind.startswith(("MaxPooling", "AveragePooling")):
        args = {"pool_size": draw(st.integers(1, 3))}
        args["padding"] = draw(st.sampled_from(["valid", "same"]))
    elif kind.startswith("UpSampling"):
        args = {"size": draw(st.integers(1, 3))}
    elif kind == "Cropping2D":
        args = {"cropping": draw(st.integers(0, 2))}
    elif kind == "ZeroPadding2D":
        args = {"padding": draw(st.integers(0, 2))}
    elif kind == "LSTM":
        args = {"units": draw(small), "return_sequences": draw(st.booleans())}
    return {kind: args}


def next_rank(layer: dict[str, Any], rank: int) -> int:
    ((kind, args),) = layer.items()
    if kind == "Flatten" or kind.startswith("Global"):
        return 1
    if kind == "LSTM" and not args["return_sequences"]:
        return 1
    return rank


@st.composite
def sequential_specs(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
    rank = len(shape)
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        layer = draw(layer_for(rank))
        layers.append(layer)
        rank = next_rank(layer, rank)
    return {"speck": 1, "name": "drawn", "model": {"input": shape, "layers": layers}}


def analyze_text(text: str) -> Analysis:
    from speck.checks.training import check

    analysis = Analysis("drawn.yaml")
    try:
        resolved = resolve(validate(load_text(text, "drawn.yaml")))
    except SpecError as exc:
        analysis.diagnostics = exc.diagnostics
        return analysis
    analysis.resolved = resolved
    analysis.shapes, analysis.diagnostics = check(resolved)
    return analysis


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(sequential_specs())
def test_drawn_specs_agree_with_keras(spec: dict[str, Any]) -> None:
    analysis = analyze_text(yaml.safe_dump(spec, sort_keys=False))
    if not analysis.ok:
        assert analysis.resolved is not None, [d.format() for d in analysis.diagnostics]
        with pytest.raises(Exception):  # noqa: B017  (Keras raises several types)
            build_model(analysis.resolved.graph)
        return
    assert_static_matches_keras(analysis)
