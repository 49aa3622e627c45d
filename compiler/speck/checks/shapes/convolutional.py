"""Convolution layers (keras/src/layers/convolutional): Conv1D/2D/3D (and their
Convolution* aliases), the transposed, separable and depthwise variants."""

from __future__ import annotations

import math

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    ShapeError,
    format_shape,
    join_channels,
    one_input,
    rule,
    single,
    split_channels,
)
from speck.ir.graph import Shape


def _conv_length(
    a: Args,
    n: int | None,
    k: int,
    s: int,
    d: int,
    padding: str,
    x: Shape,
    kernel_arg: str,
) -> int | None:
    if n is None:
        return None
    if padding == "valid":
        effective = d * (k - 1) + 1
        out = (n - effective) // s + 1
        if out <= 0:
            dilated = f" (dilated to {effective})" if d > 1 else ""
            raise ShapeError(
                f"`{a.kind}` with padding='valid' cannot fit its window of {k}{dilated} into "
                f"an axis of size {n}, so its output would be empty. "
                f"Received: {kernel_arg}={a.get(kernel_arg)!r}, input shape {format_shape(x)}",
                arg=kernel_arg,
                fix=f"use padding: same, or a {kernel_arg} of at most {n}"
                + (" (or a smaller dilation_rate)" if d > 1 else ""),
            )
        return out
    return (n - 1) // s + 1


@rule("Conv1D", "Convolution1D", rank=1, variant="conv")
@rule("Conv2D", "Convolution2D", rank=2, variant="conv")
@rule("Conv3D", "Convolution3D", rank=3, variant="conv")
@rule("Conv1DTranspose", rank=1, variant="transpose")
@rule("Conv2DTranspose", rank=2, variant="transpose")
@rule("Conv3DTranspose", rank=3, variant="transpose")
@rule("SeparableConv1D", rank=1, variant="separable")
@rule("SeparableConv2D", rank=2, variant="separable")
@rule("DepthwiseConv1D", rank=1, variant="depthwise")
@rule("DepthwiseConv2D", rank=2, variant="depthwise")
def _conv(a: Args, inputs: list[Shape], *, rank: int, variant: str) -> LayerShapes:
    """Conv{1,2,3}D, Conv*DTranspose, SeparableConv*D and DepthwiseConv*D (`variant`)."""
    filters = a.positive_int("filters") if variant != "depthwise" else 0
    kernel = a.int_tuple("kernel_size", rank)
    strides = a.int_tuple("strides", rank, 1)
    dilation = a.int_tuple("dilation_rate", rank, 1)
    allowed = ("valid", "same", "causal") if variant == "conv" and rank == 1 else ("valid", "same")
    padding = a.padding(allowed)
    fmt = a.data_format()
    groups = a.positive_int("groups", 1) if variant == "conv" else 1
    depth_multiplier = (
        a.positive_int("depth_multiplier", 1) if variant in ("depthwise", "separable") else 1
    )
    use_bias = a.flag("use_bias", True)
    if variant == "conv" and filters % groups:
        raise ShapeError(
            "The number of filters must be evenly divisible by the number of groups. "
            f"Received: groups={groups}, filters={filters}",
            arg="groups",
        )
    if variant in ("conv", "transpose") and max(strides) > 1 and max(dilation) > 1:
        raise ShapeError(
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            f"Received: strides={a.get('strides')!r} and "
            f"dilation_rate={a.get('dilation_rate')!r}",
            arg="dilation_rate",
            fix="use strides: 1 with a dilation_rate, or dilation_rate: 1 with strides",
        )
    output_padding: tuple[int, ...] | None = None
    if variant == "transpose" and a.get("output_padding") is not None:
        output_padding = a.int_tuple("output_padding", rank, allow_zero=True)
        for op, s in zip(output_padding, strides, strict=True):
            if op >= s:
                raise ShapeError(
                    "Each value in `output_padding` must be strictly less than the "
                    f"corresponding `strides` value. Received: "
                    f"output_padding={a.get('output_padding')!r}, "
                    f"strides={a.get('strides', 1)!r}",
                    arg="output_padding",
                )

    x = one_input(a, inputs)
    if len(x) != rank + 1:
        raise ShapeError(
            f"`{a.kind}` expects inputs of rank {rank + 2} (batch, {rank} spatial "
            f"dimension{'s' if rank > 1 else ''}, channels), found rank {len(x) + 1}. "
            f"Received: input shape {format_shape(x)}",
            fix="add a Reshape before it" if len(x) < rank + 1 else None,
        )
    spatial, channels = split_channels(x, fmt)
    if channels is None:
        raise ShapeError(
            f"`{a.kind}` needs the channel dimension of its input to be known. "
            f"Received: input shape {format_shape(x)} with data_format={fmt!r}",
            arg="data_format" if fmt == "channels_first" else None,
        )
    if channels % groups:
        raise ShapeError(
            "The number of input channels must be evenly divisible by the number of "
            f"groups. Received: groups={groups}, but the input has {channels} channels "
            f"(input shape {format_shape(x)})",
            arg="groups",
        )

    k_prod = math.prod(kernel)
    if variant == "transpose":
        out_spatial: list[int | None] = []
        for i, n in enumerate(spatial):
            op = None if output_padding is None else output_padding[i]
            out_spatial.append(
                _transpose_length(n, kernel[i], strides[i], padding, op, dilation[i])
            )
        params = k_prod * filters * channels + (filters if use_bias else 0)
        return single(join_channels(out_spatial, filters, fmt), params)

    out_spatial = [
        _conv_length(a, n, kernel[i], strides[i], dilation[i], padding, x, "kernel_size")
        for i, n in enumerate(spatial)
    ]
    if variant == "conv":
        params = k_prod * (channels // groups) * filters + (filters if use_bias else 0)
        out_channels = filters
    elif variant == "depthwise":
        out_channels = channels * depth_multiplier
        params = k_prod * out_channels + (out_channels if use_bias else 0)
    else:  # separable
        out_channels = filters
        params = (
            k_prod * channels * depth_multiplier
            + channels * depth_multiplier * filters
            + (filters if use_bias else 0)
        )
    return single(join_channels(out_spatial, out_channels, fmt), params)


def _transpose_length(
    n: int | None, k: int, s: int, padding: str, output_padding: int | None, d: int
) -> int | None:
    """keras `_get_output_shape_given_tf_padding`."""
    if n is None:
        return None
    k = (k - 1) * d + 1
    if padding == "valid":
        op = max(k, s) - k if output_padding is None else output_padding
        return (n - 1) * s + k + op
    if output_padding is None:
        return n * s
    return (n - 1) * s + k % 2 + output_padding
