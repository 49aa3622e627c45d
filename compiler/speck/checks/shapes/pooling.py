"""Pooling layers (keras/src/layers/pooling): MaxPooling/AveragePooling 1D/2D/3D and their
global forms, with the short aliases (MaxPool2D, GlobalAvgPool1D ...)."""

from __future__ import annotations

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    ShapeError,
    expect_rank,
    format_shape,
    join_channels,
    one_input,
    rule,
    single,
    split_channels,
)
from speck.ir.graph import Shape


@rule("MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D", rank=1)
@rule("MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", rank=2)
@rule("MaxPooling3D", "MaxPool3D", "AveragePooling3D", "AvgPool3D", rank=3)
def _pooling(a: Args, inputs: list[Shape], *, rank: int) -> LayerShapes:
    # Keras 3 gives MaxPooling a default window of 2 but AveragePooling none.
    average = a.kind.startswith("Av")
    pool = a.int_tuple("pool_size", rank) if average else a.int_tuple("pool_size", rank, 2)
    strides_arg = a.get("strides")
    strides = pool if strides_arg is None else a.int_tuple("strides", rank, allow_zero=True)
    if 0 in strides:
        raise ShapeError(
            f"`{a.kind}` cannot use a stride of 0. Received: strides={strides_arg!r}",
            arg="strides",
        )
    padding = a.padding(("valid", "same"), lower=False)
    fmt = a.data_format()
    x = one_input(a, inputs)
    expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
    spatial, channels = split_channels(x, fmt)
    out: list[int | None] = []
    for i, n in enumerate(spatial):
        if n is None:
            out.append(None)
        elif padding == "valid":
            size = (n - pool[i]) // strides[i] + 1
            if size <= 0:
                raise ShapeError(
                    f"`{a.kind}` with padding='valid' cannot fit a pooling window of "
                    f"{pool[i]} into an axis of size {n}, so its output would be empty. "
                    f"Received: pool_size={a.get('pool_size', 2)!r}, "
                    f"input shape {format_shape(x)}",
                    arg="pool_size",
                    fix=f"use padding: same, or a pool_size of at most {n}",
                )
            out.append(size)
        else:
            out.append((n - 1) // strides[i] + 1)
    return single(join_channels(out, channels, fmt))


@rule("GlobalMaxPooling1D", "GlobalMaxPool1D", rank=1)
@rule("GlobalAveragePooling1D", "GlobalAvgPool1D", rank=1)
@rule("GlobalMaxPooling2D", "GlobalMaxPool2D", rank=2)
@rule("GlobalAveragePooling2D", "GlobalAvgPool2D", rank=2)
@rule("GlobalMaxPooling3D", "GlobalMaxPool3D", rank=3)
@rule("GlobalAveragePooling3D", "GlobalAvgPool3D", rank=3)
def _global_pooling(a: Args, inputs: list[Shape], *, rank: int) -> LayerShapes:
    fmt = a.data_format()
    keepdims = a.flag("keepdims", False)
    x = one_input(a, inputs)
    expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
    _, channels = split_channels(x, fmt)
    if keepdims:
        return single(join_channels((1,) * rank, channels, fmt))
    return single((channels,))
