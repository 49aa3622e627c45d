"""Reshaping layers (keras/src/layers/reshaping): Flatten, Reshape, Permute, RepeatVector,
UpSampling, Cropping and ZeroPadding 1D/2D/3D."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from speck.checks.shapes.base import (
    Args,
    LayerShapes,
    ShapeError,
    expect_rank,
    format_shape,
    input_free,
    int_tuple,
    join_channels,
    one_input,
    pairs,
    rule,
    single,
    split_channels,
)
from speck.ir.graph import Shape


def _prod(dims: Sequence[int | None]) -> int | None:
    return None if any(d is None for d in dims) else math.prod(d for d in dims if d is not None)


@rule("Flatten")
def _flatten(a: Args, inputs: list[Shape]) -> LayerShapes:
    a.data_format()
    x = one_input(a, inputs)
    if not x:
        return single((1,))
    return single((_prod(x),))


@rule("Reshape")
def _reshape(a: Args, inputs: list[Shape]) -> LayerShapes:
    target = _target_shape(a)
    x = one_input(a, inputs)
    return single(_reshape_output(a, x, target))


def _target_shape(a: Args) -> tuple[int, ...]:
    value = a.required("target_shape")
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in value
    ):
        raise ShapeError(
            f"`Reshape` expects `target_shape` to be a list of integers. "
            f"Received: target_shape={value!r}",
            arg="target_shape",
        )
    target = tuple(value)
    if any(d < -1 for d in target):
        raise ShapeError(
            "Each dimension in `target_shape` must be a non-negative integer, or `-1` for a "
            f"single unknown dimension. Received: target_shape={value!r}",
            arg="target_shape",
        )
    if target.count(-1) > 1:
        raise ShapeError(
            "There must be at most one unknown dimension (-1) in `target_shape`. "
            f"Received: target_shape={value!r}",
            arg="target_shape",
        )
    return target


@input_free("Reshape")
def _reshape_whatever_the_input(a: Args) -> LayerShapes | None:
    """A Reshape with no -1 has its target shape as output, known or not what comes in."""
    try:
        target = _target_shape(a)
    except ShapeError:
        return None
    return single(target) if -1 not in target else None


def _reshape_output(a: Args, x: Shape, target: tuple[int, ...]) -> Shape:
    if None in x:
        return tuple(None if d == -1 else d for d in target)
    size = math.prod(d for d in x if d is not None)
    if -1 not in target:
        if math.prod(target) != size:
            raise ShapeError(
                f"`Reshape` cannot turn {size} values into target_shape {list(target)} "
                f"({math.prod(target)} values): the total size must be unchanged. "
                f"Received: target_shape={list(target)!r}, input shape {format_shape(x)}",
                arg="target_shape",
                fix=f"pick dimensions that multiply to {size}, or write -1 for one of them",
            )
        return target
    known = math.prod(d for d in target if d != -1)
    if known == 0 or size % known:
        raise ShapeError(
            f"`Reshape` cannot infer the -1 in target_shape {list(target)}: {size} input "
            f"values are not divisible by {known}. "
            f"Received: target_shape={list(target)!r}, input shape {format_shape(x)}",
            arg="target_shape",
            fix=f"pick known dimensions whose product divides {size}",
        )
    return tuple(size // known if d == -1 else d for d in target)


@rule("Permute")
def _permute(a: Args, inputs: list[Shape]) -> LayerShapes:
    dims = a.required("dims")
    if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(dims) + 1)):
        raise ShapeError(
            "Invalid permutation argument `dims` for Permute Layer. The set of indices in "
            f"`dims` must be consecutive and start from 1. Received: dims={dims!r}",
            arg="dims",
        )
    x = one_input(a, inputs)
    if len(x) != len(dims):
        raise ShapeError(
            f"`Permute` with dims={list(dims)} expects inputs of rank {len(dims) + 1}, found "
            f"rank {len(x) + 1}. Received: input shape {format_shape(x)}",
            arg="dims",
        )
    return single(tuple(x[d - 1] for d in dims))


@rule("RepeatVector")
def _repeat_vector(a: Args, inputs: list[Shape]) -> LayerShapes:
    n = a.positive_int("n")
    x = one_input(a, inputs)
    expect_rank(a, x, 2, "batch, features")
    return single((n, x[0]))


@rule("UpSampling1D", rank=1)
@rule("UpSampling2D", rank=2)
@rule("UpSampling3D", rank=3)
def _upsampling(a: Args, inputs: list[Shape], *, rank: int) -> LayerShapes:
    if rank == 1:
        size: tuple[int, ...] = (a.positive_int("size", 2),)
        fmt = "channels_last"
    else:
        size = a.int_tuple("size", rank, 2)
        fmt = a.data_format()
    x = one_input(a, inputs)
    expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
    spatial, channels = split_channels(x, fmt)
    out = [None if n is None else n * s for n, s in zip(spatial, size, strict=True)]
    return single(join_channels(out, channels, fmt))


@rule("Cropping1D", rank=1)
@rule("Cropping2D", rank=2)
@rule("Cropping3D", rank=3)
def _cropping(a: Args, inputs: list[Shape], *, rank: int) -> LayerShapes:
    default: Any = {1: (1, 1), 2: ((0, 0), (0, 0)), 3: ((1, 1), (1, 1), (1, 1))}[rank]
    value = a.get("cropping", default)
    if rank == 1:
        crops: tuple[tuple[int, int], ...] = (
            tuple(int_tuple(a.kind, "cropping", value, 2, True)),  # type: ignore[assignment]
        )
        fmt = "channels_last"
    else:
        crops = pairs(a.kind, "cropping", value, rank)
        fmt = a.data_format()
    x = one_input(a, inputs)
    expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
    spatial, channels = split_channels(x, fmt)
    out: list[int | None] = []
    for n, (lo, hi) in zip(spatial, crops, strict=True):
        if n is None:
            out.append(None)
            continue
        if n - lo - hi <= 0:
            raise ShapeError(
                f"`{a.kind}` would crop {lo + hi} of {n} positions, leaving nothing. "
                f"Received: cropping={value!r}, input shape {format_shape(x)}",
                arg="cropping",
                fix=f"crop at most {n - 1} in total along that axis",
            )
        out.append(n - lo - hi)
    return single(join_channels(out, channels, fmt))


@rule("ZeroPadding1D", rank=1)
@rule("ZeroPadding2D", rank=2)
@rule("ZeroPadding3D", rank=3)
def _zero_padding(a: Args, inputs: list[Shape], *, rank: int) -> LayerShapes:
    default: Any = {1: 1, 2: (1, 1), 3: ((1, 1), (1, 1), (1, 1))}[rank]
    value = a.get("padding", default)
    if rank == 1:
        pads: tuple[tuple[int, int], ...] = (
            tuple(int_tuple(a.kind, "padding", value, 2, True)),  # type: ignore[assignment]
        )
    else:
        pads = pairs(a.kind, "padding", value, rank)
    fmt = a.data_format()
    x = one_input(a, inputs)
    expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
    spatial, channels = split_channels(x, fmt)
    out = [None if n is None else n + lo + hi for n, (lo, hi) in zip(spatial, pads, strict=True)]
    return single(join_channels(out, channels, fmt))
