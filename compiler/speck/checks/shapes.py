"""Static shape inference over the model graph, without TensorFlow.

`speck validate` runs this module to find the layers Keras would reject (a pooling window larger
than its input, a `Reshape` to an impossible size, a `Concatenate` of mismatched tensors) and to
count parameters, in milliseconds and without importing TensorFlow, Keras or NumPy.

Each rule mirrors the Keras 3 layer's `compute_output_shape` and `build` (weights it creates),
so the shapes and parameter counts here are those `keras.layers.<Kind>(**args)` gives when called
on symbolic inputs. Shapes never include the batch dimension; `None` is an unknown size. Where a
rule's error text names a Keras axis (`axis`, `dims`), that index counts the batch dimension, as
Keras does. A few rules are stricter than Keras' symbolic pass where Keras would only fail once
data flows (`Attention` with mismatched query and key sizes, `MultiHeadAttention` with query and
value of different rank, `Resizing`/`CenterCrop` on non-image inputs); the docstrings of those
rules say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from speck.ir.graph import KerasObject, LayerNode, ModelGraph, Ref, Shape

__all__ = [
    "LayerShapes",
    "NodeShape",
    "ShapeError",
    "ShapeProblem",
    "format_shape",
    "infer_graph",
    "infer_layer",
    "supported_kinds",
    "total_params",
]


class ShapeError(Exception):
    """A layer cannot accept its inputs.

    `arg` names the offending constructor argument when one is to blame (`pool_size`,
    `target_shape`), else None. `fix` is a short suggestion, when there is one.
    """

    def __init__(self, message: str, arg: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg
        self.fix = fix

    def __str__(self) -> str:
        return self.message if self.fix is None else f"{self.message} Fix: {self.fix}"


@dataclass(frozen=True)
class LayerShapes:
    """What one layer call produces: one shape per output tensor, and its weight count."""

    outputs: tuple[Shape, ...]
    params: int


@dataclass(frozen=True)
class NodeShape:
    """The inferred shapes of one graph node; `outputs` is None where they are unknown."""

    name: str
    kind: str
    outputs: tuple[Shape, ...] | None
    params: int | None
    checked: bool


@dataclass(frozen=True)
class ShapeProblem:
    """A shape error (or, with severity "note", a layer whose shapes were not checked)."""

    node: str
    arg: str | None
    message: str
    fix: str | None
    severity: Literal["error", "note"]


def format_shape(shape: Shape) -> str:
    """A batchless shape as Keras prints it, batch first: `(None, 28, 28, 1)`."""
    return repr((None, *shape))


# --------------------------------------------------------------------------------------------
# Argument helpers (mirroring keras.src.utils.argument_validation)


_MISSING = object()


class _Args:
    """Read a layer's spec arguments with Keras defaults; wrong values raise ShapeError."""

    def __init__(self, kind: str, args: dict[str, Any]) -> None:
        self.kind = kind
        self.args = args

    def get(self, name: str, default: Any = None) -> Any:
        value = self.args.get(name, default)
        return default if isinstance(value, KerasObject) else value

    def required(self, name: str) -> Any:
        value = self.args.get(name, _MISSING)
        if value is _MISSING or value is None:
            raise ShapeError(
                f"`{self.kind}` needs the argument `{name}`. Received: no {name}.",
                arg=name,
                fix=f"give {self.kind} a `{name}`",
            )
        return value

    def positive_int(self, name: str, default: Any = _MISSING) -> int:
        value = self.required(name) if default is _MISSING else self.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ShapeError(
                f"`{self.kind}` expects `{name}` to be a positive integer. "
                f"Received: {name}={value!r}",
                arg=name,
            )
        return value

    def flag(self, name: str, default: bool) -> bool:
        return bool(self.get(name, default))

    def int_tuple(
        self, name: str, n: int, default: Any = _MISSING, allow_zero: bool = False
    ) -> tuple[int, ...]:
        value = self.required(name) if default is _MISSING else self.get(name, default)
        return _int_tuple(self.kind, name, value, n, allow_zero)

    def data_format(self) -> str:
        value = self.get("data_format")
        if value is None:
            return "channels_last"
        fmt = str(value).lower()
        if fmt not in ("channels_last", "channels_first"):
            raise ShapeError(
                "The `data_format` argument must be one of 'channels_first', "
                f"'channels_last'. Received: data_format={value!r}",
                arg="data_format",
            )
        return fmt

    def padding(self, allowed: Sequence[str], lower: bool = True) -> str:
        value = self.get("padding", "valid")
        if not isinstance(value, str):
            raise ShapeError(
                f"`{self.kind}` expects `padding` to be one of {list(allowed)}. "
                f"Received: padding={value!r}",
                arg="padding",
            )
        padding = value.lower() if lower else value
        if padding not in allowed:
            fix = f"write padding: {value.lower()}" if value.lower() in allowed else None
            raise ShapeError(
                f"`{self.kind}` expects `padding` to be one of {list(allowed)}. "
                f"Received: padding={value!r}",
                arg="padding",
                fix=fix,
            )
        return padding


