"""Preprocessing layers (keras/src/layers/preprocessing): Normalization, the lookups and
TextVectorization, Discretization, Rescaling, Resizing, CenterCrop and the random image
augmentations (which keep their input's shape)."""

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


@rule("StringLookup", "IntegerLookup", "TextVectorization", "Discretization")
def _lookup(a: Args, inputs: list[Shape]) -> LayerShapes | None:
    """StringLookup, IntegerLookup, TextVectorization and Discretization (no weights), as their
    `compute_output_shape` goes. An encoded output's width is the vocabulary's size: known from
    `max_tokens` with `pad_to_max_tokens`, or a vocabulary (or bins) in the spec; `None` where
    adapt decides it, as Keras has it when the model is built before adapting. None (not
    checked) for a vocabulary file and for Keras' batch-dropping scalar case."""
    x, mode = one_input(a, inputs), a.get("output_mode", "int")
    if a.kind == "TextVectorization" and mode == "int":
        return single((a.get("output_sequence_length"),))
    if mode == "int":
        return single(x)
    vocabulary, tokens = a.get("vocabulary"), a.get("max_tokens")
    if a.kind == "Discretization":
        bins = a.get("bin_boundaries")
        depth = len(bins) + 1 if isinstance(bins, list) else a.get("num_bins")
    elif a.flag("pad_to_max_tokens", False) and tokens is not None:
        depth = tokens
    elif isinstance(vocabulary, str) or (vocabulary is not None and a.get("mask_token")):
        return None
    else:  # the vocabulary plus one out-of-vocabulary index (TextVectorization has one)
        oov = 1 if a.kind == "TextVectorization" else a.get("num_oov_indices", 1)
        depth = None if vocabulary is None else len(vocabulary) + oov
    if a.kind == "TextVectorization" and a.get("split", "whitespace") is not None:
        x = (*x, None)  # the tokens of each string
    elif a.kind == "TextVectorization" and not x:
        x = (1,)
    if mode == "one_hot":
        return single((*x[:-1], depth) if x and x[-1] == 1 else (*x, depth))
    if not x:
        return None
    return single((*x[1:], depth) if a.kind == "Discretization" else (*x[:-1], depth))


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
