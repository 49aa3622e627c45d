"""Attention layers (keras/src/layers/attention): Attention, AdditiveAttention and
MultiHeadAttention on [query, value(, key)]."""

from __future__ import annotations

import math

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    ShapeError,
    format_shape,
    known_dim,
    need_inputs,
    rule,
    single,
)
from speck.ir.graph import Shape


@rule("Attention", "AdditiveAttention")
def _attention(a: Args, inputs: list[Shape]) -> LayerShapes:
    """Attention and AdditiveAttention on [query, value(, key)].

    Stricter than Keras' symbolic pass (which checks nothing): query and key must agree on
    their last size and key and value on their time axis, as the layer needs when it runs.
    """
    additive = a.kind == "AdditiveAttention"
    score_mode = a.get("score_mode", "dot")
    if score_mode not in ("dot", "concat"):
        raise ShapeError(
            "Invalid value for argument score_mode. Expected one of 'dot', 'concat'. "
            f"Received: score_mode={score_mode!r}",
            arg="score_mode",
        )
    need_inputs(a, inputs, 2, 3)
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    if len({len(query), len(value), len(key)}) != 1 or len(query) < 2:
        raise ShapeError(
            f"`{a.kind}` needs query, value and key of the same rank, at least 3 "
            "(batch, steps, features). Received: "
            f"query {format_shape(query)}, value {format_shape(value)}, key {format_shape(key)}",
        )

    def clash(x: int | None, y: int | None) -> bool:
        return x is not None and y is not None and x != y

    if clash(query[-1], key[-1]):
        raise ShapeError(
            f"`{a.kind}` scores the query against the key, so their last dimensions must be "
            f"equal: {query[-1]} != {key[-1]}. Received: query {format_shape(query)}, "
            f"key {format_shape(key)}",
            fix="project both to the same size with a Dense",
        )
    if clash(key[-2], value[-2]):
        raise ShapeError(
            f"`{a.kind}` needs key and value with the same number of steps: {key[-2]} != "
            f"{value[-2]}. Received: value {format_shape(value)}, key {format_shape(key)}",
        )
    params = 0
    if additive:
        if a.flag("use_scale", True):
            params = known_dim(a, query, -1, "last dimension")
    else:
        params = int(a.flag("use_scale", False)) + int(score_mode == "concat")
    return single((*query[:-1], value[-1]), params)


@rule("MultiHeadAttention")
def _multi_head_attention(a: Args, inputs: list[Shape]) -> LayerShapes:
    """MultiHeadAttention on [query, value(, key)].

    Stricter than Keras' symbolic pass: query and value must have the same rank.
    """
    heads = a.positive_int("num_heads")
    key_dim = a.positive_int("key_dim")
    value_dim = a.get("value_dim")
    value_dim = key_dim if value_dim is None else a.positive_int("value_dim")
    output_shape = a.get("output_shape")
    if isinstance(output_shape, int) and not isinstance(output_shape, bool):
        output_shape = (output_shape,)
    elif output_shape is not None:
        if not isinstance(output_shape, (list, tuple)) or not all(
            isinstance(d, int) and d > 0 for d in output_shape
        ):
            raise ShapeError(
                "`MultiHeadAttention` expects `output_shape` to be an integer or a list of "
                f"integers. Received: output_shape={output_shape!r}",
                arg="output_shape",
            )
        output_shape = tuple(output_shape)
    use_bias = a.flag("use_bias", True)
    need_inputs(a, inputs, 2, 3)
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    if value[:-1] != key[:-1]:
        raise ShapeError(
            "All dimensions of `value` and `key`, except the last one, must be equal. "
            f"Received: value {format_shape(value)}, key {format_shape(key)}",
        )
    if len(query) != len(value) or len(query) < 2:
        raise ShapeError(
            "`MultiHeadAttention` needs query and value of the same rank, at least 3 "
            f"(batch, steps, features). Received: query {format_shape(query)}, "
            f"value {format_shape(value)}",
        )
    dq = known_dim(a, query, -1, "last dimension (query)")
    dk = known_dim(a, key, -1, "last dimension (key)")
    dv = known_dim(a, value, -1, "last dimension (value)")
    out_dims: tuple[int, ...] = output_shape if output_shape else (dq,)

    def proj(d_in: int, d_head: int) -> int:
        return d_in * heads * d_head + (heads * d_head if use_bias else 0)

    params = proj(dq, key_dim) + proj(dk, key_dim) + proj(dv, value_dim)
    if a.flag("use_gate", False):
        params += proj(dq, value_dim)
    out_size = math.prod(out_dims)
    params += heads * value_dim * out_size + (out_size if use_bias else 0)
    out = (*query[:-1], *output_shape) if output_shape else query
    return single(out, params)