def _int_tuple(kind: str, name: str, value: Any, n: int, allow_zero: bool) -> tuple[int, ...]:
    """keras' `standardize_tuple`: an int or n ints, each > 0 (or >= 0)."""
    message = f"`{kind}` expects `{name}` to be an integer or a list of {n} integers"
    if isinstance(value, int) and not isinstance(value, bool):
        values: tuple[int, ...] = (value,) * n
    elif isinstance(value, (list, tuple)) and len(value) == n:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ShapeError(f"{message}. Received: {name}={value!r}", arg=name)
        values = tuple(value)
    else:
        raise ShapeError(f"{message}. Received: {name}={value!r}", arg=name)
    bad = [v for v in values if v < 0 or (v == 0 and not allow_zero)]
    if bad:
        bound = ">= 0" if allow_zero else "> 0"
        raise ShapeError(
            f"`{kind}` expects every value of `{name}` to be {bound}. Received: {name}={value!r}",
            arg=name,
        )
    return values


def _pairs(kind: str, name: str, value: Any, n: int) -> tuple[tuple[int, int], ...]:
    """Cropping/padding amounts: an int, n ints (symmetric) or n pairs, all >= 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ShapeError(f"`{name}` cannot be negative. Received: {name}={value}", arg=name)
        return ((value, value),) * n
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ShapeError(
            f"`{kind}` expects `{name}` to be an integer, {n} integers or {n} pairs of "
            f"integers. Received: {name}={value!r}",
            arg=name,
        )
    out: list[tuple[int, int]] = []
    for entry in value:
        a, b = _int_tuple(kind, name, entry, 2, allow_zero=True)
        out.append((a, b))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Small shape helpers


def _one_input(a: _Args, inputs: list[Shape]) -> Shape:
    if len(inputs) != 1:
        raise ShapeError(
            f"`{a.kind}` takes one input. Received: {len(inputs)} inputs "
            f"{[format_shape(s) for s in inputs]}.",
            fix="give the layer a single `from`",
        )
    return inputs[0]


def _expect_rank(a: _Args, shape: Shape, rank: int, what: str) -> None:
    """`rank` counts the batch dimension, as Keras' InputSpec(ndim=...) does."""
    if len(shape) + 1 != rank:
        raise ShapeError(
            f"Input 0 of layer `{a.kind}` is incompatible with the layer: expected ndim={rank} "
            f"({what}), found ndim={len(shape) + 1}. Received: input shape {format_shape(shape)}",
        )


def _known(a: _Args, shape: Shape, index: int, what: str) -> int:
    """A dimension (batchless index, may be negative) that must be known to build weights."""
    dim = shape[index]
    if dim is None:
        raise ShapeError(
            f"`{a.kind}` needs the {what} of its input to be known to create its weights. "
            f"Received: input shape {format_shape(shape)}",
        )
    return dim


def _prod(dims: Sequence[int | None]) -> int | None:
    return None if any(d is None for d in dims) else math.prod(d for d in dims if d is not None)


def _full_axis(a: _Args, axis: Any, rank: int, name: str = "axis") -> int:
    """Normalise a Keras axis (counting the batch dimension) for a tensor of `rank` with batch."""
    if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
        raise ShapeError(
            f"`{a.kind}`: {name} {axis!r} is out of bounds for an input of rank {rank} "
            f"(batch included). Received: {name}={axis!r}",
            arg=name,
        )
    return axis % rank


def _single(shape: Shape, params: int = 0) -> LayerShapes:
    return LayerShapes((tuple(shape),), params)


# --------------------------------------------------------------------------------------------
# Core layers


def _dense(a: _Args, inputs: list[Shape]) -> LayerShapes:
    units = a.positive_int("units")
    x = _one_input(a, inputs)
    if len(x) < 1:
        raise ShapeError(
            "Input 0 of layer `Dense` is incompatible with the layer: expected min_ndim=2, "
            f"found ndim=1. Received: input shape {format_shape(x)}",
            fix="add a Reshape or Embedding before it",
        )
    features = _known(a, x, -1, "last dimension")
    params = features * units + (units if a.flag("use_bias", True) else 0)
    return _single((*x[:-1], units), params)


def _embedding(a: _Args, inputs: list[Shape]) -> LayerShapes:
    input_dim = a.positive_int("input_dim")
    output_dim = a.positive_int("output_dim")
    x = _one_input(a, inputs)
    return _single((*x, output_dim), input_dim * output_dim)


def _identity(a: _Args, inputs: list[Shape]) -> LayerShapes:
    return _single(_one_input(a, inputs))


def _identity_rank(rank: int, what: str) -> Callable[[_Args, list[Shape]], LayerShapes]:
    def rule(a: _Args, inputs: list[Shape]) -> LayerShapes:
        x = _one_input(a, inputs)
        _expect_rank(a, x, rank, what)
        return _single(x)

    return rule


def _rescaling(a: _Args, inputs: list[Shape]) -> LayerShapes:
    a.required("scale")
    return _single(_one_input(a, inputs))


