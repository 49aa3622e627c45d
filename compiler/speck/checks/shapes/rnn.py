"""Recurrent layers and their wrappers (keras/src/layers/rnn): SimpleRNN, LSTM, GRU,
Bidirectional and TimeDistributed (whose wrapped layer's own rule, from any family, applies
per time step)."""

from __future__ import annotations

from typing import Any

from speck.checks.shapes.base import (
    RULES,
    Args,
    LayerShapes,
    ShapeError,
    format_shape,
    infer_layer,
    known_dim,
    one_input,
    rule,
    single,
)
from speck.ir.graph import Shape

_RNN_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
_RNN_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}


@rule("SimpleRNN", "LSTM", "GRU")
def _rnn(a: Args, inputs: list[Shape]) -> LayerShapes:
    units = a.positive_int("units")
    x = one_input(a, inputs)
    if len(x) != 2:
        raise ShapeError(
            f"Input 0 of layer `{a.kind}` is incompatible with the layer: expected ndim=3 "
            f"(batch, timesteps, features), found ndim={len(x) + 1}. "
            f"Received: input shape {format_shape(x)}",
            fix="add a Reshape to (timesteps, features) before it"
            if len(x) < 2
            else "flatten the extra axes (Reshape or TimeDistributed(Flatten)) before it",
        )
    features = known_dim(a, x, -1, "feature dimension")
    gates = _RNN_GATES[a.kind]
    params = gates * units * (features + units)
    if a.flag("use_bias", True):
        bias = gates * units
        if a.kind == "GRU" and a.flag("reset_after", True):
            bias *= 2
        params += bias
    out: Shape = (x[0], units) if a.flag("return_sequences", False) else (units,)
    outputs: tuple[Shape, ...] = (out,)
    if a.flag("return_state", False):
        outputs += ((units,),) * _RNN_STATES[a.kind]
    return LayerShapes(outputs, params)


def _inner(a: Args) -> tuple[str, dict[str, Any]]:
    layer = a.required("layer")
    if not isinstance(layer, dict) or not isinstance(layer.get("kind"), str):
        raise ShapeError(
            f"`{a.kind}` expects `layer` to describe one layer. Received: layer={layer!r}",
            arg="layer",
        )
    inner_args = layer.get("args") or {}
    return layer["kind"], dict(inner_args)


@rule("Bidirectional")
def _bidirectional(a: Args, inputs: list[Shape]) -> LayerShapes | None:
    kind, inner_args = _inner(a)
    merge_mode = a.get("merge_mode", "concat")
    if merge_mode not in ("sum", "mul", "ave", "concat", None):
        raise ShapeError(
            "Invalid merge mode. Merge mode should be one of 'sum', 'mul', 'ave', 'concat', "
            f"None. Received: merge_mode={merge_mode!r}",
            arg="merge_mode",
        )
    if a.get("backward_layer") is not None:
        return None
    if kind not in _RNN_GATES:
        if kind not in RULES:
            return None
        raise ShapeError(
            f"`Bidirectional` wraps a recurrent layer (SimpleRNN, LSTM, GRU). Received: "
            f"layer={kind}",
            arg="layer",
        )
    try:
        inner = _rnn(Args(kind, inner_args), inputs)
    except ShapeError as err:
        raise ShapeError(f"In the wrapped {kind}: {err.message}", err.arg, err.fix) from None
    out, states = inner.outputs[0], inner.outputs[1:]
    if merge_mode == "concat":
        outs: tuple[Shape, ...] = ((*out[:-1], 2 * out[-1]),)  # type: ignore[operator]
    elif merge_mode is None:
        outs = (out, out)
    else:
        outs = (out,)
    return LayerShapes(outs + states + states, 2 * inner.params)


@rule("TimeDistributed")
def _time_distributed(a: Args, inputs: list[Shape]) -> LayerShapes | None:
    """Stricter than Keras' symbolic pass, which skips the wrapped layer's input-rank check
    (a wrapped pooling, recurrent or transposed-convolution layer of the wrong rank then fails
    only when it runs): here the inner rule checks it."""
    kind, inner_args = _inner(a)
    x = one_input(a, inputs)
    if len(x) < 2:
        raise ShapeError(
            "`TimeDistributed` needs inputs of rank 3 or more (batch, timesteps, ...). "
            f"Received: input shape {format_shape(x)}",
        )
    try:
        inner = infer_layer(kind, inner_args, [x[1:]])
    except ShapeError as err:
        raise ShapeError(f"In the wrapped {kind}: {err.message}", err.arg, err.fix) from None
    if inner is None:
        return None
    if len(inner.outputs) != 1:
        raise ShapeError(
            f"`TimeDistributed` wraps layers with one output; {kind} here has "
            f"{len(inner.outputs)}.",
            arg="layer",
        )
    return single((x[0], *inner.outputs[0]), inner.params)
