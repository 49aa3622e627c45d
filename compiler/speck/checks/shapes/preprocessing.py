"""Preprocessing layers (keras/src/layers/preprocessing): Normalization, Rescaling,
Resizing, CenterCrop and the random image augmentations (which keep their input's shape)."""

from __future__ import annotations

from typing import Any

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    ShapeError,
    expect_rank,
    format_shape,
    full_axis,
    join_channels,
    one_input,
    rule,
    single,
    split_channels,
)
from speck.ir.graph import Shape


@rule(
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
)
def _same_shape(a: Args, inputs: list[Shape]) -> LayerShapes:
    """Random augmentations keep their input's shape; no weights."""
    return single(one_input(a, inputs))


@rule("Normalization")
def _normalization(a: Args, inputs: list[Shape]) -> LayerShapes:
    """Keras' Normalization: non-trainable mean, variance (per kept axis) and a scalar count,
    unless `mean` and `variance` are given as constants (then no weights)."""
    axis = a.get("axis", -1)
    if axis is None:
        axes: list[Any] = []
    elif isinstance(axis, (list, tuple)):
        axes = list(axis)
    else:
        axes = [axis]
    x = one_input(a, inputs)
    full = (None, *x)
    size = 1
    for ax in axes:
        idx = full_axis(a, ax, len(full))
        if full[idx] is None:
            raise ShapeError(
                "All `axis` values to be kept must have a known shape. "
                f"Received: axis={axis!r}, input shape {format_shape(x)}",
                arg="axis",
            )
        size *= full[idx]  # type: ignore[operator]
    if a.get("mean") is not None or a.get("variance") is not None:
        return single(x, 0)
    return single(x, 2 * size + 1)


@rule("Rescaling")
def _rescaling(a: Args, inputs: list[Shape]) -> LayerShapes:
    a.required("scale")
    return single(one_input(a, inputs))


@rule("Resizing", "CenterCrop")
def _image_size(a: Args, inputs: list[Shape]) -> LayerShapes:
    """Resizing and CenterCrop. Stricter than Keras: the input must be a batch of images."""
    height = a.positive_int("height")
    width = a.positive_int("width")
    fmt = a.data_format()
    x = one_input(a, inputs)
    expect_rank(a, x, 4, "batch, height, width, channels")
    _, channels = split_channels(x, fmt)
    return single(join_channels((height, width), channels, fmt))