def _prelu(a: _Args, inputs: list[Shape]) -> LayerShapes:
    x = _one_input(a, inputs)
    shared = a.get("shared_axes")
    if shared is None:
        shared_axes: list[int] = []
    elif isinstance(shared, (list, tuple)):
        shared_axes = list(shared)
    else:
        shared_axes = [shared]
    dims: list[int | None] = list(x)
    for axis in shared_axes:
        if not isinstance(axis, int) or not 1 <= axis <= len(x):
            raise ShapeError(
                f"`PReLU`: shared axis {axis!r} is out of range for input shape "
                f"{format_shape(x)}. Received: shared_axes={shared!r}",
                arg="shared_axes",
            )
        dims[axis - 1] = 1
    if any(d is None for d in dims):
        raise ShapeError(
            "`PReLU` needs every non-shared dimension of its input to be known to create its "
            f"weights. Received: input shape {format_shape(x)}",
            arg="shared_axes",
            fix="share the unknown axes with `shared_axes`",
        )
    return _single(x, math.prod(d for d in dims if d is not None))


# --------------------------------------------------------------------------------------------
# Convolutions and pooling


def _conv_length(
    a: _Args,
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


def _spatial(x: Shape, fmt: str) -> tuple[Shape, int | None]:
    """Split a batchless shape into spatial dims and the channel dim."""
    if fmt == "channels_last":
        return x[:-1], x[-1]
    return x[1:], x[0]


def _join(spatial: Sequence[int | None], channels: int | None, fmt: str) -> Shape:
    if fmt == "channels_last":
        return (*spatial, channels)
    return (channels, *spatial)


def _conv(rank: int, variant: str) -> Callable[[_Args, list[Shape]], LayerShapes]:
    """Conv{1,2,3}D, Conv*DTranspose, SeparableConv*D and DepthwiseConv*D (`variant`)."""

    def rule(a: _Args, inputs: list[Shape]) -> LayerShapes:
        filters = a.positive_int("filters") if variant != "depthwise" else 0
        kernel = a.int_tuple("kernel_size", rank)
        strides = a.int_tuple("strides", rank, 1)
        dilation = a.int_tuple("dilation_rate", rank, 1)
        allowed = (
            ("valid", "same", "causal") if variant == "conv" and rank == 1 else ("valid", "same")
        )
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

        x = _one_input(a, inputs)
        if len(x) != rank + 1:
            raise ShapeError(
                f"`{a.kind}` expects inputs of rank {rank + 2} (batch, {rank} spatial "
                f"dimension{'s' if rank > 1 else ''}, channels), found rank {len(x) + 1}. "
                f"Received: input shape {format_shape(x)}",
                fix="add a Reshape before it" if len(x) < rank + 1 else None,
            )
        spatial, channels = _spatial(x, fmt)
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
            return _single(_join(out_spatial, filters, fmt), params)

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
        return _single(_join(out_spatial, out_channels, fmt), params)

    return rule


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


def _pooling(rank: int) -> Callable[[_Args, list[Shape]], LayerShapes]:
    def rule(a: _Args, inputs: list[Shape]) -> LayerShapes:
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
        x = _one_input(a, inputs)
        _expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
        spatial, channels = _spatial(x, fmt)
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
        return _single(_join(out, channels, fmt))

    return rule


def _global_pooling(rank: int) -> Callable[[_Args, list[Shape]], LayerShapes]:
    def rule(a: _Args, inputs: list[Shape]) -> LayerShapes:
        fmt = a.data_format()
        keepdims = a.flag("keepdims", False)
        x = _one_input(a, inputs)
        _expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
        _, channels = _spatial(x, fmt)
        if keepdims:
            return _single(_join((1,) * rank, channels, fmt))
        return _single((channels,))

    return rule


# --------------------------------------------------------------------------------------------
# Reshaping


def _flatten(a: _Args, inputs: list[Shape]) -> LayerShapes:
    a.data_format()
    x = _one_input(a, inputs)
    if not x:
        return _single((1,))
    return _single((_prod(x),))


def _reshape(a: _Args, inputs: list[Shape]) -> LayerShapes:
    target = _target_shape(a)
    x = _one_input(a, inputs)
    return _single(_reshape_output(a, x, target))


def _target_shape(a: _Args) -> tuple[int, ...]:
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


def _reshape_output(a: _Args, x: Shape, target: tuple[int, ...]) -> Shape:
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


def _permute(a: _Args, inputs: list[Shape]) -> LayerShapes:
    dims = a.required("dims")
    if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(dims) + 1)):
        raise ShapeError(
            "Invalid permutation argument `dims` for Permute Layer. The set of indices in "
            f"`dims` must be consecutive and start from 1. Received: dims={dims!r}",
            arg="dims",
        )
    x = _one_input(a, inputs)
    if len(x) != len(dims):
        raise ShapeError(
            f"`Permute` with dims={list(dims)} expects inputs of rank {len(dims) + 1}, found "
            f"rank {len(x) + 1}. Received: input shape {format_shape(x)}",
            arg="dims",
        )
    return _single(tuple(x[d - 1] for d in dims))


def _repeat_vector(a: _Args, inputs: list[Shape]) -> LayerShapes:
    n = a.positive_int("n")
    x = _one_input(a, inputs)
    _expect_rank(a, x, 2, "batch, features")
    return _single((n, x[0]))


def _upsampling(rank: int) -> Callable[[_Args, list[Shape]], LayerShapes]:
    def rule(a: _Args, inputs: list[Shape]) -> LayerShapes:
        if rank == 1:
            size: tuple[int, ...] = (a.positive_int("size", 2),)
            fmt = "channels_last"
        else:
            size = a.int_tuple("size", rank, 2)
            fmt = a.data_format()
        x = _one_input(a, inputs)
        _expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
        spatial, channels = _spatial(x, fmt)
        out = [None if n is None else n * s for n, s in zip(spatial, size, strict=True)]
        return _single(_join(out, channels, fmt))

    return rule


def _cropping(rank: int) -> Callable[[_Args, list[Shape]], LayerShapes]:
    default: Any = {1: (1, 1), 2: ((0, 0), (0, 0)), 3: ((1, 1), (1, 1), (1, 1))}[rank]

    def rule(a: _Args, inputs: list[Shape]) -> LayerShapes:
        value = a.get("cropping", default)
        if rank == 1:
            crops: tuple[tuple[int, int], ...] = (
                tuple(_int_tuple(a.kind, "cropping", value, 2, True)),  # type: ignore[assignment]
            )
            fmt = "channels_last"
        else:
            crops = _pairs(a.kind, "cropping", value, rank)
            fmt = a.data_format()
        x = _one_input(a, inputs)
        _expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
        spatial, channels = _spatial(x, fmt)
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
        return _single(_join(out, channels, fmt))

    return rule


def _zero_padding(rank: int) -> Callable[[_Args, list[Shape]], LayerShapes]:
    default: Any = {1: 1, 2: (1, 1), 3: ((1, 1), (1, 1), (1, 1))}[rank]

    def rule(a: _Args, inputs: list[Shape]) -> LayerShapes:
        value = a.get("padding", default)
        if rank == 1:
            pads: tuple[tuple[int, int], ...] = (
                tuple(_int_tuple(a.kind, "padding", value, 2, True)),  # type: ignore[assignment]
            )
        else:
            pads = _pairs(a.kind, "padding", value, rank)
        fmt = a.data_format()
        x = _one_input(a, inputs)
        _expect_rank(a, x, rank + 2, f"batch, {rank} spatial, channels")
        spatial, channels = _spatial(x, fmt)
        out = [
            None if n is None else n + lo + hi for n, (lo, hi) in zip(spatial, pads, strict=True)
        ]
        return _single(_join(out, channels, fmt))

    return rule


def _image_size(a: _Args, inputs: list[Shape]) -> LayerShapes:
    """Resizing and CenterCrop. Stricter than Keras: the input must be a batch of images."""
    height = a.positive_int("height")
    width = a.positive_int("width")
    fmt = a.data_format()
    x = _one_input(a, inputs)
    _expect_rank(a, x, 4, "batch, height, width, channels")
    _, channels = _spatial(x, fmt)
    return _single(_join((height, width), channels, fmt))


# --------------------------------------------------------------------------------------------
# Merging


def _need_inputs(a: _Args, inputs: list[Shape], least: int, most: int | None = None) -> None:
    if len(inputs) < least or (most is not None and len(inputs) > most):
        want = str(least) if most == least else f"at least {least}"
        if most is not None and most != least:
            want = f"{least} to {most}"
        raise ShapeError(
            f"`{a.kind}` takes {want} inputs. Received: {len(inputs)} input"
            f"{'' if len(inputs) == 1 else 's'}.",
        )


def _broadcast(a: _Args, s1: Shape, s2: Shape) -> Shape:
    """keras Merge._compute_elemwise_op_output_shape (right-aligned, 1 broadcasts)."""
    if len(s1) < len(s2):
        s1, s2 = s2, s1
    if not s2:
        return s1
    out: list[int | None] = list(s1[: -len(s2)])
    for i, j in zip(s1[-len(s2) :], s2, strict=True):
        if i is None or j is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise ShapeError(
                f"`{a.kind}` inputs have incompatible shapes: {format_shape(s1)} and "
                f"{format_shape(s2)} differ ({i} against {j}) and neither is 1. "
                f"Received: input shapes {format_shape(s1)}, {format_shape(s2)}",
                fix="make the inputs the same shape (a Dense or Reshape before one of them)",
            )
    return tuple(out)


def _elementwise(a: _Args, inputs: list[Shape]) -> LayerShapes:
    if a.kind == "Subtract":
        _need_inputs(a, inputs, 2, 2)
    else:
        _need_inputs(a, inputs, 1)
    out = inputs[0]
    for shape in inputs[1:]:
        out = _broadcast(a, out, shape)
    return _single(out)


def _concatenate(a: _Args, inputs: list[Shape]) -> LayerShapes:
    axis = a.get("axis", -1)
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ShapeError(f"`Concatenate` expects an integer axis. Received: axis={axis!r}", "axis")
    _need_inputs(a, inputs, 1)
    fulls = [(None, *s) for s in inputs]
    reduced: list[tuple[int | None, ...]] = []
    for full in fulls:
        rank = len(full)
        if not -rank <= axis < rank:
            raise ShapeError(
                f"`Concatenate` axis {axis} is out of bounds for an input of rank {rank} "
                f"(batch included). Received: axis={axis}, input shape {format_shape(full[1:])}",
                arg="axis",
            )
        rest = list(full)
        del rest[axis]
        reduced.append(tuple(rest))
    if len({len(r) for r in reduced}) != 1 or any(
        len({r[i] for r in reduced} - {None}) > 1 for i in range(len(reduced[0]))
    ):
        shapes = ", ".join(format_shape(s) for s in inputs)
        raise ShapeError(
            "A `Concatenate` layer requires inputs with matching shapes except for the "
            f"concatenation axis (axis={axis}). Received: input shapes {shapes}",
            arg="axis" if "axis" in a.args and len({len(s) for s in inputs}) == 1 else None,
            fix=f"make the inputs agree on every axis except axis {axis}",
        )
    out = list(fulls[0])
    for full in fulls[1:]:
        if out[axis] is None or full[axis] is None:
            out[axis] = None
            break
        out[axis] += full[axis]  # type: ignore[operator]
    return _single(tuple(out[1:]))


def _dot(a: _Args, inputs: list[Shape]) -> LayerShapes:
    axes = a.required("axes")
    if isinstance(axes, int) and not isinstance(axes, bool):
        pair = None
    elif (
        isinstance(axes, (list, tuple))
        and len(axes) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in axes)
    ):
        pair = (axes[0], axes[1])
    else:
        raise ShapeError(
            f"`Dot` expects `axes` to be an integer or two integers. Received: axes={axes!r}",
            arg="axes",
        )
    _need_inputs(a, inputs, 2, 2)
    s1, s2 = [list((None, *s)) for s in inputs]
    if pair is None:
        pair = (axes % len(s1), axes % len(s2)) if axes < 0 else (axes, axes)
    for ax, s in zip(pair, (s1, s2), strict=True):
        if not -len(s) <= ax < len(s):
            raise ShapeError(
                f"`Dot` axis {ax} is out of bounds for an input of rank {len(s)} (batch "
                f"included). Received: axes={axes!r}",
                arg="axes",
            )
    if s1[pair[0]] != s2[pair[1]]:
        raise ShapeError(
            f"`Dot` needs equal sizes on the contracted axes: {s1[pair[0]]} (axis {pair[0]}) "
            f"!= {s2[pair[1]]} (axis {pair[1]}). Received: input shapes "
            f"{format_shape(inputs[0])}, {format_shape(inputs[1])}",
            arg="axes",
        )
    s1.pop(pair[0])
    s2.pop(pair[1])
    s2.pop(0)
    out = s1 + s2
    if len(out) == 1:
        out.append(1)
    return _single(tuple(out[1:]))


# --------------------------------------------------------------------------------------------
# Normalization


def _batch_norm(a: _Args, inputs: list[Shape]) -> LayerShapes:
    axis = a.get("axis", -1)
    x = _one_input(a, inputs)
    full = (None, *x)
    ax = _full_axis(a, axis, len(full))
    if ax == 0:
        raise ShapeError(
            "`BatchNormalization` cannot normalize over the batch axis. Received: axis=0",
            arg="axis",
        )
    c = _known(a, x, ax - 1, f"axis {axis}")
    weights = (a.flag("scale", True) + a.flag("center", True) + 2) * c
    if a.flag("renorm", False):
        weights += 3 * c
    return _single(x, weights)


def _layer_norm(a: _Args, inputs: list[Shape]) -> LayerShapes:
    axis = a.get("axis", -1)
    x = _one_input(a, inputs)
    full = (None, *x)
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    count = int(a.flag("scale", True)) + int(a.flag("center", True))
    size = 1
    for ax in axes:
        idx = _full_axis(a, ax, len(full))
        if count == 0:  # no weights, so any axis size will do
            continue
        if idx == 0:
            raise ShapeError(
                "`LayerNormalization` cannot take weights over the batch axis. "
                f"Received: axis={axis!r}",
                arg="axis",
            )
        size *= _known(a, x, idx - 1, f"axis {ax}")
    return _single(x, count * size)


def _group_norm(a: _Args, inputs: list[Shape]) -> LayerShapes:
    groups = a.get("groups", 32)
    if not isinstance(groups, int) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
        raise ShapeError(
            "`GroupNormalization` expects `groups` to be a positive integer (or -1). "
            f"Received: groups={groups!r}",
            arg="groups",
        )
    axis = a.get("axis", -1)
    x = _one_input(a, inputs)
    full = (None, *x)
    idx = _full_axis(a, axis, len(full))
    if idx == 0:
        raise ShapeError("`GroupNormalization` cannot use the batch axis.", arg="axis")
    dim = _known(a, x, idx - 1, f"axis {axis}")
    g = dim if groups == -1 else groups
    if dim < g or dim % g:
        raise ShapeError(
            f"`GroupNormalization` needs the {dim} channels on axis {axis} to split evenly "
            f"into {g} groups. Received: groups={groups}, input shape {format_shape(x)}",
            arg="groups",
            fix="use a number of groups that divides the channel count",
        )
    count = int(a.flag("scale", True)) + int(a.flag("center", True))
    return _single(x, count * dim)


def _normalization(a: _Args, inputs: list[Shape]) -> LayerShapes:
    """Keras' Normalization: non-trainable mean, variance (per kept axis) and a scalar count,
    unless `mean` and `variance` are given as constants (then no weights)."""
    axis = a.get("axis", -1)
    if axis is None:
        axes: list[Any] = []
    elif isinstance(axis, (list, tuple)):
        axes = list(axis)
    else:
        axes = [axis]
    x = _one_input(a, inputs)
    full = (None, *x)
    size = 1
    for ax in axes:
        idx = _full_axis(a, ax, len(full))
        if full[idx] is None:
            raise ShapeError(
                "All `axis` values to be kept must have a known shape. "
                f"Received: axis={axis!r}, input shape {format_shape(x)}",
                arg="axis",
            )
        size *= full[idx]  # type: ignore[operator]
    if a.get("mean") is not None or a.get("variance") is not None:
        return _single(x, 0)
    return _single(x, 2 * size + 1)


# --------------------------------------------------------------------------------------------
# Recurrent layers and wrappers

_RNN_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
_RNN_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}


def _rnn(a: _Args, inputs: list[Shape]) -> LayerShapes:
    units = a.positive_int("units")
    x = _one_input(a, inputs)
    if len(x) != 2:
        raise ShapeError(
            f"Input 0 of layer `{a.kind}` is incompatible with the layer: expected ndim=3 "
            f"(batch, timesteps, features), found ndim={len(x) + 1}. "
            f"Received: input shape {format_shape(x)}",
            fix="add a Reshape to (timesteps, features) before it"
            if len(x) < 2
            else "flatten the extra axes (Reshape or TimeDistributed(Flatten)) before it",
        )
    features = _known(a, x, -1, "feature dimension")
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


def _inner(a: _Args) -> tuple[str, dict[str, Any]]:
    layer = a.required("layer")
    if not isinstance(layer, dict) or not isinstance(layer.get("kind"), str):
        raise ShapeError(
            f"`{a.kind}` expects `layer` to describe one layer. Received: layer={layer!r}",
            arg="layer",
        )
    inner_args = layer.get("args") or {}
    return layer["kind"], dict(inner_args)


def _bidirectional(a: _Args, inputs: list[Shape]) -> LayerShapes | None:
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
        rule = _RULES.get(kind)
        if rule is None:
            return None
        raise ShapeError(
            f"`Bidirectional` wraps a recurrent layer (SimpleRNN, LSTM, GRU). Received: "
            f"layer={kind}",
            arg="layer",
        )
    try:
        inner = _rnn(_Args(kind, inner_args), inputs)
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


def _time_distributed(a: _Args, inputs: list[Shape]) -> LayerShapes | None:
    """Stricter than Keras' symbolic pass, which skips the wrapped layer's input-rank check
    (a wrapped pooling, recurrent or transposed-convolution layer of the wrong rank then fails
    only when it runs): here the inner rule checks it."""
    kind, inner_args = _inner(a)
    x = _one_input(a, inputs)
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
    return _single((x[0], *inner.outputs[0]), inner.params)


# --------------------------------------------------------------------------------------------
# Attention


def _attention(a: _Args, inputs: list[Shape]) -> LayerShapes:
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
    _need_inputs(a, inputs, 2, 3)
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
            params = _known(a, query, -1, "last dimension")
    else:
        params = int(a.flag("use_scale", False)) + int(score_mode == "concat")
    return _single((*query[:-1], value[-1]), params)


def _multi_head_attention(a: _Args, inputs: list[Shape]) -> LayerShapes:
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
    _need_inputs(a, inputs, 2, 3)
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
    dq = _known(a, query, -1, "last dimension (query)")
    dk = _known(a, key, -1, "last dimension (key)")
    dv = _known(a, value, -1, "last dimension (value)")
    out_dims: tuple[int, ...] = output_shape if output_shape else (dq,)

    def proj(d_in: int, d_head: int) -> int:
        return d_in * heads * d_head + (heads * d_head if use_bias else 0)

    params = proj(dq, key_dim) + proj(dk, key_dim) + proj(dv, value_dim)
    if a.flag("use_gate", False):
        params += proj(dq, value_dim)
    out_size = math.prod(out_dims)
    params += heads * value_dim * out_size + (out_size if use_bias else 0)
    out = (*query[:-1], *output_shape) if output_shape else query
    return _single(out, params)


# --------------------------------------------------------------------------------------------
# The rule table

Rule = Callable[[_Args, list[Shape]], "LayerShapes | None"]

_RULES: dict[str, Rule] = {
    "Dense": _dense,
    "Embedding": _embedding,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Permute": _permute,
    "RepeatVector": _repeat_vector,
    "Concatenate": _concatenate,
    "Dot": _dot,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "GroupNormalization": _group_norm,
    "Normalization": _normalization,
    "Rescaling": _rescaling,
    "PReLU": _prelu,
    "Resizing": _image_size,
    "CenterCrop": _image_size,
    "Bidirectional": _bidirectional,
    "TimeDistributed": _time_distributed,
    "Attention": _attention,
    "AdditiveAttention": _attention,
    "MultiHeadAttention": _multi_head_attention,
}
for _kind in ("SimpleRNN", "LSTM", "GRU"):
    _RULES[_kind] = _rnn
for _kind in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
    _RULES[_kind] = _elementwise
for _kind in ("add", "subtract", "multiply", "divide", "maximum", "minimum"):
    _RULES[f"ops.{_kind}"] = _elementwise  # keras.ops on tensors broadcast like the layers
for _kind in (
    "Dropout",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Activation",
    "Softmax",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Identity",
    "Masking",
    "UnitNormalization",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
):
    _RULES[_kind] = _identity
for _r in (1, 2, 3):
    _RULES[f"SpatialDropout{_r}D"] = _identity_rank(_r + 2, f"batch, {_r} spatial, channels")
    _RULES[f"Conv{_r}D"] = _conv(_r, "conv")
    _RULES[f"Conv{_r}DTranspose"] = _conv(_r, "transpose")
    _RULES[f"MaxPooling{_r}D"] = _pooling(_r)
    _RULES[f"AveragePooling{_r}D"] = _pooling(_r)
    _RULES[f"MaxPool{_r}D"] = _pooling(_r)
    _RULES[f"AvgPool{_r}D"] = _pooling(_r)
    _RULES[f"GlobalMaxPooling{_r}D"] = _global_pooling(_r)
    _RULES[f"GlobalAveragePooling{_r}D"] = _global_pooling(_r)
    _RULES[f"GlobalMaxPool{_r}D"] = _global_pooling(_r)
    _RULES[f"GlobalAvgPool{_r}D"] = _global_pooling(_r)
    _RULES[f"UpSampling{_r}D"] = _upsampling(_r)
    _RULES[f"Cropping{_r}D"] = _cropping(_r)
    _RULES[f"ZeroPadding{_r}D"] = _zero_padding(_r)
for _r in (1, 2):
    _RULES[f"SeparableConv{_r}D"] = _conv(_r, "separable")
    _RULES[f"DepthwiseConv{_r}D"] = _conv(_r, "depthwise")
_RULES["Convolution1D"] = _RULES["Conv1D"]
_RULES["Convolution2D"] = _RULES["Conv2D"]
_RULES["Convolution3D"] = _RULES["Conv3D"]


def supported_kinds() -> frozenset[str]:
    """The layer class names that have a shape rule."""
    return frozenset(_RULES)


def infer_layer(kind: str, args: dict[str, Any], inputs: list[Shape]) -> LayerShapes | None:
    """Output shapes and parameter count of Keras layer `kind` built with `args` on `inputs`.

    `args` holds only the arguments the spec gave (Keras 3 defaults fill in the rest); `inputs`
    are batchless shapes. Returns None when there is no rule for `kind`. Raises ShapeError when
    Keras would reject the layer on these inputs.
    """
    rule = _RULES.get(kind)
    if rule is None:
        return None
    return rule(_Args(kind, args), [tuple(s) for s in inputs])


# --------------------------------------------------------------------------------------------
# The whole graph


def _note(node: LayerNode) -> ShapeProblem:
    return ShapeProblem(
        node=node.name,
        arg=None,
        message=f"shape not checked: speck has no shape rule for `{node.kind}`; "
        "shapes after it are checked again where they do not depend on it",
        fix=None,
        severity="note",
    )


def _resolve_ref(ref: Ref, shapes: dict[str, NodeShape]) -> tuple[Shape | None, ShapeError | None]:
    source = shapes.get(ref.node)
    if source is None:
        return None, ShapeError(f"`{ref}` names no earlier node.")
    if source.outputs is None:
        return None, None
    if ref.index is None:
        if len(source.outputs) != 1:
            return None, ShapeError(
                f"`{ref.node}` has {len(source.outputs)} outputs; pick one. "
                f"Received: from {ref.node}",
                fix=f"write {ref.node}[0] (or another index below {len(source.outputs)})",
            )
        return source.outputs[0], None
    if not 0 <= ref.index < len(source.outputs):
        return None, ShapeError(
            f"`{ref.node}` has {len(source.outputs)} output"
            f"{'' if len(source.outputs) == 1 else 's'}. Received: from {ref}",
            fix=f"use an index below {len(source.outputs)}",
        )
    return source.outputs[ref.index], None


def _input_free(node: LayerNode) -> LayerShapes | None:
    """Outputs of a layer whose result does not depend on its (unknown) input shape."""
    if node.kind == "Reshape":
        try:
            target = _target_shape(_Args(node.kind, node.args))
        except ShapeError:
            return None
        if -1 not in target:
            return _single(target)
    return None


def infer_graph(graph: ModelGraph) -> tuple[dict[str, NodeShape], list[ShapeProblem]]:
    """Infer every node's shapes in graph order, collecting errors and "not checked" notes.

    A layer without a rule gets a note and unknown outputs; layers reading unknown shapes get
    unknown outputs too (no further message), except where the output does not depend on the
    input (a `Reshape` with no -1). A layer that reuses another's weights (`shares`) must
    produce the same weight count on its own inputs.
    """
    shapes: dict[str, NodeShape] = {}
    problems: list[ShapeProblem] = []
    for inp in graph.inputs:
        shapes[inp.name] = NodeShape(inp.name, "Input", (tuple(inp.shape),), 0, True)
    for node in graph.layers:
        in_shapes: list[Shape] = []
        unknown = False
        error: ShapeError | None = None
        for ref in node.inputs:
            shape, err = _resolve_ref(ref, shapes)
            if err is not None:
                error = err
                break
            if shape is None:
                unknown = True
            else:
                in_shapes.append(shape)
        if error is not None:
            problems.append(ShapeProblem(node.name, error.arg, error.message, error.fix, "error"))
            shapes[node.name] = NodeShape(node.name, node.kind, None, None, True)
            continue
        sub = graph.submodels.get(node.kind)
        if sub is not None:  # a model used as a layer: its own graph, on its own inputs
            shapes[node.name] = _submodel_shapes(node.name, sub)
            continue
        known = KERAS_CUSTOM_RULES.get(graph.custom_layers.get(node.kind, ""))
        if known is not None and not unknown and len(in_shapes) == 1:
            result = known(node.args, in_shapes[0])
            shapes[node.name] = NodeShape(node.name, node.kind, result.outputs, result.params, True)
            continue
        if node.kind not in _RULES:
            problems.append(_note(node))
            shapes[node.name] = NodeShape(node.name, node.kind, None, None, False)
            continue
        if unknown:
            free = _input_free(node)
            outputs = None if free is None else free.outputs
            shapes[node.name] = NodeShape(node.name, node.kind, outputs, None, True)
            continue
        try:
            result = infer_layer(node.kind, node.args, in_shapes)
        except ShapeError as err:
            problems.append(ShapeProblem(node.name, err.arg, err.message, err.fix, "error"))
            shapes[node.name] = NodeShape(node.name, node.kind, None, None, True)
            continue
        if result is None:  # a wrapper around a layer without a rule
            problems.append(_note(node))
            shapes[node.name] = NodeShape(node.name, node.kind, None, None, False)
            continue
        if node.shares is not None:
            owner = shapes.get(node.shares)
            if owner is not None and owner.params is not None and owner.params != result.params:
                problems.append(
                    ShapeProblem(
                        node.name,
                        None,
                        f"`{node.name}` reuses the weights of `{node.shares}`, but on these "
                        f"inputs it would need {result.params} weights, not "
                        f"{owner.params}. Received: input shapes "
                        f"{', '.join(format_shape(s) for s in in_shapes)}",
                        "give the shared layer inputs of the same feature size",
                        "error",
                    )
                )
                shapes[node.name] = NodeShape(node.name, node.kind, None, None, True)
                continue
        shapes[node.name] = NodeShape(node.name, node.kind, result.outputs, result.params, True)
    return shapes, problems


def _layer_scale(args: dict[str, Any], shape: Shape) -> LayerShapes:
    """ConvNeXt's `LayerScale`: the input times a learned vector of `projection_dim` values."""
    dim = args.get("projection_dim")
    return _single(shape, dim if isinstance(dim, int) and not isinstance(dim, bool) else 0)


KERAS_CUSTOM_RULES: dict[str, Callable[[dict[str, Any], Shape], LayerShapes]] = {
    "keras.src.applications.convnext:LayerScale": _layer_scale,
}
"""Shape rules of layers Keras' applications define without exporting them, by import path
(a spec names them under `custom_layers`, by a type name of its choosing)."""


def _submodel_shapes(name: str, sub: ModelGraph) -> NodeShape:
    """A sub-model node's outputs and weights, inferred over the sub-model's own graph (its
    own problems are reported where it is defined)."""
    inner, _ = infer_graph(sub)
    outputs: list[Shape] = []
    for ref in sub.outputs:
        shape, error = _resolve_ref(ref, inner)
        if shape is None or error is not None:
            return NodeShape(name, sub.name, None, total_params(inner, sub), True)
        outputs.append(shape)
    return NodeShape(name, sub.name, tuple(outputs), total_params(inner, sub), True)


def total_params(shapes: dict[str, NodeShape], graph: ModelGraph) -> int | None:
    """The model's parameter count as Keras' `model.count_params()` gives it: shared layers
    counted once. None when any layer's count is unknown."""
    total = 0
    for node in graph.layers:
        if node.shares is not None:
            continue
        shape = shapes.get(node.name)
        if shape is None or shape.params is None:
            return None
        total += shape.params
    return total
